import { z } from 'zod';
import { singleLine } from '../platform/text/plain-text.checks.js';

export const CreateUserBody = z.strictObject({
  email: z.string().trim().min(3).max(254).check(singleLine()),
  displayName: z.string().trim().max(100).check(singleLine()).optional(),
  admin: z.boolean().optional(),
});

export const User = z.strictObject({ id: z.string(), email: z.string(), displayName: z.string(), admin: z.boolean() });
export type User = z.infer<typeof User>;

/** A new user, with its API key: the only answer that ever shows it. */
export const CreatedUser = User.extend({ apiKey: z.string().optional() });
export type CreatedUser = z.infer<typeof CreatedUser>;

export const ApiKey = z.strictObject({ apiKey: z.string().regex(/^av_/) });
