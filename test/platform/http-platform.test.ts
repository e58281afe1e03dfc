/** The platform's cross-cutting HTTP behaviour: request ids in logs, the global rate limit, CORS. */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await buildTestApp({
    logStream,
    env: { RATE_LIMIT_PER_MINUTE: '3', CORS_ORIGINS: 'https://shop.example.com' },
    routes: (app) => {
      app.get('/api/ping', { config: { auth: 'public' } }, async (request) => {
        request.log.info('handler ran');
        return { pong: true };
      });
    },
  });
});
afterAll(() => t.close());

describe('request ids in the log', () => {
  it('puts the request id on every log line of that request', async () => {
    await t.app.inject({ method: 'GET', url: '/api/ping', headers: { 'x-request-id': 'log-me-1' }, remoteAddress: '10.9.0.1' });
    const mine = lines.filter((l) => JSON.stringify(l).includes('log-me-1') || l.msg === 'handler ran');
    expect(mine.map((l) => l.msg)).toEqual(['handler ran', 'request completed']);
    for (const line of mine) expect(line.request_id).toBe('log-me-1');
  });

  it('writes one access line per request, with what an operator looks for', async () => {
    await t.app.inject({ method: 'GET', url: '/api/ping?x=1', headers: { 'x-request-id': 'log-me-2' }, remoteAddress: '10.9.0.7' });
    const access = lines.filter((l) => l.request_id === 'log-me-2' && l.msg !== 'handler ran');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ msg: 'request completed', level: 30, method: 'GET', url: '/api/ping?x=1', status: 200, remote_address: '10.9.0.7' });
    expect(access[0]!.duration_ms).toEqual(expect.any(Number));
  });

  it('names the signed-in user on the access line, and leaves quiet routes out', async () => {
    const user = await createUser(t);
    await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: { ...user.auth, 'x-request-id': 'log-me-3' }, remoteAddress: '10.9.0.8' });
    expect(lines.find((l) => l.request_id === 'log-me-3')).toMatchObject({ status: 200, user_id: user.id });
    await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'log-me-4' } });
    expect(lines.filter((l) => l.request_id === 'log-me-4')).toEqual([]);
  });
});

describe('RATE_LIMIT_PER_MINUTE', () => {
  it('answers 429 with Retry-After past the budget of one address, and leaves other addresses alone', async () => {
    const call = (remoteAddress: string) => t.app.inject({ method: 'GET', url: '/api/ping', remoteAddress });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call('10.9.0.2'));
    expect(answers.slice(0, 3).map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(answers[3]!.statusCode).toBe(429);
    expect(answers[3]!.json().code).toBe('rate_limited');
    expect(Number(answers[3]!.headers['retry-after'])).toBeGreaterThan(0);
    expect((await call('10.9.0.3')).statusCode).toBe(200);
  });

  it('does not count health checks', async () => {
    for (let i = 0; i < 5; i++) expect((await t.app.inject({ method: 'GET', url: '/health/live', remoteAddress: '10.9.0.4' })).statusCode).toBe(200);
  });
});

describe('CORS', () => {
  it('allows the configured origin and no other', async () => {
    const preflight = (origin: string) =>
      t.app.inject({
        method: 'OPTIONS',
        url: '/api/ping',
        remoteAddress: '10.9.0.5',
        headers: { origin, 'access-control-request-method': 'GET' },
      });
    expect((await preflight('https://shop.example.com')).headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect((await preflight('https://evil.example.com')).headers['access-control-allow-origin']).toBeUndefined();
  });
});
