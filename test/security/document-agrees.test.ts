/**
 * Issue 23, finding 14: where Schemathesis found the OpenAPI document saying one thing and the
 * service doing another. Each check reads the served document, then asks the service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

type Schema = { properties: Record<string, { format?: string; pattern?: string; minLength?: number; maximum?: number; description?: string }> };
let t: TestApp;
let doc: { info: { description: string }; paths: Record<string, Record<string, { description?: string; requestBody?: { content: Record<string, { schema: Schema }> }; parameters?: Array<{ name: string; schema: { format?: string } }> }>> };
const body = (path: string, method: string) => doc.paths[path]![method]!.requestBody!.content['application/json']!.schema;

beforeAll(async () => {
  t = await buildTestApp();
  doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(() => t?.close());

describe('the document says what the service does', () => {
  it('email: a pattern the service holds to, not format: email (which allows 0@com)', async () => {
    const email = body('/api/identity/register/', 'post').properties['email']!;
    expect(email.format).toBeUndefined();
    expect(new RegExp(email.pattern!).test('0@com')).toBe(false);
    expect(new RegExp(email.pattern!).test('name@example.com')).toBe(true);
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/register/', payload: { username: 'zero', email: '0@com', password: 'a-long-enough-passphrase' } });
    expect(res.statusCode).toBe(400);
  });

  it('new passwords: minLength 10, as enforced', () => {
    expect(body('/api/identity/register/', 'post').properties['password']!.minLength).toBe(10);
    expect(body('/api/identity/me/password/', 'post').properties['new_password']!.minLength).toBe(10);
    expect(body('/api/identity/password-reset/confirm/', 'post').properties['new_password']!.minLength).toBe(10);
  });

  it('NUL refusal, the hourly day as format: date, the cart cap, DELETE customers/{id}/ deactivating', () => {
    expect(doc.info.description).toMatch(/U\+0000/);
    const date = doc.paths['/api/orders/stats/hourly/']!['get']!.parameters!.find((p) => p.name === 'date')!;
    expect(date.schema.format).toBe('date');
    const quantity = body('/api/cart/items/{product_id}/', 'put').properties['quantity']!;
    expect(quantity.maximum).toBeLessThan(1_000_000);
    expect(quantity.description).toMatch(/CART_MAX_UNITS_PER_LINE \(default 20\)/);
    expect(doc.paths['/api/identity/customers/{id}/']!['delete']!.description).toMatch(/[Dd]eactivates/);
  });
});
