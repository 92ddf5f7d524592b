import { z } from 'zod';
import { Int, Time } from './common.schemas.js';

export const AssetContentQuery = z.object({
  version: z
    .string()
    .regex(/^\d{1,9}$/, 'must be a file version number (0, 1, 2, ...)')
    .transform(Number)
    .optional(),
});

/** The multipart form of an upload: one file, streamed (read by hand, never held in memory). */
export const AssetUploadForm = z.strictObject({ file: z.string().meta({ contentMediaType: 'application/octet-stream', description: 'The file, streamed' }) });

export const Asset = z.strictObject({
  id: z.string(),
  fileName: z.string(),
  mimeType: z.string(),
  fileSize: Int,
  sha256: z.string(),
  fileVersion: Int,
  version: Int,
  created: Time,
  createdBy: z.string(),
  lastModified: Time,
});
export type Asset = z.infer<typeof Asset>;
