import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FilesystemRepositoryStore } from '../../src/infrastructure/repository-store/filesystem-repository-store.adapter.js';
import { copyArchiveKey, copyManifestKey } from '../../src/repositories/shared/copy-layout.js';
import { BrowserPages, describeInBrowser, inCi, screenshot as shot } from '../support/browser-page.js';
import { copyManifest, put } from '../support/copy-manifests.js';
import { buildApp } from '../support/fixtures.js';
import { addFolderRepositories } from '../support/repositories.js';
import { S3TestBuckets, s3TestEnv } from '../support/s3-test-buckets.js';
import { type ApiClient, createUser, startServer, type TestServer } from '../support/test-server.js';

/**
 * Copies of backups on the admin page, in Debian's Chromium against a real server with folder
 * repositories (and, with S3_TEST_ENDPOINT, a bucket with Object Lock): the targets a backup and a
 * schedule name, the API's refusals next to those fields, each copy in the backups table (a failed
 * one with its error), a backup's copies in full with verify (a changed byte found only when the
 * data is read), a delete that an append-only folder survives or a lock refuses, and a restore
 * from a copy a repository lists. Waits are on visible states only.
 */
/** A copy that fails is tried twice, 20 ms apart: the page is under test, not the backoff. */
const RETRIES = { COPY_ATTEMPTS: '2', COPY_RETRY_DELAY_MS: '20', COPY_RETRY_MAX_DELAY_MS: '40' };

type Copy = { repository: string; key: string; sizeBytes: number; written: string | null; verified: string | null; lockedUntil: string | null; error: string | null };
type BackupBody = { id: string; status: string; copies: Copy[]; warnings: string[]; sha256: string };

describeInBrowser('copies of backups on the admin page', { timeout: 150_000 }, () => {
  let server: TestServer;
  const pages = new BrowserPages();
  let owner: { client: ApiClient; key: string };
  let ownerPage: Page;
  let nas: string;
  let vault: string;
  let gone: string;
  let buckets: S3TestBuckets | undefined;
  /** The backup made to local, nas and the unplugged folder; restored from nas at the end. */
  let spread: BackupBody;
  const open = (key: string, path: string, viewport = { width: 1280, height: 900 }) => pages.signedIn(server.url, key, path, { viewport });

  const backupOf = async (id: string) => (await server.admin.get(`/api/backups/${id}`)).body as BackupBody;
  const boxes = (group: Locator) => group.getByRole('checkbox');
  const boxNames = async (group: Locator) => (await group.locator('label.choice').allTextContents()).map((text) => text.trim().split(' ')[0]);

  beforeAll(async () => {
    await pages.launch();
    server = await startServer(RETRIES);
    const made = await createUser(server, 'owner@example.com');
    owner = { client: made.client, key: made.client.token! };
    expect((await owner.client.post('/api/apps', { name: 'shop', label: 'The shop' })).status).toBe(201);
    await buildApp('shop', [owner.client], { contents: 6, updates: 2, binaryBytes: 4_000 });
    // `unplugged`'s folder goes away after it was configured (an unmounted NAS): copies to it fail.
    ({ nas, vault, gone } = await addFolderRepositories(server));
    ownerPage = await open(owner.key, '/admin/apps/shop');
  }, 120_000);

  afterAll(async () => {
    await pages.close();
    await server?.close();
    await buckets?.removeAll();
  }, 120_000);

  it('lets an Owner (who cannot list repositories) name where a backup goes, shows the API’s refusal next to the field, then each copy in the table, the failed one with its error', async () => {
    const page = ownerPage;
    const form = page.locator('form.start-form');
    const field = form.getByRole('group', { name: 'Where copies of the backup go' });
    await field.getByText('Only administrators can list the repositories', { exact: false }).waitFor();
    expect(await boxNames(field)).toEqual(['local']);
    expect(await boxes(field).first().isChecked()).toBe(true);

    await form.getByLabel('Label (optional)').fill('offsite-copies');
    await field.getByLabel('Other repositories (names, separated by commas)').fill('nas, tape');
    await form.getByRole('button', { name: 'Start backup' }).click();
    const said = (await owner.client.post('/api/apps/shop/backups', { repositories: ['local', 'nas', 'tape'] })).body.message;
    expect(said).toBe('repositories: there is no repository named "tape"; GET /api/repositories lists them (admins)');
    await field.getByRole('alert').getByText(said, { exact: true }).waitFor();
    expect(await form.locator(':scope > [role="alert"]').count()).toBe(0);
    expect((await owner.client.get('/api/apps/shop/backups')).body.total).toBe(0);

    await field.getByLabel('Other repositories (names, separated by commas)').fill('nas, unplugged');
    await form.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-backup-id][data-status="Completed"]', { hasText: 'offsite-copies' });
    await row.waitFor();
    spread = await backupOf((await row.getAttribute('data-backup-id'))!);
    expect(spread.copies.map((copy) => [copy.repository, copy.written !== null])).toEqual([
      ['local', true],
      ['nas', true],
      ['unplugged', false],
    ]);
    const failed = spread.copies[2]!;
    expect(failed.error).toContain(gone);
    // The copies column: each repository in the order recorded, the failed one marked, with its error.
    const listed = row.locator('ul.copies li');
    expect(await listed.evaluateAll((items) => items.map((li) => [li.getAttribute('data-repository'), li.getAttribute('data-state')]))).toEqual([
      ['local', 'ok'],
      ['nas', 'ok'],
      ['unplugged', 'failed'],
    ]);
    expect(await row.locator('li[data-repository="unplugged"] .copy-state').textContent()).toBe('✗ failed');
    expect(await row.locator('li[data-repository="unplugged"] .copy-error').textContent()).toBe(failed.error);
    await row.getByText(spread.warnings[0]!, { exact: false }).waitFor();
    // The names this app's backups use are offered now, ticked as they were sent.
    expect(await boxNames(field)).toEqual(['local', 'nas', 'unplugged']);
    expect(await boxes(field).evaluateAll((inputs) => inputs.map((input) => (input as unknown as { checked: boolean }).checked))).toEqual([true, true, true]);
    expect(await field.getByLabel('Other repositories (names, separated by commas)').inputValue()).toBe('');
    await shot(page, 'backup-copies');
  });

  it('shows a backup’s copies in full and verifies them: a changed byte is found only when the data is read, and cleared once the copy is whole again', async () => {
    const page = ownerPage;
    const row = page.locator(`tr[data-backup-id="${spread.id}"]`);
    await row.getByRole('button', { name: 'Copies of backup offsite-copies', exact: true }).click();
    const detail = page.getByRole('region', { name: 'Copies of backup offsite-copies' });
    const copyRow = (repository: string) => detail.locator(`tr[data-repository="${repository}"]`);
    for (const copy of spread.copies) {
      expect(await copyRow(copy.repository).locator('td[data-label="Key"]').textContent()).toBe(copy.key);
    }
    expect(await copyRow('nas').locator('td[data-label="Written"]').textContent()).not.toBe('not written');
    expect(await copyRow('unplugged').locator('td[data-label="Written"]').textContent()).toBe('not written');
    expect(await copyRow('unplugged').locator('td[data-label="State"]').textContent()).toBe(`✗ failed${spread.copies[2]!.error}`);
    expect(await copyRow('local').locator('td[data-label="Locked until"]').textContent()).toBe('not locked');

    // Same size, other bytes: a folder keeps no hash, so only reading the data finds it.
    const file = join(nas, 'appvault', 'shop', `${spread.id}.zip`);
    const original = readFileSync(file);
    const changed = Buffer.from(original);
    changed[changed.length - 30] = changed[changed.length - 30]! ^ 0xff;
    writeFileSync(file, changed);

    const outcome = detail.getByTestId('verify-outcome');
    await detail.getByRole('button', { name: 'Verify the copies of backup offsite-copies' }).click();
    await expect.poll(() => outcome.textContent()).toMatch(/^Checked at .*: 2 found whole, 0 found wrong, 1 never written\.$/);
    expect(await detail.getByTestId('copy-check').allTextContents()).toEqual(['found whole', 'found whole', 'not checked: it was never written']);
    const lastWhole = (await backupOf(spread.id)).copies.find((copy) => copy.repository === 'nas')!.verified;
    expect(Date.parse(lastWhole!)).toBeGreaterThan(Date.parse(spread.copies[1]!.verified!));

    await detail.getByLabel('Read the data: download each copy whole and hash it').check();
    await detail.getByRole('button', { name: 'Verify the copies of backup offsite-copies' }).click();
    await expect.poll(() => outcome.textContent()).toMatch(/^Checked at .*, reading the data: 1 found whole, 1 found wrong, 1 never written\.$/);
    const checked = await backupOf(spread.id);
    const damaged = checked.copies.find((copy) => copy.repository === 'nas')!;
    expect(damaged.error).toMatch(/^The copy reads back with SHA-256 [0-9a-f]{64}, the backup recorded [0-9a-f]{64}: its bytes were changed or damaged$/);
    expect(await detail.getByTestId('copy-check').allTextContents()).toEqual(['found whole', 'found wrong', 'not checked: it was never written']);
    expect(await copyRow('nas').getAttribute('data-state')).toBe('damaged');
    expect(await copyRow('nas').locator('.copy-error').textContent()).toBe(damaged.error);
    // The table's column says so too, and keeps the copy's last good verification.
    expect(await row.locator('li[data-repository="nas"] .copy-error').textContent()).toBe(damaged.error);
    expect(damaged.verified).toBe(lastWhole);
    await shot(page, 'backup-verify');

    writeFileSync(file, original);
    await detail.getByRole('button', { name: 'Verify the copies of backup offsite-copies' }).click();
    await expect.poll(() => outcome.textContent()).toMatch(/reading the data: 2 found whole, 0 found wrong, 1 never written\.$/);
    expect(await copyRow('nas').getAttribute('data-state')).toBe('ok');
    const whole = (await backupOf(spread.id)).copies.find((copy) => copy.repository === 'nas')!;
    expect(whole.error).toBeNull();
    expect(Date.parse(whole.verified!)).toBeGreaterThan(Date.parse(lastWhole!));
    await row.getByRole('button', { name: 'Copies of backup offsite-copies', exact: true }).click();
    await detail.waitFor({ state: 'detached' });
  });

  it('deletes a backup whose copy is in an append-only folder: the record goes, the page says which copy stayed and why', async () => {
    const page = ownerPage;
    const form = page.locator('form.start-form');
    const field = form.getByRole('group', { name: 'Where copies of the backup go' });
    await field.getByLabel('nas').uncheck();
    await field.getByLabel('unplugged').uncheck();
    await field.getByLabel('Other repositories (names, separated by commas)').fill('vault');
    await form.getByLabel('Label (optional)').fill('to-the-vault');
    await form.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-backup-id][data-status="Completed"]', { hasText: 'to-the-vault' });
    await row.waitFor();
    const id = (await row.getAttribute('data-backup-id'))!;
    const backup = await backupOf(id);
    expect(backup.copies.map((copy) => copy.repository)).toEqual(['local', 'vault']);
    const kept = join(vault, 'appvault', 'shop', `${id}.zip`);
    expect(existsSync(kept)).toBe(true);

    await page.getByRole('button', { name: 'Delete backup to-the-vault' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this backup?' });
    await dialog.getByText('Its copies in local, vault are deleted too, except in append-only repositories', { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Delete backup' }).click();
    await row.waitFor({ state: 'detached' });
    const key = backup.copies[1]!.key;
    await page
      .getByRole('status')
      .getByText(`Deleted backup to-the-vault. Kept: the copy in vault (${key}): repository "vault" is append-only: AppVault never deletes there; the operator's own tool prunes it`, { exact: true })
      .waitFor();
    expect((await owner.client.get(`/api/apps/shop/backups/${id}`)).status).toBe(404);
    expect(existsSync(kept)).toBe(true);
  });

  it('sets a schedule that copies to a folder; the API’s refusals of `repositories` and `objectLock` appear next to those fields, one request’s two problems apart', async () => {
    const page = ownerPage;
    const section = page.getByRole('region', { name: 'Scheduled backups' });
    await section.getByText('No schedule.').waitFor();
    const field = section.getByRole('group', { name: 'Where copies of each scheduled backup go' });
    const lock = section.getByRole('group', { name: 'Object Lock for the copies (optional)' });
    const general = section.locator('form > [role="alert"]');
    expect(await boxNames(field)).toEqual(['local', 'nas', 'unplugged']);
    await section.getByLabel('Schedule (cron, UTC)').fill('0 3 1 1 *');

    // A folder cannot lock: the policy is refused, in the API's words, beside the lock.
    await field.getByLabel('local').uncheck();
    await field.getByLabel('nas').check();
    await lock.getByLabel('Mode').selectOption('GOVERNANCE');
    await lock.getByLabel(/Lock each copy for/).fill('7');
    await section.getByRole('button', { name: 'Set schedule' }).click();
    const cannotLock = (await owner.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 1 1 *', repositories: ['nas'], objectLock: { mode: 'GOVERNANCE', days: 7 } })).body.message;
    expect(cannotLock).toMatch(/^objectLock: none of the policy's repositories \(nas\) can lock copies; /);
    await lock.getByRole('alert').getByText(cannotLock, { exact: true }).waitFor();
    expect(await field.getByRole('alert').count()).toBe(0);
    expect(await general.count()).toBe(0);

    // Two problems in one answer: each goes to its own field.
    await field.getByLabel('Other repositories (names, separated by commas)').fill('Bad_Name');
    await lock.getByLabel(/Lock each copy for/).fill('0');
    await section.getByRole('button', { name: 'Set schedule' }).click();
    const both = (await owner.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 1 1 *', repositories: ['nas', 'Bad_Name'], objectLock: { mode: 'GOVERNANCE', days: 0 } })).body.message;
    await expect.poll(() => field.getByRole('alert').textContent()).toMatch(/^repositories\.1: /);
    const [toRepositories, toLock] = [await field.getByRole('alert').textContent(), await lock.getByRole('alert').textContent()];
    expect(toRepositories).toBe('repositories.1: must be repository names (lowercase letters, digits and single dashes)');
    expect(toLock).toMatch(/^objectLock\.days: /);
    expect(`${toRepositories}; ${toLock}`).toBe(both);
    expect(await general.count()).toBe(0);
    await shot(page, 'backup-policy-refused');

    // No repository at all.
    await field.getByLabel('Other repositories (names, separated by commas)').fill('');
    await field.getByLabel('nas').uncheck();
    await lock.getByLabel('Mode').selectOption('');
    await section.getByRole('button', { name: 'Set schedule' }).click();
    const none = (await owner.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 1 1 *', repositories: [], objectLock: null })).body.message;
    expect(none).toMatch(/^repositories: must name at least one repository/);
    await field.getByRole('alert').getByText(none, { exact: true }).waitFor();
    expect(await lock.getByRole('alert').count()).toBe(0);
    expect((await owner.client.get('/api/apps/shop/backup-policy')).status).toBe(404);

    await field.getByLabel('local').check();
    await field.getByLabel('nas').check();
    await section.getByRole('button', { name: 'Set schedule' }).click();
    await section.getByRole('status').getByText('Schedule set.').waitFor();
    expect(await section.getByTestId('policy-repositories').textContent()).toBe('local, nas');
    expect(await section.getByTestId('policy-lock').textContent()).toBe('none');
    expect(await field.getByRole('alert').count()).toBe(0);
    const policy = (await owner.client.get('/api/apps/shop/backup-policy')).body;
    expect(policy).toMatchObject({ schedule: '0 3 1 1 *', repositories: ['local', 'nas'], objectLock: null });
    expect((await owner.client.delete('/api/apps/shop/backup-policy')).status).toBe(204);
  });

  it('restores from a repository: lists what the folder holds (own, another installation’s, an unreadable entry greyed with its error), checks the chosen copy, restores it', async () => {
    const store = new FilesystemRepositoryStore(nas);
    const other = randomUUID();
    const foreign = randomUUID();
    await put(store, copyArchiveKey('legacy', foreign), 'zip');
    await put(store, copyManifestKey(copyArchiveKey('legacy', foreign)), JSON.stringify(copyManifest(other, 'legacy', foreign, { label: 'from the old server' })));
    await put(store, 'appvault/shop/evil.copy.json', JSON.stringify(copyManifest(other, 'shop', 'evil', { label: 'x\u001b[2Jy' })));

    const page = await open(server.admin.token!, '/admin/restore');
    await page.getByLabel('From a repository', { exact: false }).check();
    const repository = page.getByLabel('Repository', { exact: true });
    expect(await repository.locator('option').allTextContents()).toEqual(['Choose a repository', expect.stringMatching(/^nas · /), expect.stringMatching(/^unplugged · /), expect.stringMatching(/^vault · /)]);
    await repository.selectOption('nas');
    const table = page.getByRole('group', { name: 'Backups in nas' }).getByTestId('repository-backups');
    await table.waitFor();
    const key = copyArchiveKey('shop', spread.id);
    const own = table.locator(`tr[data-key="${key}"]`);
    expect(await own.getAttribute('data-own')).toBe('true');
    expect(await own.locator('td[data-label="Written by"]').textContent()).toBe('this installation');
    expect(await own.locator('td[data-label="Label"]').textContent()).toBe('offsite-copies');
    const theirs = table.locator(`tr[data-key="${copyArchiveKey('legacy', foreign)}"]`);
    expect(await theirs.locator('td[data-label="Written by"]').textContent()).toBe(`another installation (${other})`);
    expect(await theirs.locator('td[data-label="App"]').textContent()).toBe('legacy');
    const evil = table.locator('tr.unusable');
    expect(await evil.count()).toBe(1);
    expect(await evil.getAttribute('data-key')).toBe('appvault/shop/evil.zip');
    expect(await evil.locator('td[data-label="Problem"]').textContent()).toContain('malformed at backup.label: contains a control character (U+001B)');
    expect(await evil.getByRole('radio').isDisabled()).toBe(true);
    expect(await page.content()).not.toContain('\u001b');

    const start = page.getByRole('button', { name: 'Start restore' });
    expect(await start.isDisabled()).toBe(true);
    await own.getByRole('radio').check();
    // The name is proposed from the copy's app, checked like any other.
    await expect.poll(() => page.getByLabel('New app name').inputValue()).toBe('shop-copy');
    await page.getByLabel('New app name').fill('shop-from-nas');
    await page.locator('#restore-name-check.name-available').getByText('shop-from-nas is free', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Check without restoring' }).click();
    const report = page.getByRole('region', { name: 'Check report' });
    await report.getByText('The archive checks out and the name is free: a restore would succeed.').waitFor();
    await report.getByText(`repository:nas/${key}`, { exact: true }).waitFor();
    await shot(page, 'restore-from-repository');
    expect((await server.admin.get('/api/apps/shop-from-nas')).status).toBe(404);

    await start.click();
    await page.waitForURL(/\/admin\/restores\/[^/]+$/);
    await page.locator('.facts .badge-completed, .facts .badge-failed').waitFor();
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const job = (await server.admin.get(`/api/restore/${id}`)).body;
    expect(job.status, String(job.error)).toBe('Completed');
    expect(job.source).toBe(`repository:nas/${key}`);
    await page.getByText(`repository:nas/${key}`, { exact: true }).waitFor();
    for (const path of ['schemas', 'content/products?top=1000', 'assets?top=1000']) {
      const strip = (items: Record<string, unknown>[]) => items.map(({ lastModified: _l, created: _c, ...rest }) => rest);
      const source = await server.admin.get(`/api/apps/shop/${path}`);
      const copy = await server.admin.get(`/api/apps/shop-from-nas/${path}`);
      expect(strip(copy.body.items)).toEqual(strip(source.body.items));
    }
  });

  it('lets an admin verify a backup’s copies from All backups, by id', async () => {
    const page = await open(server.admin.token!, '/admin/backups');
    const row = page.locator(`tr[data-backup-id="${spread.id}"]`);
    expect(await row.locator('ul.copies li').evaluateAll((items) => items.map((li) => li.getAttribute('data-repository')))).toEqual(['local', 'nas', 'unplugged']);
    await row.getByRole('button', { name: 'Copies of backup offsite-copies', exact: true }).click();
    const detail = page.getByRole('region', { name: 'Copies of backup offsite-copies' });
    const sent = page.waitForRequest((request) => request.method() === 'POST' && new URL(request.url()).pathname === `/api/backups/${spread.id}/verify`);
    await detail.getByRole('button', { name: 'Verify the copies of backup offsite-copies' }).click();
    expect((await sent).postDataJSON()).toEqual({});
    await expect.poll(() => detail.getByTestId('verify-outcome').textContent()).toMatch(/^Checked at .*: 2 found whole, 0 found wrong, 1 never written\.$/);
  });

  it('stays readable on a phone with a backup’s copies open', async () => {
    const page = await open(owner.key, '/admin/apps/shop', { width: 390, height: 844 });
    const row = page.locator(`tr[data-backup-id="${spread.id}"]`);
    await row.getByRole('button', { name: 'Copies of backup offsite-copies', exact: true }).click();
    await page.getByRole('region', { name: 'Copies of backup offsite-copies' }).locator('tr[data-repository="unplugged"]').waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  });

  it('shows an admin every repository to choose from, a locked copy’s date, and the 409 that refuses deleting it, in the server’s words', async () => {
    if (!s3TestEnv) {
      if (inCi) throw new Error('S3_TEST_ENDPOINT is not set: with CI=true the S3 parts must run');
      console.log('SKIP the locked-copy part of the backup copies page test: S3_TEST_ENDPOINT is not set');
      return;
    }
    buckets = new S3TestBuckets(s3TestEnv);
    const bucket = await buckets.create('page-lock', true);
    const credentials = { accessKeyId: s3TestEnv.credentials.accessKeyId, secretAccessKey: s3TestEnv.credentials.secretAccessKey };
    const added = await server.admin.post('/api/repositories', {
      name: 'offsite',
      type: 's3',
      s3: { endpoint: s3TestEnv.endpoint, region: s3TestEnv.region, bucket, ...credentials },
      objectLock: { mode: 'GOVERNANCE', days: 1 },
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);

    const page = await open(server.admin.token!, '/admin/apps/shop');
    const form = page.locator('form.start-form');
    const field = form.getByRole('group', { name: 'Where copies of the backup go' });
    // An admin chooses from the list, each with where it is; nothing to type.
    await field.getByLabel('offsite').waitFor();
    expect(await boxNames(field)).toEqual(['local', 'nas', 'offsite', 'unplugged', 'vault']);
    await field.getByText('locks copies GOVERNANCE for 1 day', { exact: false }).waitFor();
    await field.getByText('append-only', { exact: false }).waitFor();
    expect(await field.getByLabel('Other repositories (names, separated by commas)').count()).toBe(0);
    await field.getByLabel('offsite').check();
    await form.getByLabel('Label (optional)').fill('locked-copy');
    await form.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-backup-id][data-status="Completed"]', { hasText: 'locked-copy' });
    await row.waitFor();
    const id = (await row.getAttribute('data-backup-id'))!;
    const backup = await backupOf(id);
    const locked = backup.copies.find((copy) => copy.repository === 'offsite')!;
    expect(locked.lockedUntil).not.toBeNull();
    const copy = row.locator('li[data-repository="offsite"]');
    expect(await copy.getAttribute('data-state')).toBe('ok');
    await copy.locator(`.lock-note time[datetime="${locked.lockedUntil}"]`).waitFor();

    await page.getByRole('button', { name: 'Delete backup locked-copy' }).click();
    await page.getByRole('dialog', { name: 'Delete this backup?' }).getByRole('button', { name: 'Delete backup' }).click();
    const refusal = page.getByRole('region', { name: 'Backups', exact: true }).getByRole('alert');
    await refusal.waitFor();
    const said = (await server.admin.delete(`/api/backups/${id}`)).body.message;
    expect(said).toBe(`Backup ${id} cannot be deleted: its copy in repository "offsite" (${locked.key}) is locked until ${locked.lockedUntil} (GOVERNANCE). Nothing was deleted; delete it after then.`);
    expect(await refusal.textContent()).toBe(said);
    expect(await row.count()).toBe(1);
    expect((await backupOf(id)).copies).toEqual(backup.copies);
    await shot(page, 'backup-locked');
  });
});
