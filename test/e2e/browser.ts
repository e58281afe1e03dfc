/**
 * A real browser for the console's end-to-end tests: Debian's Chromium driven by playwright-core
 * (Playwright's own browser download does not work on these machines). Tests skip when
 * /usr/bin/chromium is absent, so `npm test` passes with only Node; CI installs it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { projectRoot } from '../../src/platform/paths.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Where each page's screenshot goes (git-ignored; CI keeps it as an artifact). */
export const SCREENSHOTS = path.join(projectRoot(), 'artifacts', 'console-screenshots');

export const VIEWPORTS = {
  laptop: { width: 1280, height: 800 },
  tablet: { width: 820, height: 1180 },
} as const;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Without the network flags Chromium keeps trying hosts a CI machine may not reach.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** Content-Security-Policy violations and page errors seen so far (should stay empty). */
  problems: string[];
  shot(name: string): Promise<void>;
}

export async function openConsole(browser: Browser, baseUrl: string, viewport: keyof typeof VIEWPORTS): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: VIEWPORTS[viewport], baseURL: baseUrl });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) problems.push(message.text());
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    problems,
    shot: async (name) => {
      // Let transitions and the list's loading state settle before the picture.
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(SCREENSHOTS, `${viewport}-${name}.png`) });
    },
  };
}

export async function signIn(page: Page, username: string, password: string) {
  await page.goto('/admin/');
  await page.getByLabel(/^Username/).fill(username);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
