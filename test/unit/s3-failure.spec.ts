import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3Failure } from '../../src/infrastructure/repository-store/s3-failure.js';

const doing = { what: 'write "appvault/shop/1.zip"', action: 's3:PutObject', key: 'appvault/shop/1.zip', bucket: 'backups', location: 's3://backups/ at https://s3.example.com' };

/** An error as the SDK throws it for a store's error answer. */
const answer = (name: string, status: number, message = 'UnknownError') => new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status, attempts: 1 }, message });

describe('s3Failure', () => {
  it('says a store that refuses more data (QuotaExceeded) is full, and what frees it', () => {
    const failure = s3Failure(answer('QuotaExceeded', 403), doing);
    expect(failure.reason).toBe('full');
    expect(failure.transient).toBe(false);
    expect(failure.message).toBe(
      `Could not write "appvault/shop/1.zip" (s3://backups/ at https://s3.example.com): the store is full: it refuses more data (QuotaExceeded) because the bucket's or the account's quota is used up; free space there (delete old copies) or have the quota raised`,
    );
  });

  it('does not call an object too large for the store a full quota', () => {
    const failure = s3Failure(answer('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size'), doing);
    expect(failure.reason).toBe('refused');
    expect(failure.transient).toBe(false);
    expect(failure.message).toBe(
      'Could not write "appvault/shop/1.zip" (s3://backups/ at https://s3.example.com): the store refuses an object this large (EntityTooLarge): the object is bigger than the largest one it takes: "Your proposed upload exceeds the maximum allowed size"',
    );
    expect(failure.message).not.toMatch(/quota/);
  });
});
