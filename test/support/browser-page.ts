import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describe, it } from 'vitest';

/**
 * What the browser tests share: Debian's Chromium driven through playwright-core (never a browser
 * download), one context per page so sign-ins do not mix, waits that give up well before the test
 * does (so a failure names what it waited for), and screenshots into docs/screenshots, so the
 * README's pictures are the page as it is.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const WAIT_TIMEOUT = 45_000;
const SHOTS = join(process.cwd(), 'docs', 'screenshots');
export const inCi = ['true', '1'].includes((process.env['CI'] ?? '').toLowerCase());

/**
 * A suite that runs in Chromium. Without Chromium it is skipped with a line saying how to get it,
 * except in CI (CI=true), where the suite runs and its set-up fails: the browser tests must run there.
 */
export function describeInBrowser(title: string, options: { timeout: number }, body: () => void): void {
  if (!existsSync(CHROMIUM) && !inCi) {
    console.log(`SKIP browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);
    describe.skip(title, () => {
      it(`needs ${CHROMIUM}`, () => undefined);
    });
    return;
  }
  describe(`${title} (Chromium, headless)`, options, body);
}

export interface PageOptions {
  viewport?: { width: number; height: number };
  /** Downloads are kept (page.waitForEvent('download')). */
  downloads?: boolean;
  /** The origin the page may read and write the clipboard of. */
  clipboardFor?: string;
}

/** One Chromium for a suite, and the pages it opens; `close` closes them all. */
export class BrowserPages {
  private browser?: Browser;
  private readonly contexts: BrowserContext[] = [];

  async launch(): Promise<void> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install chromium): with CI=true the browser tests must run, not skip`);
    const { chromium } = await import('playwright-core');
    this.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }

  /** A blank page in a context of its own (en-GB, UTC). */
  async page(options: PageOptions = {}): Promise<Page> {
    if (!this.browser) throw new Error('launch() first');
    const context = await this.browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, acceptDownloads: options.downloads ?? false, locale: 'en-GB', timezoneId: 'UTC' });
    this.contexts.push(context);
    if (options.clipboardFor) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: options.clipboardFor });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_TIMEOUT);
    return page;
  }

  /** A page signed in with `key` at `path` of the server at `baseUrl`. */
  async signedIn(baseUrl: string, key: string, path: string, options: PageOptions = {}): Promise<Page> {
    const page = await this.page(options);
    await signIn(page, baseUrl, key, path);
    return page;
  }

  async close(): Promise<void> {
    for (const context of this.contexts) await context.close().catch(() => undefined);
    await this.browser?.close();
  }
}

/** Opens `path` and signs in with the API key as a person does; waits until the page says who is signed in. */
export async function signIn(page: Page, baseUrl: string, key: string, path = '/admin'): Promise<void> {
  await page.goto(`${baseUrl}${path}`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor();
}

/** The whole page as docs/screenshots/{name}.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
