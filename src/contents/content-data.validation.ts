import { invalid } from '../platform/domain-errors.js';
import type { FieldType, SchemaField } from '../schemas/schema.events.js';
import type { ContentData } from './content.events.js';

/** How each type is named in a 400, so the client learns what to send instead. */
const EXPECTED: Record<FieldType, string> = {
  String: 'a String (text)',
  Number: 'a Number (finite)',
  Boolean: 'a Boolean (true or false)',
  DateTime: 'a DateTime (an ISO-8601 string like "2024-05-01T12:00:00Z")',
  Json: 'Json (any JSON value)',
  Assets: 'Assets (an array of asset ids)',
  References: 'References (an array of content ids)',
};

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Date.parse rolls "2024-02-30" over into March, so the calendar is checked by hand. */
export function isIsoDateTime(value: string): boolean {
  const m = ISO_8601.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return false;
  return !Number.isNaN(Date.parse(value));
}

const isStringArray = (value: unknown) => Array.isArray(value) && value.every((v) => typeof v === 'string');

function matches(type: FieldType, value: unknown): boolean {
  switch (type) {
    case 'String':
      return typeof value === 'string';
    case 'Number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'Boolean':
      return typeof value === 'boolean';
    case 'DateTime':
      return typeof value === 'string' && isIsoDateTime(value);
    case 'Json':
      return true;
    case 'Assets':
    case 'References':
      return isStringArray(value);
  }
}

export function isContentData(data: unknown): data is ContentData {
  return typeof data === 'object' && data !== null && !Array.isArray(data);
}

/**
 * Checks data against the schema's current fields and reports every problem at once, each naming
 * its field. `null` counts as "no value": allowed for optional fields, missing for required ones.
 * Ids in Assets and References are not resolved: a referenced content or asset may be deleted
 * later anyway, so readers must cope with dangling ids regardless.
 */
export function validateData(schemaName: string, fields: readonly SchemaField[], data: unknown): ContentData {
  if (!isContentData(data)) throw invalid('data: must be an object of field values, like { "title": "Hello" }');
  const byName = new Map(fields.map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const key of Object.keys(data)) {
    if (!byName.has(key)) {
      const known = fields.length > 0 ? `its fields are ${fields.map((f) => f.name).join(', ')}` : 'it has no fields yet';
      problems.push(`data.${key}: schema "${schemaName}" has no field "${key}"; ${known}`);
    }
  }
  for (const field of fields) {
    const value = data[field.name];
    if (value === undefined || value === null) {
      if (field.required) problems.push(`data.${field.name}: is required (${EXPECTED[field.type]})`);
    } else if (!matches(field.type, value)) {
      problems.push(`data.${field.name}: must be ${EXPECTED[field.type]}`);
    }
  }
  if (problems.length > 0) throw invalid(problems.join('; '));
  return data;
}

/** Flattens the strings and numbers of the data, nested ones included, into one searchable text. */
export function searchableText(data: ContentData): string {
  const parts: string[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'string') parts.push(value);
    else if (typeof value === 'number') parts.push(String(value));
    else if (Array.isArray(value)) value.forEach(visit);
    else if (isContentData(value)) Object.values(value).forEach(visit);
  };
  visit(data);
  return parts.join(' ');
}

/** Order-insensitive for object keys, so re-sending the same data is recognised as no change. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameData(v, b[i]));
  }
  if (isContentData(a) && isContentData(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameData(a[k], b[k]));
  }
  return false;
}
