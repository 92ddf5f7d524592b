import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BrowserPages, describeInBrowser, screenshot as shot, signIn as signInAt, WAIT_TIMEOUT } from '../support/browser-page.js';
import { buildApp, waitForJob } from '../support/fixtures.js';
import { type ApiClient, createUser, startServer, tempDir, type TestServer } from '../support/test-server.js';
import { tamper } from '../support/zip-tamper.js';

/**
 * The admin page (/admin) driven in Debian's Chromium, headless, through playwright-core, against
 * the real server on a real port. The page is built into dist/admin by the global setup. Every
 * wait is on a visible state, never on time. Screenshots of the main screens go to
 * docs/screenshots, so the README's pictures are the page as it is.
 */
const TEST_TIMEOUT = 150_000;

describeInBrowser('admin page in a real browser', { timeout: TEST_TIMEOUT }, () => {
  let server: TestServer;
  const pages = new BrowserPages();
  let owner: { id: string; client: ApiClient; key: string };
  let reader: { key: string };
  let stranger: { key: string };
  let firstBackup: Record<string, unknown>;
  let downloaded: string;

  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  async function user(email: string): Promise<{ id: string; client: ApiClient; key: string }> {
    const made = await createUser(server, email);
    return { ...made, key: made.client.token! };
  }

  const open = (options: { width?: number; height?: number } = {}) => pages.page({ viewport: { width: options.width ?? 1280, height: options.height ?? 860 }, downloads: true, clipboardFor: server.url });
  const signIn = (page: Page, key: string, path = '/admin') => signInAt(page, server.url, key, path);

  async function waitForRestoreEnd(page: Page): Promise<Record<string, unknown>> {
    // The form either moves to the job's page or shows the API's refusal: say which.
    const moved = page.waitForURL(/\/admin\/restores\/[^/]+$/).then(() => null);
    const refused = page.locator('form.restore-form > [role="alert"]').textContent({ timeout: WAIT_TIMEOUT + 1000 }).catch(() => null);
    const refusal = await Promise.race([moved, refused]);
    if (refusal) throw new Error(`The restore form showed an error instead of starting the job: ${refusal}`);
    await moved;
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    await page.locator('.facts .badge-completed, .facts .badge-failed').waitFor();
    const job = await server.admin.get(`/api/restore/${id}`);
    expect(job.status).toBe(200);
    return job.body;
  }

  async function compareApps(source: string, copy: string): Promise<void> {
    for (const path of ['schemas', 'content/products?top=1000', 'content/notes?top=1000', 'assets?top=1000']) {
      const a = await server.admin.get(`/api/apps/${source}/${path}`);
      const b = await server.admin.get(`/api/apps/${copy}/${path}`);
      expect(b.status).toBe(200);
      const strip = (items: Record<string, unknown>[]) => items.map(({ lastModified: _l, created: _c, ...rest }) => rest);
      expect(strip(b.body.items)).toEqual(strip(a.body.items));
      expect(b.body.total).toBe(a.body.total);
    }
  }

  beforeAll(async () => {
    await pages.launch();
    // Restores by URL fetch a migration link from this very server, on loopback.
    server = await startServer({ RESTORE_ALLOWED_HOSTS: '127.0.0.1' });
    owner = await user('owner@example.com');
    const readerUser = await user('reader@example.com');
    reader = readerUser;
    stranger = await user('stranger@example.com');
    expect((await owner.client.post('/api/apps', { name: 'shop', label: 'The shop' })).status).toBe(201);
    expect((await owner.client.post('/api/apps/shop/contributors', { email: 'reader@example.com', role: 'Reader' })).status).toBe(200);
    await buildApp('shop', [owner.client], { contents: 24, updates: 8, binaryBytes: 20_000 });
  }, 120_000);

  afterAll(async () => {
    await pages.close();
    await server?.close();
  });

  it('serves the page at /admin with caching fit for hashed assets', async () => {
    const index = await fetch(`${server.url}/admin`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const script = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const route = await fetch(`${server.url}/admin/restores/some-id`);
    expect(route.status).toBe(200);
    expect(await route.text()).toBe(html);
    expect((await fetch(`${server.url}/admin/assets/missing-0000.js`)).status).toBe(404);
  });

  it('signs in with an API key kept in session storage (never in the URL), saying the API’s words for a bad key', async () => {
    const page = await open();
    await page.goto(`${server.url}/admin`);
    await page.getByRole('heading', { name: 'Sign in to AppVault' }).waitFor();
    await shot(page, 'sign-in');
    await page.getByLabel('API key').fill('not-a-key-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The API key is not valid' }).waitFor();

    await page.getByLabel('API key').fill(owner.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByTestId('signed-in-as').textContent()).toBe('owner@example.com');
    expect(page.url()).not.toContain(owner.key);
    expect(await page.evaluate<string | null>("sessionStorage.getItem('appvault.apiKey')")).toBe(owner.key);
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
    // An Owner sees their app and no admin sections.
    await page.getByRole('link', { name: 'shop', exact: true }).waitFor();
    expect(await page.getByRole('link', { name: 'New restore' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);
    await page.reload();
    await page.getByTestId('signed-in-as').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate<string | null>("sessionStorage.getItem('appvault.apiKey')")).toBeNull();
  });

  it('lets an Owner start a backup, follows its event stream to Completed, downloads it (SHA-256 as the API says) and copies a migration link', async () => {
    const page = await open();
    await signIn(page, owner.key);
    await page.getByRole('link', { name: 'shop', exact: true }).click();
    await page.getByRole('heading', { name: 'Start a backup' }).waitFor();
    const stream = page.waitForRequest((request) => /\/api\/apps\/shop\/backups\/[^/]+\/events$/.test(request.url()));
    await page.getByLabel('Label (optional)').fill('first');
    await page.getByRole('button', { name: 'Start backup' }).click();
    const streamed = await stream;
    expect(streamed.headers()['authorization']).toBe(`Bearer ${owner.key}`);
    const row = page.locator('tr[data-status="Completed"]', { hasText: 'first' });
    await row.waitFor();

    const id = await row.getAttribute('data-backup-id');
    const backup = await owner.client.get(`/api/apps/shop/backups/${id}`);
    expect(backup.body.status).toBe('Completed');
    firstBackup = backup.body;
    const cells = await row.locator('td').allTextContents();
    expect(cells).toContain(Number(backup.body.eventCount).toLocaleString('en-US'));
    expect(await row.locator('[data-sha256]').getAttribute('data-sha256')).toBe(backup.body.sha256);
    await shot(page, 'app-backups');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download backup first' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^backup-shop-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.zip$/);
    downloaded = join(tempDir('appvault-browser-'), 'shop.zip');
    await download.saveAs(downloaded);
    expect(sha256(readFileSync(downloaded))).toBe(backup.body.sha256);

    await page.getByLabel('Link to backup first expires in').selectOption('1h');
    await page.getByRole('button', { name: 'Copy migration link to backup first' }).click();
    const linkBox = page.getByRole('region', { name: 'Migration link' });
    const url = await linkBox.getByRole('textbox').inputValue();
    expect(url).toMatch(/\/api\/links\/[^/]+\/archive\?expires=\d+&signature=/);
    await linkBox.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(url);
    const viaLink = await fetch(url);
    expect(viaLink.status).toBe(200);
    expect(sha256(Buffer.from(await viaLink.arrayBuffer()))).toBe(backup.body.sha256);
    const links = await owner.client.get(`/api/apps/shop/backups/${id}/links`);
    const made = links.body.items.find((l: { state: string; expires: string; created: string }) => Date.parse(l.expires) - Date.parse(l.created) > 3000_000);
    // The expiry is in whole seconds; the link was made an hour from when it was made.
    expect(Date.parse(made.expires) - Date.parse(made.created)).toBeGreaterThan(3598_000);
    expect(Date.parse(made.expires) - Date.parse(made.created)).toBeLessThanOrEqual(3600_000);
  });

  it('shows a running backup\'s phase, percent and ETA as its event stream reports them', async () => {
    // The real stream of a small backup ends within milliseconds, too fast to look at; here the
    // browser is handed one "Running" job event (the job as the API serves it, with progress),
    // and the page's fallback read of the job is held until the running state was seen.
    const page = await open();
    await signIn(page, owner.key, '/admin/apps/shop');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/api\/apps\/shop\/backups\/[^/]+\/events$/, async (route) => {
      const jobPath = new URL(route.request().url()).pathname.replace(/\/events$/, '');
      const job = (await owner.client.get(jobPath)).body;
      const running = { ...job, status: 'Running', phase: 'events', progress: { done: 26, total: 61, unit: 'events' }, percent: 42.5, etaSeconds: 12, completed: null, sizeBytes: null, sha256: null };
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `event: job\ndata: ${JSON.stringify(running)}\n\n` });
    });
    await page.route(/\/api\/apps\/shop\/backups\/[^/?]+$/, async (route) => {
      await held;
      await route.continue();
    });
    await page.getByLabel('Label (optional)').fill('live');
    await page.getByRole('button', { name: 'Start backup' }).click();
    const bar = page.getByRole('progressbar', { name: 'Progress of backup live' });
    await bar.waitFor();
    // The row shows the Scheduled job from the POST first; the stream's event follows.
    await page.locator('tr[data-status="Running"]').getByText('events · 26 of 61 events · 42.5% · about 12 s left').waitFor();
    expect(await bar.getAttribute('value')).toBe('42.5');
    await shot(page, 'backup-running');
    release();
    await page.locator('tr[data-status="Completed"]', { hasText: 'live' }).waitFor();
    expect(await bar.count()).toBe(0);
  });

  it('restores the stored backup under a new name after checking the name rule and availability, with progress to 100% and the log', async () => {
    const page = await open();
    await signIn(page, server.admin.token!);
    await page.getByRole('link', { name: 'New restore' }).click();
    await page.getByLabel('Backup', { exact: true }).selectOption(String(firstBackup.id));
    const name = page.getByLabel('New app name');
    const start = page.getByRole('button', { name: 'Start restore' });
    await name.fill('Bad_Name');
    await page.locator('#restore-name-check.name-invalid').getByText('Lower-case letters and digits', { exact: false }).waitFor();
    expect(await start.isDisabled()).toBe(true);
    await name.fill('shop');
    await page.locator('#restore-name-check.name-taken').getByText('An app named shop exists', { exact: false }).waitFor();
    expect(await start.isDisabled()).toBe(true);
    await name.fill('shop-copy');
    await page.locator('#restore-name-check.name-available').getByText('shop-copy is free', { exact: true }).waitFor();
    await shot(page, 'restore-form');
    await start.click();

    const job = await waitForRestoreEnd(page);
    expect(job.status).toBe('Completed');
    await page.waitForFunction("document.querySelector('#restore-progress')?.value === 100");
    await page.locator('.success').getByText('into the app shop-copy').waitFor();
    const log = (await page.locator('ol.log li').allTextContents()).map((line) => line.trim());
    const logged = job.log as { message: string }[];
    expect(log).toHaveLength(logged.length);
    expect(log.at(-1)).toContain(logged.at(-1)!.message);
    await shot(page, 'restore-completed');

    await page.getByRole('link', { name: 'the app shop-copy' }).click();
    await page.getByRole('heading', { name: 'App shop-copy' }).waitFor();
    await page.getByText('No backups yet.').waitFor();
    await compareApps('shop', 'shop-copy');
  });

  it('keeps the name an admin types when the proposed one arrives after the field took focus', async () => {
    // The page proposes "<app>-copy" once the backups are listed. Here the list is held until the
    // field has focus, as when a person clicks into it on a slow connection; the proposal must not
    // land in front of what they then type ("shop-copyshop-typed" before this was fixed).
    const page = await open();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked = false;
    await page.route(/\/api\/backups(\?.*)?$/, async (route) => {
      asked = true;
      await held;
      await route.continue();
    });
    await signIn(page, server.admin.token!, `/admin/restore?backup=${encodeURIComponent(String(firstBackup.id))}`);
    const name = page.getByLabel('New app name');
    await name.focus();
    await expect.poll(() => asked).toBe(true);
    release();
    await page.locator(`#restore-backup option[value="${String(firstBackup.id)}"]`).waitFor({ state: 'attached' });
    // The proposal runs after paint: two frames and a task later it has run, if it is going to.
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 50))))');
    await page.keyboard.insertText('shop-typed');
    expect(await name.inputValue()).toBe('shop-typed');
    await page.locator('#restore-name-check.name-available').getByText('shop-typed is free', { exact: true }).waitFor();
  });

  it('checks an uploaded archive without restoring, then restores it (upload progress, then the job to 100%) and the result equals the source', async () => {
    const page = await open();
    await signIn(page, server.admin.token!, '/admin/restore');
    await page.getByLabel('An archive file (upload)').check();
    await page.getByLabel('Archive (.zip)').setInputFiles(downloaded);
    await page.getByLabel('New app name').fill('shop-upload');
    await page.locator('#restore-name-check.name-available').getByText('shop-upload is free', { exact: true }).waitFor();
    // First a check only (the API's dry run): the same checks, nothing written.
    await page.getByRole('button', { name: 'Check without restoring' }).click();
    const report = page.getByRole('region', { name: 'Check report' });
    await report.getByText('The archive checks out and the name is free: a restore would succeed.').waitFor();
    await report.getByTestId('preflight-events').getByText(`${String(firstBackup.eventCount)} to restore of ${String(firstBackup.eventCount)} in the archive`).waitFor();
    await shot(page, 'restore-check');
    expect((await server.admin.get('/api/apps/shop-upload')).status).toBe(404);
    await page.getByRole('button', { name: 'Start restore' }).click();
    const job = await waitForRestoreEnd(page);
    expect(job.status).toBe('Completed');
    expect(job.source).toBe('upload:shop.zip');
    await page.getByText('uploaded 100%').waitFor();
    await page.waitForFunction("document.querySelector('#restore-progress')?.value === 100");
    expect(await page.locator('ol.log li').count()).toBe((job.log as unknown[]).length);
    await compareApps('shop', 'shop-upload');
  });

  it('restores from a URL (a migration link) up to an event number', async () => {
    const link = await owner.client.post(`/api/apps/shop/backups/${String(firstBackup.id)}/links`, { expiresIn: '15m' });
    expect(link.status).toBe(201);
    const page = await open();
    await signIn(page, server.admin.token!, '/admin/restore');
    await page.getByLabel('A URL (such as a migration link)').check();
    await page.getByLabel('Archive URL').fill(link.body.url);
    await page.getByLabel('New app name').fill('shop-as-of-10');
    await page.getByLabel('Up to an event number').check();
    await page.getByLabel('Last event to restore').fill('10');
    await page.locator('#restore-name-check.name-available').getByText('shop-as-of-10 is free', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Start restore' }).click();
    const job = await waitForRestoreEnd(page);
    expect(job.status, String(job.error)).toBe('Completed');
    expect(String(job.source)).toMatch(/^url:http:\/\/127\.0\.0\.1:\d+\/api\/links\//);
    expect(String(job.source)).not.toContain('signature');
    expect(job.restoredEvents).toBe(10);
    await page.getByText('Restored 10 events').waitFor();
    const events = await server.admin.get('/api/apps/shop-as-of-10/events?take=1000');
    const original = await server.admin.get('/api/apps/shop/events?take=10');
    // The ten events of the archive, then the restore's own (the restoring admin becomes an Owner).
    const shape = (e: { number: number; type: string }) => [e.number, e.type];
    expect(events.body.items.slice(0, 10).map(shape)).toEqual(original.body.items.map(shape));
  });

  it('shows a failing restore (a tampered archive) with the error as the API words it, as its check foretold, and nothing of it remains', async () => {
    const tampered = join(tempDir('appvault-browser-'), 'tampered.zip');
    writeFileSync(tampered, await tamper(readFileSync(downloaded), 'events/000001.ndjson', (old) => Buffer.from(old.toString().replace('Product 1 ', 'Product 9 '))));
    const page = await open();
    await signIn(page, server.admin.token!, '/admin/restore');
    await page.getByLabel('An archive file (upload)').check();
    await page.getByLabel('Archive (.zip)').setInputFiles(tampered);
    await page.getByLabel('New app name').fill('shop-tampered');
    await page.locator('#restore-name-check.name-available').getByText('shop-tampered is free', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Check without restoring' }).click();
    const checked = await page.getByRole('region', { name: 'Check report' }).getByTestId('preflight-error').textContent();
    await page.getByRole('button', { name: 'Start restore' }).click();
    const job = await waitForRestoreEnd(page);
    // The check said beforehand what the restore then failed with.
    expect(checked).toBe(job.error);
    expect(job.status).toBe('Failed');
    expect(String(job.error)).not.toBe('');
    expect(await page.getByTestId('restore-error').textContent()).toBe(job.error);
    await page.getByRole('alert').getByText('The restore failed').waitFor();
    await shot(page, 'restore-failed');
    expect((await server.admin.get('/api/apps/shop-tampered')).status).toBe(404);

    await page.getByRole('link', { name: 'All restores' }).click();
    await page.getByRole('heading', { name: 'Restores' }).waitFor();
    await page.locator('tbody tr[data-status="Failed"]').getByText(String(job.error)).waitFor();
    expect(await page.locator('tbody tr[data-status="Completed"]').count()).toBe(3);
    expect(await page.locator('tbody tr[data-status="Failed"]').count()).toBe(1);
    await shot(page, 'restores');
  });

  it('shows every backup and the users to an admin', async () => {
    const page = await open();
    await signIn(page, server.admin.token!);
    await page.getByRole('link', { name: 'All backups' }).click();
    await page.locator(`tr[data-backup-id="${String(firstBackup.id)}"]`).waitFor();
    await shot(page, 'all-backups');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('cell', { name: 'stranger@example.com' }).waitFor();
  });

  it('deletes a backup only after confirmation', async () => {
    const page = await open();
    await signIn(page, owner.key, '/admin/apps/shop');
    await page.getByLabel('Label (optional)').fill('second');
    await page.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-status="Completed"]', { hasText: 'second' });
    await row.waitFor();
    const id = await row.getAttribute('data-backup-id');

    await page.getByRole('button', { name: 'Delete backup second' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this backup?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await owner.client.get(`/api/apps/shop/backups/${id}`)).status).toBe(200);

    await page.getByRole('button', { name: 'Delete backup second' }).click();
    await dialog.getByRole('button', { name: 'Delete backup' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('Deleted backup second').waitFor();
    expect((await owner.client.get(`/api/apps/shop/backups/${id}`)).status).toBe(404);
  });

  it('starts a partial backup (one schema, no assets) from the form; it completes, its row says partial, and its restore says so too', async () => {
    const page = await open();
    await signIn(page, owner.key, '/admin/apps/shop');
    const form = page.locator('form.start-form');
    await form.getByLabel('Label (optional)').fill('products-only');
    await form.getByLabel('Only some schemas').check();
    const schemas = form.getByRole('group', { name: 'Schemas the backup holds' });
    await schemas.getByLabel('notes').waitFor();
    await schemas.getByLabel('products').check();
    await form.getByLabel('No assets').check();
    await shot(page, 'partial-backup-form');
    await form.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-status="Completed"]', { hasText: 'products-only' });
    await row.waitFor();
    await row.getByText('partial: products; assets none', { exact: true }).waitFor();
    expect(await row.getAttribute('data-partial')).toBe('true');
    expect(await row.getAttribute('data-trigger')).toBe('manual');
    const id = await row.getAttribute('data-backup-id');
    const backup = (await owner.client.get(`/api/apps/shop/backups/${id}`)).body;
    expect(backup.status).toBe('Completed');
    expect(backup.partial).toBe(true);
    expect(backup.include).toEqual({ schemas: ['products'], contents: null, assets: 'none' });
    expect(backup.assetCount).toBe(0);
    // Whole-app rows say so; only they can be rolled back to.
    const whole = page.locator('tr[data-status="Completed"]', { hasText: 'first' });
    await whole.getByText('whole app', { exact: true }).waitFor();
    await whole.getByRole('button', { name: 'Roll back to backup first' }).waitFor();
    expect(await row.getByRole('button', { name: /^Roll back/ }).count()).toBe(0);
    // The form is back to the whole app for the next backup only if chosen: the choice stays.
    expect(await form.getByLabel('Only some schemas').isChecked()).toBe(true);
    await shot(page, 'partial-backup');

    // An admin restores it under a new name: the job's page says it was partial.
    const restore = await server.admin.post('/api/restore', { backupId: id, name: 'shop-products' });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    const admin = await open();
    await signIn(admin, server.admin.token!, `/admin/restores/${String(restore.body.id)}`);
    await admin.locator('.facts .badge-completed').waitFor();
    await admin.getByTestId('restore-partial').getByText('partial: products; assets none', { exact: false }).waitFor();
    await admin.getByText('of a partial backup into').waitFor();
  });

  it('starts an incremental backup from the form: refused in the API’s words with a partial selection, then it holds only what changed and its row names its base; restored, it reads as the app', async () => {
    const page = await open();
    await signIn(page, owner.key, '/admin/apps/shop');
    const form = page.locator('form.start-form');
    // An incremental holds the whole app: with a partial selection the API refuses, and the page says so next to the field.
    await form.getByLabel('Only some schemas').check();
    await form.getByRole('group', { name: 'Schemas the backup holds' }).getByLabel('products').check();
    await form.getByLabel('Only what changed since the latest backup').check();
    await form.getByLabel('Label (optional)').fill('since-last');
    await form.getByRole('button', { name: 'Start backup' }).click();
    await expect.poll(() => form.locator('fieldset.incremental-fields [role="alert"]').textContent()).toContain('a partial backup cannot be incremental');
    await form.getByLabel('The whole app').check();
    // The base: a backup of the whole app, the latest Completed one when the incremental starts.
    const based = await owner.client.post('/api/apps/shop/backups', { label: 'chain-base' });
    expect(based.status, JSON.stringify(based.body)).toBe(202);
    const latest = (await waitForJob(owner.client, `/api/apps/shop/backups/${String(based.body.id)}`)) as { id: string; status: string; eventCount: number };
    expect(latest.status).toBe('Completed');
    expect((await owner.client.post('/api/apps/shop/content/products', { data: { title: 'Added after', price: 7 } })).status).toBe(201);
    await form.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-status="Completed"]', { hasText: 'since-last' });
    await row.waitFor();
    expect(await row.getByTestId('backup-incremental').textContent()).toContain(`the events since backup ${latest.id.slice(0, 8)}`);
    const backup = (await owner.client.get(`/api/apps/shop/backups/${await row.getAttribute('data-backup-id')}`)).body;
    expect(backup).toMatchObject({ kind: 'incremental', incremental: true, base: latest.id, baseArchive: { id: latest.id, events: latest.eventCount } });
    expect(backup.eventCount).toBeLessThan(latest.eventCount);
    await shot(page, 'incremental-backup');

    const restore = await server.admin.post('/api/restore', { backupId: backup.id, name: 'shop-chain' });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    await expect.poll(async () => (await server.admin.get(`/api/restore/${String(restore.body.id)}`)).body.status, { timeout: 60_000, interval: 250 }).toBe('Completed');
    const products = async (app: string) => ((await server.admin.get(`/api/apps/${app}/content/products?top=1000`)).body.items as { data: unknown }[]).map((item) => item.data);
    expect(await products('shop-chain')).toEqual(await products('shop'));
  });

  it('sets a backup schedule with retention and a partial selection, shows it, refuses bad values in the API’s words, and removes it after confirmation', async () => {
    const page = await open();
    await signIn(page, owner.key, '/admin/apps/shop');
    const section = page.getByRole('region', { name: 'Scheduled backups' });
    await section.getByText('No schedule.').waitFor();
    const schedule = section.getByLabel('Schedule (cron, UTC)');

    await schedule.fill('every day');
    await section.getByRole('button', { name: 'Set schedule' }).click();
    const said = (await owner.client.put('/api/apps/shop/backup-policy', { schedule: 'every day' })).body.message;
    expect(said).toMatch(/^schedule: must be a cron expression/);
    await section.getByRole('alert').getByText(said, { exact: true }).waitFor();

    // Once a year (1 January, 03:00 UTC): it will not run during the test.
    await schedule.fill('0 3 1 1 *');
    await section.getByLabel('Keep the last (backups)').fill('7');
    await section.getByLabel('Keep one a day for (days)').fill('14');
    await section.getByLabel('Only some schemas').check();
    await section.getByRole('group', { name: 'Schemas each scheduled backup holds' }).getByLabel('products').check();
    await section.getByLabel('Only the assets its contents reference').check();
    await section.getByRole('button', { name: 'Set schedule' }).click();
    await section.getByRole('status').getByText('Schedule set.').waitFor();
    const summary = section.getByTestId('policy-summary');
    expect(await summary.getByTestId('policy-schedule').textContent()).toBe('0 3 1 1 *');
    await summary.getByText('keep the last 7; one a day for 14 days', { exact: true }).waitFor();
    await summary.getByText('partial: products; assets referenced', { exact: true }).waitFor();
    const policy = (await owner.client.get('/api/apps/shop/backup-policy')).body;
    expect(policy).toMatchObject({ schedule: '0 3 1 1 *', keepLast: 7, keepDaily: 14, keepWeekly: null, keepMonthly: null, include: { schemas: ['products'], contents: null, assets: 'referenced' } });
    expect(new Date(policy.nextRun).toISOString()).toMatch(/^\d{4}-01-01T03:00:00/);
    await summary.locator(`time[datetime="${policy.nextRun}"]`).waitFor();
    await shot(page, 'backup-policy');

    // Replacing it: a bad keep value is refused with the API's message and nothing changes.
    await section.getByLabel('Keep one a week for (weeks)').fill('0');
    await section.getByRole('button', { name: 'Replace schedule' }).click();
    const refused = (await owner.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 1 1 *', keepWeekly: 0 })).body.message;
    expect(refused).toMatch(/^keepWeekly: /);
    await section.getByRole('alert').getByText(refused, { exact: true }).waitFor();
    expect((await owner.client.get('/api/apps/shop/backup-policy')).body.keepWeekly).toBeNull();
    await section.getByLabel('Keep one a week for (weeks)').fill('');
    await section.getByLabel('The whole app').check();
    await section.getByLabel('All assets').check();
    await section.getByRole('button', { name: 'Replace schedule' }).click();
    await section.getByRole('status').getByText('Schedule replaced.').waitFor();
    await summary.getByText('whole app', { exact: true }).waitFor();
    expect((await owner.client.get('/api/apps/shop/backup-policy')).body.include).toBeNull();

    await section.getByRole('button', { name: 'Remove schedule' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove the backup schedule?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await owner.client.get('/api/apps/shop/backup-policy')).status).toBe(200);
    await section.getByRole('button', { name: 'Remove schedule' }).click();
    await dialog.getByRole('button', { name: 'Remove schedule' }).click();
    await section.getByText('No schedule.').waitFor();
    await section.getByRole('status').getByText('Schedule removed').waitFor();
    const gone = await owner.client.get('/api/apps/shop/backup-policy');
    expect(gone.status).toBe(404);
    expect(gone.body.message).toBe('App "shop" has no backup policy');
  });

  it('rolls an app back to a backup in place: the dry run lists the changed content, a confirmation, the job to Completed with its safety backup, and the content is back', async () => {
    const page = await open();
    await signIn(page, owner.key, '/admin/apps/shop');
    await page.getByRole('heading', { name: 'Rollbacks' }).waitFor();
    await page.getByText('No rollbacks yet.').waitFor();
    const form = page.locator('form.start-form');
    await form.getByLabel('Label (optional)').fill('before-edit');
    await form.getByRole('button', { name: 'Start backup' }).click();
    const row = page.locator('tr[data-backup-id][data-status="Completed"]', { hasText: 'before-edit' });
    await row.waitFor();
    // A content changed after the backup.
    const [content] = (await owner.client.get('/api/apps/shop/content/products?top=1')).body.items;
    const edited = await owner.client.put(`/api/apps/shop/content/products/${content.id}`, { data: { ...content.data, title: 'Edited after the backup' } });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);

    const dialog = page.getByRole('dialog', { name: 'Roll back shop to backup before-edit?' });
    await row.getByRole('button', { name: 'Roll back to backup before-edit' }).click();
    await dialog.getByTestId('rollback-contents-changed').getByText(content.id, { exact: true }).waitFor();
    expect(await dialog.getByTestId('rollback-contents-changed-count').textContent()).toBe('1');
    for (const kind of ['schemas', 'contents', 'assets']) {
      for (const change of ['created', 'changed', 'deleted']) {
        if (kind === 'contents' && change === 'changed') continue;
        expect(await dialog.getByTestId(`rollback-${kind}-${change}-count`).textContent(), `${kind} ${change}`).toBe('0');
      }
    }
    await dialog.getByTestId('rollback-counts').getByText('0 created, 1 changed, 0 deleted', { exact: false }).waitFor();
    // The diff against the live app: the content's title as the backup has it, and as it is now.
    const diffed = dialog.getByTestId('diff-items').locator(`li[data-kind="contents"][data-id="${String(content.id)}"][data-change="changed"]`);
    const title = diffed.locator('li[data-property="data.title"][data-change="changed"]');
    await title.waitFor();
    expect(await title.textContent()).toBe(`~ data.title: ${JSON.stringify(content.data.title)} → "Edited after the backup"`);
    expect(await dialog.getByTestId('diff-contents-changed').textContent()).toBe('1');
    for (const kind of ['schemas', 'assets', 'contributors']) for (const change of ['added', 'removed', 'changed']) expect(await dialog.getByTestId(`diff-${kind}-${change}`).textContent(), `${kind} ${change}`).toBe('0');
    await shot(page, 'rollback-preview');
    // Cancelled with Escape: nothing was written, and focus is back on the row's action.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await owner.client.get('/api/apps/shop/rollbacks')).body.total).toBe(0);
    expect((await owner.client.get(`/api/apps/shop/content/products/${content.id}`)).body.data.title).toBe('Edited after the backup');
    expect(await page.evaluate<string | null | undefined>("document.activeElement?.getAttribute('aria-label')")).toBe('Roll back to backup before-edit');

    await page.keyboard.press('Enter');
    await dialog.getByRole('button', { name: 'Roll back', exact: true }).click();
    const panel = page.getByRole('region', { name: 'Rollback to backup before-edit' });
    await panel.locator('.badge-completed').waitFor();
    await panel.getByTestId('rollback-outcome').waitFor();
    await page.waitForFunction("document.querySelector('#rollback-progress')?.value === 100");
    const list = (await owner.client.get('/api/apps/shop/rollbacks')).body;
    expect(list.total).toBe(1);
    const job = list.items[0];
    expect(job.status, String(job.error)).toBe('Completed');
    expect(job.target.backupId).toBe(await row.getAttribute('data-backup-id'));
    expect(job.counts).toEqual({ created: 0, changed: 1, deleted: 0 });
    expect(job.changes.contents.changed).toEqual([content.id]);
    // The outcome links the safety backup, which the backups table now lists as such.
    const safety = panel.getByRole('link', { name: 'the safety backup' });
    await safety.waitFor();
    expect(await safety.getAttribute('href')).toBe(`#backup-${String(job.safetyBackupId)}`);
    await page.locator(`tr[data-backup-id="${String(job.safetyBackupId)}"][data-trigger="safety"][data-status="Completed"]`).waitFor();
    const logged = await panel.locator('ol.log li').allTextContents();
    expect(logged).toHaveLength(job.log.length);
    expect(logged.at(-1)).toContain(job.log.at(-1).message);
    await page.locator(`tr[data-rollback-id="${String(job.id)}"][data-status="Completed"]`).getByText('0 created, 1 changed, 0 deleted').waitFor();
    await shot(page, 'rollback-completed');
    await safety.click();
    expect(new URL(page.url()).hash).toBe(`#backup-${String(job.safetyBackupId)}`);

    // The content is back as it was in the backup.
    const back = (await owner.client.get(`/api/apps/shop/content/products/${content.id}`)).body;
    expect(back.data).toEqual(content.data);
  });

  it('shows a Developer the schedule but no rollback controls', async () => {
    const developer = await user('developer@example.com');
    expect((await owner.client.post('/api/apps/shop/contributors', { email: 'developer@example.com', role: 'Developer' })).status).toBe(200);
    const page = await open();
    await signIn(page, developer.key, '/admin/apps/shop');
    await page.getByRole('region', { name: 'Scheduled backups' }).getByText('No schedule.').waitFor();
    await page.locator('tr[data-status="Completed"]', { hasText: 'first' }).waitFor();
    await page.getByRole('button', { name: 'Start backup' }).waitFor();
    expect(await page.getByRole('button', { name: /^Roll back/ }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Rollbacks' }).count()).toBe(0);
    expect((await developer.client.get('/api/apps/shop/rollbacks')).status).toBe(403);
  });

  it('shows a Reader and an outsider no backup controls', async () => {
    const page = await open();
    await signIn(page, reader.key);
    await page.getByRole('row', { name: /^shop The shop Reader/ }).waitFor();
    await page.getByRole('link', { name: 'shop', exact: true }).click();
    await page.getByText('Backups of shop need the Owner or Developer role; you are Reader.').waitFor();
    await shot(page, 'reader-view');
    for (const name of ['Start backup', 'Download', 'Copy link', 'Delete', 'Set schedule', 'Roll back…']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Scheduled backups' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'New restore' }).count()).toBe(0);

    const outsider = await open();
    await signIn(outsider, stranger.key);
    await outsider.getByText('You contribute to no apps yet.').waitFor();
    await outsider.goto(`${server.url}/admin/apps/shop`);
    await outsider.getByRole('alert').getByText('You are not a contributor of app "shop"').waitFor();
    for (const name of ['Start backup', 'Download', 'Delete']) expect(await outsider.getByRole('button', { name }).count()).toBe(0);
    await outsider.goto(`${server.url}/admin/restore`);
    await outsider.getByRole('heading', { name: 'Administrators only' }).waitFor();
    expect(await outsider.getByRole('button', { name: 'Start restore' }).count()).toBe(0);
  });

  it('works with the keyboard alone and stays readable on a phone-sized screen', async () => {
    const page = await open({ width: 390, height: 844 });
    await page.goto(`${server.url}/admin/apps/shop`);
    await page.getByLabel('API key').waitFor();
    // Tab to the key field, type, Enter: signed in without a pointer.
    for (let i = 0; i < 10 && !(await page.evaluate<boolean>("document.activeElement?.id === 'api-key'")); i++) await page.keyboard.press('Tab');
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('api-key');
    await page.keyboard.type(owner.key);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'App shop' }).waitFor();
    await page.locator('tr[data-status="Completed"]', { hasText: 'first' }).waitFor();
    // Every control has a name a screen reader can say.
    const unnamed = await page.evaluate<string[]>(`[...document.querySelectorAll('input, select, button, textarea')].filter((el) => {
      const id = el.getAttribute('id');
      const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (id && document.querySelector('label[for="' + id + '"]')) || el.closest('label');
      return !labelled && !(el.tagName === 'BUTTON' && el.textContent.trim());
    }).map((el) => el.outerHTML.slice(0, 80))`);
    expect(unnamed).toEqual([]);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, 'app-backups-phone');
  });
});
