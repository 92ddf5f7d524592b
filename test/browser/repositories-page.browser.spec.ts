import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FilesystemRepositoryStore } from '../../src/infrastructure/repository-store/filesystem-repository-store.adapter.js';
import { copyArchiveKey, copyManifestKey } from '../../src/repositories/shared/copy-layout.js';
import { BrowserPages, describeInBrowser, inCi, screenshot } from '../support/browser-page.js';
import { copyManifest, put } from '../support/copy-manifests.js';
import { S3TestBuckets, s3TestEnv } from '../support/s3-test-buckets.js';
import { ADMIN_TOKEN, createUser, startServer, tempDir, type TestServer } from '../support/test-server.js';

/**
 * The admin page's Repositories section in Debian's Chromium against a real server: add a folder
 * (the API's refusal shown first), check it, list what it holds (another installation's copy and
 * a hostile manifest), change and remove it; with an S3 server, add a bucket with stored
 * credentials and see that the page never shows the secret. Waits are on visible states only.
 */
describeInBrowser('the Repositories section of the admin page', { timeout: 150_000 }, () => {
  let server: TestServer;
  const pages = new BrowserPages();
  let page: Page;
  let buckets: S3TestBuckets | undefined;

  beforeAll(async () => {
    await pages.launch();
    server = await startServer();
    page = await pages.signedIn(server.url, ADMIN_TOKEN, '/admin');
  }, 120_000);

  afterAll(async () => {
    await pages.close();
    await server?.close();
    await buckets?.removeAll();
  }, 120_000);

  it('adds a folder (after showing the API’s refusal), checks it and lists what it holds, another installation’s copies too', async () => {
    const nas = tempDir('appvault-page-nas-');
    const store = new FilesystemRepositoryStore(nas);
    const other = randomUUID();
    const id = randomUUID();
    const key = copyArchiveKey('shop', id);
    await put(store, key, 'zip');
    await put(store, copyManifestKey(key), JSON.stringify(copyManifest(other, 'shop', id, { label: 'from the old server' })));
    await put(store, 'appvault/shop/evil.copy.json', JSON.stringify(copyManifest(other, 'shop', 'evil', { label: 'x\u001b[2Jy' })));

    await page.getByRole('link', { name: 'Repositories' }).click();
    await page.getByTestId('repository-local').waitFor();
    await page.getByRole('button', { name: 'Add a repository' }).click();
    await page.getByLabel('Name', { exact: true }).fill('nas');
    await page.getByLabel('Folder', { exact: true }).fill('relative/path');
    await page.getByRole('button', { name: 'Add repository' }).click();
    await expect.poll(() => page.locator('form [role="alert"]').textContent()).toContain('path: must be absolute');

    await page.getByLabel('Folder', { exact: true }).fill(nas);
    await page.getByRole('button', { name: 'Add repository' }).click();
    await page.getByTestId('repository-nas').waitFor();
    expect(await page.getByTestId('repository-nas').textContent()).toContain(`folder ${nas}`);

    await page.getByTestId('repository-nas').getByRole('button', { name: 'Check' }).click();
    await page.getByTestId('check-outcome').waitFor();
    expect(await page.getByTestId('check-outcome').textContent()).toBe('nas works.');
    expect(await page.getByTestId('check-steps').locator('li').allTextContents()).toEqual([
      expect.stringMatching(/^✓ folder: .* is a folder this process can write to/),
      expect.stringMatching(/^✓ write: /),
      expect.stringMatching(/^✓ read: /),
      expect.stringMatching(/^✓ delete: /),
    ]);

    await page.getByTestId('repository-nas').getByRole('button', { name: 'Backups' }).click();
    await page.getByTestId('repository-backups').waitFor();
    const rows = await page.getByTestId('repository-backups').locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('from the old server');
    expect(rows[0]).toContain(other);
    expect(rows[1]).toContain('malformed at backup.label: contains a control character (U+001B)');
    await screenshot(page, 'repositories');
  });

  it('changes and removes a folder repository; `local` has no such buttons', async () => {
    expect(await page.getByTestId('repository-local').getByRole('button', { name: 'Edit' }).count()).toBe(0);
    await page.getByTestId('repository-nas').getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel('Name', { exact: true }).isDisabled()).toBe(true);
    await page.getByLabel(/Append-only/).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByTestId('repository-nas').textContent()).toContain('append-only');
    expect((await server.admin.get('/api/repositories/nas')).body.appendOnly).toBe(true);

    await page.getByTestId('repository-nas').getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove repository' }).click();
    await expect.poll(() => page.getByTestId('repository-nas').count()).toBe(0);
    expect((await server.admin.get('/api/repositories/nas')).status).toBe(404);
  });

  it('adds an S3 bucket with stored credentials, checks it, and never shows the secret', async () => {
    if (!s3TestEnv) {
      if (inCi) throw new Error('S3_TEST_ENDPOINT is not set: with CI=true the S3 parts must run');
      console.log('SKIP the S3 part of the repositories page test: S3_TEST_ENDPOINT is not set');
      return;
    }
    buckets = new S3TestBuckets(s3TestEnv);
    const bucket = await buckets.create('page');
    await page.getByRole('button', { name: 'Add a repository' }).click();
    await page.getByLabel('Name', { exact: true }).fill('offsite');
    await page.getByLabel('An S3-compatible bucket').check();
    await page.getByLabel('Endpoint', { exact: true }).fill(s3TestEnv.endpoint);
    await page.getByLabel('Bucket', { exact: true }).fill(bucket);
    await page.getByLabel('Credentials', { exact: true }).selectOption('stored');
    await page.getByLabel('Access key id', { exact: true }).fill(s3TestEnv.credentials.accessKeyId);
    await page.getByLabel('Secret access key', { exact: true }).fill(s3TestEnv.credentials.secretAccessKey);
    await page.getByRole('button', { name: 'Add repository' }).click();
    await page.getByTestId('repository-offsite').waitFor();
    expect(await page.getByTestId('repository-offsite').textContent()).toContain('stored by AppVault');
    await page.getByTestId('repository-offsite').getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => page.getByTestId('check-outcome').textContent()).toBe('offsite works.');
    // Editing shows where the credentials come from, never their values.
    await page.getByTestId('repository-offsite').getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel('Credentials', { exact: true }).inputValue()).toBe('keep');
    expect(await page.content()).not.toContain(s3TestEnv.credentials.secretAccessKey);
    await page.getByRole('button', { name: 'Cancel' }).click();

    const { client } = await createUser(server, 'not-admin@example.com');
    expect((await client.get('/api/repositories')).status).toBe(403);
  });
});
