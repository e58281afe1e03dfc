/**
 * The contract as a generated client meets it (issue 14): every error in its real media type,
 * integer parameters that refuse non-integers, the router's own answers in the problem shape,
 * the contract's order paths, and every answer the service gives present in the document.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../helpers/catalog-factory.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
let customer: TestUser;
let staff: TestUser;

beforeAll(async () => {
  t = await buildTestApp();
  [customer, staff] = await Promise.all([createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t.close());

interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  json: () => Record<string, unknown>;
}

function expectProblem(res: Answer, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({ status, code });
  expect(typeof res.headers['x-request-id']).toBe('string');
  expect(body.request_id).toBe(res.headers['x-request-id']);
  return body;
}

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

async function document(): Promise<Document> {
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  return res.json() as Document;
}

describe('integer query parameters are integers', () => {
  const lists = [
    { url: '/api/catalog/products/', who: () => customer },
    { url: '/api/orders/orders/', who: () => customer },
    { url: '/api/identity/customers/', who: () => staff },
  ];
  const wrong = ['limit=true', 'limit=1.5', 'offset=false', 'limit=0x10', 'limit=1e1', 'limit=', 'offset=%201'];

  it.each(lists)('$url refuses non-integer limit and offset with 400', async ({ url, who }) => {
    for (const query of wrong) {
      const res = await t.app.inject({ method: 'GET', url: `${url}?${query}`, headers: who().auth });
      const body = expectProblem(res, 400, 'validation_failed');
      expect(body.errors, query).toEqual([expect.objectContaining({ field: query.split('=')[0] })]);
    }
    const fine = await t.app.inject({ method: 'GET', url: `${url}?limit=2&offset=0`, headers: who().auth });
    expect(fine.statusCode).toBe(200);
  });
});

describe('answers the router gives itself', () => {
  it('a path parameter over the length limit: 414 problem+json with the request id', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${'a'.repeat(201)}/`, headers: { ...customer.auth, 'x-request-id': 'long-param-1' } });
    const body = expectProblem(res, 414, 'uri_too_long');
    expect(body.request_id).toBe('long-param-1');
  });

  it('a malformed URL: 400 problem+json', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/catalog/products/%E0%A4%A/', headers: customer.auth });
    expectProblem(res, 400, 'validation_failed');
  });

  it('an unknown route: 404; a known path with a method it does not serve: 405 with Allow (issue 23)', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/nowhere/' }), 404, 'not_found');
    const wrongMethod = await t.app.inject({ method: 'DELETE', url: '/api/identity/token/' });
    expectProblem(wrongMethod, 405, 'method_not_allowed');
    expect(wrongMethod.headers.allow).toBe('POST');
  });

  it('what the HTTP parser refuses: problem+json with an X-Request-Id', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    const requestId = /\r\nx-request-id: (\S+)/i.exec(head!)?.[1];
    expect(requestId).toBeDefined();
    expect(JSON.parse(body!)).toMatchObject({ status: 400, code: 'validation_failed', request_id: requestId });
  });
});

describe('orders at the contract paths', () => {
  it('serves each order path with and without the trailing slash', async () => {
    const product = await createProduct(t, { stock: 10 });
    for (const url of ['/api/orders/orders/', '/api/orders/orders']) {
      const placed = await t.app.inject({ method: 'POST', url, headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
      expect(placed.statusCode).toBe(201);
      expect((await t.app.inject({ method: 'GET', url, headers: customer.auth })).statusCode).toBe(200);
      const id = placed.json().id as string;
      for (const one of [`/api/orders/orders/${id}/`, `/api/orders/orders/${id}`]) {
        expect((await t.app.inject({ method: 'GET', url: one, headers: customer.auth })).statusCode).toBe(200);
      }
      const cancel = url.endsWith('/') ? `/api/orders/orders/${id}/cancel/` : `/api/orders/orders/${id}/cancel`;
      expect((await t.app.inject({ method: 'POST', url: cancel, headers: customer.auth })).json()).toMatchObject({ status: 'cancelled', cancel_reason: 'customer' });
    }
    const other = (await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } })).json();
    for (const ship of [`/api/orders/orders/${other.id}/ship/`, `/api/orders/orders/${other.id}/ship`]) {
      const res = await t.app.inject({ method: 'POST', url: ship, headers: staff.auth });
      expect([200, 409]).toContain(res.statusCode);
    }
  });
});

describe('the document', () => {
  it('documents every error as application/problem+json, never as application/json', async () => {
    const { paths } = await document();
    for (const [path, operations] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const errors = Object.entries(operation.responses).filter(([status]) => /^[45]/.test(status));
        expect(errors.map(([s]) => s), `${method} ${path}`).toEqual(expect.arrayContaining(['4XX', '5XX']));
        for (const [status, response] of errors) {
          expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });

  it('names the stable codes of the error table in the shared Problem schema', async () => {
    const doc = (await document()) as Document & { components: { schemas: { Problem: { properties: { code: { enum: string[] } }; required: string[] } } } };
    const problem = doc.components.schemas.Problem;
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code', 'request_id']));
    expect(problem.properties.code.enum).toEqual(expect.arrayContaining(['validation_failed', 'invalid_token', 'insufficient_stock', 'idempotency_key_reused', 'unavailable']));
  });

  it('documents POST orders as 201 (the answer it gives, replays included), not 200', async () => {
    const post = (await document()).paths['/api/orders/orders/']!['post']!;
    expect(Object.keys(post.responses)).toContain('201');
    expect(Object.keys(post.responses)).not.toContain('200');
  });

  it('documents the operations endpoints: live, ready with its 503, metrics, docs, this document', async () => {
    const { paths } = await document();
    expect(Object.keys(paths['/health/live']!['get']!.responses)).toContain('200');
    expect(Object.keys(paths['/health/ready']!['get']!.responses['503']!.content!)).toEqual(['application/problem+json']);
    expect(Object.keys(paths['/metrics']!['get']!.responses['200']!.content!)).toEqual(['text/plain; version=0.0.4']);
    expect(Object.keys(paths['/docs']!['get']!.responses['200']!.content!)).toEqual(['text/html']);
    expect(Object.keys(paths['/openapi.json']!['get']!.responses['200']!.content!)).toEqual(['application/json']);
  });
});
