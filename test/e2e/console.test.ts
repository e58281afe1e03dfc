/**
 * The staff console in a real browser, against the real app over HTTP: staff sign in, find a
 * product, set its stock and see the API report it, create a product, ship an order, sign out;
 * a customer is kept out; an expired access token is refreshed once and the request retried.
 * Each page is photographed on a laptop and a tablet viewport (SCREENSHOTS).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { startJobs } from '../../src/jobs.ts';
import { createProduct, stockOf, type TestProduct } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { hasChromium, launchBrowser, openConsole, signIn, type ConsolePage } from './browser.ts';

/** Where console/src/api.ts keeps the session. */
const SESSION_KEY = 'opply-console-session';
const ADMIN = { username: 'console-admin', password: 'a long staff password 42' };

let t: TestApp;
let baseUrl: string;
let browser: Browser;
let staff: TestUser;
let alice: TestUser;
let tea: TestProduct;
/** Delivers webhooks (as the server process does); a local receiver answers them 200. */
let jobs: { stop(): Promise<void> };
let receiver: Server;
const received: string[] = [];

const api = (user: TestUser, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: user.auth, ...(payload ? { payload } : {}) });

describe.skipIf(!hasChromium)('staff console in Chromium', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    t = await buildTestApp({ env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
    staff = await createUser(t, { staff: true });
    alice = await createUser(t);
    await api(staff, 'POST', '/api/catalog/categories/', { slug: 'tea', name: 'Tea' });
    tea = await createProduct(t, { stock: 10, priceCents: 450, name: 'Zanzibar Clove Tea' });
    for (let i = 0; i < 8; i++) await createProduct(t, { stock: 3 + i * 20, priceCents: 199 + i * 100, name: `Demo Biscuit ${i + 1}` });
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push(body);
        response.writeHead(200).end('thanks');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    jobs = startJobs(t.services);
  }, 120_000);
  afterAll(async () => {
    await jobs?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
    await browser?.close();
    await t?.close();
  });

  let laptop: ConsolePage;

  it('keeps a customer out: told the console is for staff, no data, no session left', async () => {
    const view = await openConsole(browser, baseUrl, 'laptop');
    await view.shot('sign-in');
    await signIn(view.page, alice.username, alice.password);
    await expect.poll(() => view.page.getByText('This console is for staff').isVisible()).toBe(true);
    await view.shot('customer-refused');
    expect(view.page.url()).toMatch(/#\/login$/);
    await expect.poll(() => view.page.getByText('Zanzibar').count()).toBe(0);
    expect(await view.page.evaluate('sessionStorage.length')).toBe(0);
    expect(view.problems).toEqual([]);
    await view.context.close();
  });

  it('signs staff in to the dashboard', async () => {
    laptop = await openConsole(browser, baseUrl, 'laptop');
    await signIn(laptop.page, ADMIN.username, ADMIN.password);
    await laptop.page.getByText('Orders per hour today (UTC)').waitFor();
    await laptop.page.getByRole('list', { name: 'Products lowest on stock' }).waitFor();
    await laptop.shot('dashboard');
  });

  it('finds a product by name', async () => {
    const { page } = laptop;
    await page.goto('/admin/#/products');
    await page.getByRole('cell', { name: 'Demo Biscuit 1', exact: true }).waitFor();
    await laptop.shot('products');
    await page.getByLabel('Search by name').fill('clove');
    await page.getByRole('cell', { name: 'Zanzibar Clove Tea' }).waitFor();
    await expect.poll(() => page.getByRole('cell', { name: /Demo Biscuit/ }).count()).toBe(0);
    await laptop.shot('products-search');
  });

  it('sets stock, shows the units held in carts, and the API reports the new figures', async () => {
    const { page } = laptop;
    expect((await api(alice, 'PUT', `/api/cart/items/${tea.id}/`, { quantity: 3 })).statusCode).toBe(200);
    await page.goto(`/admin/#/stock/${tea.id}`);
    await expect.poll(() => page.locator('[data-figure="Held in carts"]').textContent()).toBe('3');
    await page.getByLabel(/^New stock count/).fill('42');
    await page.getByRole('button', { name: 'Save stock' }).click();
    await page.getByText('Stock saved').waitFor();
    await expect.poll(() => page.locator('[data-figure="On the shelf"]').textContent()).toBe('42');
    await laptop.shot('stock-edit');
    expect((await api(staff, 'GET', `/api/catalog/products/${tea.id}/`)).json()).toMatchObject({ quantity: 39 });
    expect((await api(staff, 'GET', `/api/catalog/products/${tea.id}/inventory/`)).json()).toMatchObject({ stock: 42, held: 3 });

    await page.getByLabel('Adjust by a delta').check();
    await page.getByLabel(/^Change by/).fill('-2');
    await page.getByRole('button', { name: 'Save stock' }).click();
    await expect.poll(() => page.locator('[data-figure="On the shelf"]').textContent()).toBe('40');
    expect(await stockOf(t, tea.id)).toBe(40);
  });

  it('creates a product', async () => {
    const { page } = laptop;
    await page.goto('/admin/#/products/create');
    await page.getByLabel(/^Name/).fill('Rooibos Vanilla 100 g');
    await page.getByLabel(/^Price/).fill('6.75');
    await page.getByLabel(/^Stock/).fill('12');
    await page.getByLabel('Category').click();
    await page.getByRole('option', { name: 'Tea' }).click();
    await laptop.shot('product-create');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/#\/products\/[0-9a-f-]{36}$/);
    await laptop.shot('product-edit');
    const found = (await api(staff, 'GET', '/api/catalog/products/?search=rooibos')).json();
    expect(found.results).toEqual([expect.objectContaining({ name: 'Rooibos Vanilla 100 g', price: '6.75', quantity: 12, category: 'tea' })]);
  });

  it("ships a customer's order from the staff order list", async () => {
    const { page } = laptop;
    const placed = await api(alice, 'POST', '/api/orders/orders/', { order_items: [{ product: tea.id, quantity: 2 }] });
    expect(placed.statusCode).toBe(201);
    const order = placed.json() as { id: string };
    await page.goto('/admin/#/orders');
    const row = page.getByRole('row').filter({ hasText: order.id.slice(-8) });
    await row.getByRole('button', { name: 'Ship' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Order shipped').waitFor();
    await expect.poll(() => row.getByText('shipped').count()).toBe(1);
    await laptop.shot('orders');
    expect((await api(alice, 'GET', `/api/orders/orders/${order.id}/`)).json()).toMatchObject({ status: 'shipped' });
  });

  it('shows categories and customers', async () => {
    const { page } = laptop;
    await page.goto('/admin/#/categories');
    await page.getByRole('cell', { name: 'Tea', exact: true }).waitFor();
    await laptop.shot('categories');
    await page.goto('/admin/#/customers');
    await page.getByLabel(/^Find/).fill(alice.username);
    await page.getByRole('cell', { name: alice.username, exact: true }).waitFor();
    await laptop.shot('customers');
  });

  it('subscribes a receiver to webhooks, shows the secret once, and logs the delivery of a shipped order', async () => {
    const { page } = laptop;
    const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    await page.goto('/admin/#/webhooks/create');
    await page.getByLabel(/^URL/).fill(target);
    // Events stay at their default, "*" (every type).
    await page.getByLabel(/^Description/).fill('fulfilment');
    await laptop.shot('webhook-create');
    await page.getByRole('button', { name: 'Save' }).click();
    const dialog = page.getByRole('dialog', { name: 'Subscription created' });
    await dialog.getByText("it won't be shown again").waitFor();
    const secret = (await dialog.locator('[data-secret]').textContent()) ?? '';
    expect(secret).toMatch(/^whsec_/);
    await laptop.shot('webhook-secret');
    await dialog.getByRole('button', { name: 'I have copied it' }).click();
    await page.waitForURL(/#\/webhooks\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    // Shown once: the subscription as the API reads it back has no secret, and the page neither.
    expect((await api(staff, 'GET', `/api/webhooks/subscriptions/${id}/`)).json()).toMatchObject({ url: target, events: ['*'], description: 'fulfilment', enabled: true });
    expect((await api(staff, 'GET', `/api/webhooks/subscriptions/${id}/`)).json()).not.toHaveProperty('secret');
    await page.getByText('No deliveries yet.').waitFor();
    expect(await page.getByText(secret).count()).toBe(0);

    const placed = await api(alice, 'POST', '/api/orders/orders/', { order_items: [{ product: tea.id, quantity: 1 }] });
    expect(placed.statusCode).toBe(201);
    const order = placed.json() as { id: string };
    expect((await api(staff, 'POST', `/api/orders/orders/${order.id}/ship/`, {})).statusCode).toBe(200);
    await expect.poll(() => received.some((body) => body.includes(order.id) && body.includes('order.shipped')), { timeout: 30_000 }).toBe(true);

    // The log shows it once the worker has recorded the receiver's answer.
    const log = page.getByRole('table', { name: 'Delivery log' });
    await expect
      .poll(
        async () => {
          await page.reload();
          await page.getByText(/Delivery log/).first().waitFor();
          return log.getByRole('row').filter({ hasText: 'order.shipped' }).filter({ hasText: 'succeeded' }).filter({ hasText: '200' }).count();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(1);
    await laptop.shot('webhook-deliveries');

    // Redeliver queues a new attempt of the same event, which the receiver gets again.
    const before = received.filter((body) => body.includes(order.id)).length;
    await log.getByRole('row').filter({ hasText: 'order.shipped' }).getByRole('button', { name: 'Redeliver' }).click();
    await page.getByText('Queued for redelivery').waitFor();
    await expect.poll(() => received.filter((body) => body.includes(order.id)).length, { timeout: 30_000 }).toBe(before + 1);

    // The list shows its health: enabled, last delivery succeeded with a 200.
    await page.goto('/admin/#/webhooks');
    const row = page.getByRole('row').filter({ hasText: target });
    await expect.poll(() => row.getByText('succeeded (200)').count()).toBe(1);
    await laptop.shot('webhooks');
    expect(laptop.problems).toEqual([]);
    // The next test starts from the customers page.
    await page.goto('/admin/#/customers');
    await page.getByLabel(/^Find/).fill(alice.username);
  });

  it('refreshes an expired access token once and retries, then signs out for good', async () => {
    const { page } = laptop;
    const before = await session(page);
    // (Strings: the page's globals are not in this Node program's types.)
    await page.evaluate(`sessionStorage.setItem(${JSON.stringify(SESSION_KEY)}, ${JSON.stringify(JSON.stringify({ ...before, access: 'expired.or.forged' }))})`);
    // A reload, not a route change: a route change would start its own refresh, and a reload
    // while that one is in flight presents the rotated-away token (which ends the session).
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/identity/token/refresh/'));
    await page.reload();
    expect((await refreshed).status()).toBe(200);
    await page.getByRole('cell', { name: alice.username, exact: true }).waitFor();
    const after = await session(page);
    expect(after.refresh).not.toBe(before.refresh);
    expect(after.access).not.toBe('expired.or.forged');

    await page.getByRole('button', { name: 'Profile' }).click();
    await page.getByRole('menuitem', { name: 'Logout' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const refresh = await t.app.inject({ method: 'POST', url: '/api/identity/token/refresh/', payload: { refresh: after.refresh } });
    expect(refresh.statusCode).toBe(401);
    expect(laptop.problems).toEqual([]);
    await laptop.context.close();
  });

  it('fits a tablet', async () => {
    const tablet = await openConsole(browser, baseUrl, 'tablet');
    const { page } = tablet;
    // Signed in with the keyboard alone.
    await page.goto('/admin/');
    await page.getByLabel(/^Username/).focus();
    await page.keyboard.type(ADMIN.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN.password);
    await page.keyboard.press('Enter');
    await page.getByText('Orders per hour today (UTC)').waitFor();
    await tablet.shot('dashboard');
    for (const [name, hash, ready] of [
      ['products', '#/products', 'Zanzibar Clove Tea'],
      ['stock-edit', `#/stock/${tea.id}`, 'Held in carts'],
      ['orders', '#/orders', 'shipped'],
      ['customers', '#/customers', alice.username],
      ['categories', '#/categories', 'Tea'],
    ] as const) {
      await page.goto(`/admin/${hash}`);
      await page.getByText(ready, { exact: true }).first().waitFor();
      await tablet.shot(name);
      expect(await page.evaluate("document.querySelectorAll('input').length"), `inputs on ${name}`).toBeGreaterThan(0);
      expect(await page.evaluate(UNLABELLED_INPUTS), `inputs without a label on ${name}`).toEqual([]);
    }
    // Nothing wider than the screen: no sideways scrolling on a tablet.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(820);
    expect(tablet.problems).toEqual([]);
    await tablet.context.close();
  });
});

/** Form controls a screen reader could not name (MUI's hidden native select inputs excluded). */
const UNLABELLED_INPUTS = `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter((el) => el.getAttribute('aria-hidden') !== 'true')
  .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
  .map((el) => el.outerHTML.slice(0, 160))`;

async function session(page: Page): Promise<{ access: string; refresh: string }> {
  return JSON.parse(String(await page.evaluate(`sessionStorage.getItem(${JSON.stringify(SESSION_KEY)})`)));
}
