import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import { expectSameReads } from '../support/app-reads.js';
import { BrowserPages, describeInBrowser, screenshot } from '../support/browser-page.js';
import { buildApp, type BuiltApp } from '../support/fixtures.js';
import { ADMIN_TOKEN, type ApiClient, createUser, startServer, type TestServer } from '../support/test-server.js';

/**
 * Encryption on the admin page, in Debian's Chromium against a real server: an admin's Encryption
 * page (the installation's own recipient, recipients for every app, the API's refusal of a bad
 * key), an Owner's recipients for the app, a backup encrypted to one of them and one with a
 * passphrase shown once, a schedule encrypted to a recipient, and restores of encrypted backups
 * that take the key in the form (a wrong one refused in the API's words). Waits are on visible
 * states only.
 */
describeInBrowser('encryption on the admin page', { timeout: 180_000 }, () => {
  let server: TestServer;
  const pages = new BrowserPages();
  let owner: ApiClient;
  let built: BuiltApp;
  const open = (key: string, path: string) => pages.signedIn(server.url, key, path);

  /** Starts the restore the page's form holds and waits until it ends: the job as the API answers it. */
  async function restoreFromPage(page: Page, name: string): Promise<Record<string, unknown>> {
    // The name typed must still be there when the job starts (the page proposes one of its own until a person types).
    expect(await page.getByLabel('New app name').inputValue()).toBe(name);
    await page.getByRole('button', { name: 'Start restore' }).click();
    await page.waitForURL(/\/admin\/restores\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    await expect.poll(async () => (await server.admin.get(`/api/restore/${id}`)).body.status, { timeout: 60_000, interval: 250 }).toMatch(/Completed|Failed/);
    const job = (await server.admin.get(`/api/restore/${id}`)).body as Record<string, unknown>;
    expect(job['name'], 'the restore runs under the name typed in the form').toBe(name);
    return job;
  }

  const backupsOf = async (app: string) => (await owner.get(`/api/apps/${app}/backups`)).body.items as { id: string; label: string; status: string; encryption: unknown }[];

  beforeAll(async () => {
    await pages.launch();
    server = await startServer();
    owner = (await createUser(server, 'owner@example.com')).client;
    expect((await owner.post('/api/apps', { name: 'shop', label: 'The shop' })).status).toBe(201);
    built = await buildApp('shop', [owner], { contents: 5, updates: 2, binaryBytes: 3_000 });
  }, 120_000);

  afterAll(async () => {
    await pages.close();
    await server?.close();
  }, 120_000);

  it('shows an admin the installation’s own recipient and its recipients for every app; a bad key is refused in the API’s words', async () => {
    const page = await open(ADMIN_TOKEN, '/admin');
    await page.getByRole('link', { name: 'Encryption' }).click();
    const own = (await server.admin.get('/api/installation/recipient')).body.recipient as string;
    await expect.poll(() => page.getByTestId('own-recipient').textContent()).toBe(own);

    await page.getByLabel('Recipient name', { exact: true }).fill('offsite');
    await page.getByLabel('Public key', { exact: true }).fill('age1notakey');
    await page.getByRole('button', { name: 'Add recipient' }).click();
    await expect.poll(() => page.locator('section.recipients [role="alert"]').first().textContent()).toContain('must be an age X25519 recipient');

    const offsite = await generateKeyPair();
    await page.getByLabel('Public key', { exact: true }).fill(offsite.recipient);
    await page.getByRole('button', { name: 'Add recipient' }).click();
    await page.getByTestId('recipient-offsite').waitFor();
    expect(await page.getByTestId('recipient-offsite').textContent()).toContain(offsite.recipient);
    const listed = (await server.admin.get('/api/recipients')).body.items as { name: string; recipient: string }[];
    expect(listed.map((r) => [r.name, r.recipient])).toEqual([['offsite', offsite.recipient]]);
    await screenshot(page, 'encryption');

    await page.getByTestId('recipient-offsite').getByRole('button', { name: 'Remove recipient offsite' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove recipient' }).click();
    await page.getByTestId('recipient-offsite').waitFor({ state: 'detached' });
    expect((await server.admin.get('/api/recipients')).body.items).toEqual([]);
  });

  it('lets an Owner add the app’s recipient, back up to it, and an admin restore that backup with its identity typed in the form', async () => {
    const keys = await generateKeyPair();
    const page = await open(owner.token!, '/admin/apps/shop');
    await page.getByLabel('Recipient name', { exact: true }).fill('laptop');
    await page.getByLabel('Public key', { exact: true }).fill(keys.recipient);
    await page.getByRole('button', { name: 'Add recipient' }).click();
    await page.getByTestId('recipient-laptop').waitFor();

    await page.getByLabel('Label (optional)').fill('sealed');
    const start = page.locator('form.start-form');
    await start.getByLabel('To recipients (age public keys)').check();
    // Nothing ticked: the page does not send a request the API would refuse.
    expect(await start.getByRole('button', { name: 'Start backup' }).isDisabled()).toBe(true);
    await start.getByRole('group', { name: 'Recipients of the backup' }).getByRole('checkbox').check();
    await start.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-backup-id][data-status="Completed"]', { hasText: 'sealed' });
    await row.waitFor();
    expect(await row.getByTestId('backup-encrypted').textContent()).toContain('encrypted to laptop');
    const sealed = (await backupsOf('shop')).find((b) => b.label === 'sealed')!;
    expect(sealed.encryption).toMatchObject({ passphrase: false, recipients: [{ name: 'laptop', recipient: keys.recipient }] });

    const admin = await open(ADMIN_TOKEN, `/admin/restore?backup=${sealed.id}`);
    await admin.getByLabel('New app name').fill('shop-sealed');
    await admin.getByLabel('An identity (age private key)').check();
    const other = await generateKeyPair();
    await admin.getByLabel('Identity (AGE-SECRET-KEY-1…, or an identity file’s text)').fill(other.identity);
    // A key that does not open the archive fails the job before anything is written; its page says why.
    expect((await restoreFromPage(admin, 'shop-sealed'))['status']).toBe('Failed');
    await expect.poll(() => admin.locator('main').textContent()).toContain('does not open this archive');
    expect((await server.admin.get('/api/apps/shop-sealed')).status).toBe(404);

    await admin.goto(`${server.url}/admin/restore?backup=${sealed.id}`);
    await admin.getByLabel('New app name').fill('shop-sealed');
    await admin.getByLabel('An identity (age private key)').check();
    await admin.getByLabel('Identity (AGE-SECRET-KEY-1…, or an identity file’s text)').fill(keys.identity);
    const job = await restoreFromPage(admin, 'shop-sealed');
    expect(job['status'], String(job['error'])).toBe('Completed');
    // Once in a CI run the restored app's schema list did not answer 200 right after Completed; it is
    // waited for (and what it answered is shown) until that is understood: see the session's closing note.
    await expect.poll(async () => {
      const res = await server.admin.get('/api/apps/shop-sealed/schemas');
      return res.status === 200 ? 200 : `${res.status} ${JSON.stringify(res.body)}`;
    }, { timeout: 30_000, interval: 200 }).toBe(200);
    await expectSameReads({ client: server.admin, app: 'shop' }, { client: server.admin, app: 'shop-sealed' }, built.assets);
  });

  it('shows a passphrase made for a backup once, and restores the backup with it', async () => {
    const page = await open(owner.token!, '/admin/apps/shop');
    await page.getByLabel('Label (optional)').fill('with-words');
    const start = page.locator('form.start-form');
    await start.getByLabel(/With a passphrase/).check();
    await start.getByRole('button', { name: 'Start backup' }).click();
    const shown = page.getByTestId('backup-passphrase');
    await shown.waitFor();
    const passphrase = (await shown.textContent())!.trim();
    expect(passphrase.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'I have kept it' }).click();
    await shown.waitFor({ state: 'detached' });
    const row = page.locator('tr[data-backup-id][data-status="Completed"]', { hasText: 'with-words' });
    await row.waitFor();
    expect(await row.getByTestId('backup-encrypted').textContent()).toContain('encrypted with a passphrase');
    // The passphrase was answered once: the backup's record does not hold it.
    const backup = (await backupsOf('shop')).find((b) => b.label === 'with-words')!;
    expect(JSON.stringify((await owner.get(`/api/apps/shop/backups/${backup.id}`)).body)).not.toContain(passphrase);

    const admin = await open(ADMIN_TOKEN, `/admin/restore?backup=${backup.id}`);
    await admin.getByLabel('New app name').fill('shop-words');
    await admin.getByLabel('A passphrase').check();
    await admin.getByLabel('Passphrase', { exact: true }).fill(passphrase);
    const job = await restoreFromPage(admin, 'shop-words');
    expect(job['status'], String(job['error'])).toBe('Completed');
    expect(JSON.stringify(job)).not.toContain(passphrase);
    // Once in a CI run the restored app's schema list did not answer 200 right after Completed; it is
    // waited for (and what it answered is shown) until that is understood: see the session's closing note.
    await expect.poll(async () => {
      const res = await server.admin.get('/api/apps/shop-words/schemas');
      return res.status === 200 ? 200 : `${res.status} ${JSON.stringify(res.body)}`;
    }, { timeout: 30_000, interval: 200 }).toBe(200);
    await expectSameReads({ client: server.admin, app: 'shop' }, { client: server.admin, app: 'shop-words' }, built.assets);
  });

  it('sets a schedule that encrypts each backup to the app’s recipient', async () => {
    const page = await open(owner.token!, '/admin/apps/shop');
    const form = page.locator('form', { has: page.getByLabel('Schedule (cron, UTC)') });
    await form.getByLabel('Schedule (cron, UTC)').fill('0 3 * * *');
    await form.getByLabel('To recipients (age public keys)').check();
    await form.getByRole('group', { name: 'Recipients of each scheduled backup' }).getByRole('checkbox').check();
    await form.getByRole('button', { name: 'Set schedule' }).click();
    await expect.poll(() => page.getByTestId('policy-encryption').textContent()).toBe('to laptop');
    const policy = (await owner.get('/api/apps/shop/backup-policy')).body;
    expect(policy.encryption).toEqual({ recipients: ['laptop'] });
  });
});
