import { BadRequestException, StandardSchemaValidationPipe } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { z } from 'zod';

/**
 * Zod's default words, said the way the rest of the API says things (`name: is required`,
 * `label: must be at most 200 characters`, `unknown field "encrypt"`). A schema's own message
 * still wins over these.
 */
z.config({
  customError: (issue) => {
    switch (issue.code) {
      case 'unrecognized_keys':
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
      case 'invalid_type':
        return issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}`;
      case 'too_small':
      case 'too_big':
        return `must be ${issue.code === 'too_small' ? 'at least' : 'at most'} ${String(issue.code === 'too_small' ? issue.minimum : issue.maximum)}${unitOf(issue.origin)}`;
      case 'invalid_value':
        return `must be one of ${issue.values.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join(', ')}`;
      default:
        return undefined;
    }
  },
});

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function unitOf(origin: string): string {
  if (origin === 'string') return ' characters';
  if (origin === 'array' || origin === 'set') return ' items';
  return '';
}

/**
 * Request validation, in one voice: Nest's own Standard Schema pipe checks every `@Body`,
 * `@Query` and `@Param` that declares `{ schema }` (zod schemas are Standard Schemas), and a 400
 * lists every problem as `field: what is wrong`. The same schemas make the OpenAPI document.
 */
export function validationPipe(): StandardSchemaValidationPipe {
  return new StandardSchemaValidationPipe({ exceptionFactory: (issues) => new BadRequestException(describeIssues(issues)) });
}

/** `a.b: message; c: message`; a problem with the whole value (an unknown key) has no path. */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  return issues
    .map((issue) => {
      const path = (issue.path ?? []).map((part) => String(typeof part === 'object' ? part.key : part)).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** For the few places that validate by hand (a multipart form's fields, a body of several shapes). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw new BadRequestException(describeIssues(result.error.issues as unknown as StandardSchemaV1.Issue[]));
}
