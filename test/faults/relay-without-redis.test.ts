/**
 * Mails and webhooks need PostgreSQL only: with Redis gone, an order placed meanwhile is still
 * relayed from the outbox and its customer mailed. (The relay used to append every record to a
 * Redis stream first, so a Redis outage stopped every order mail and webhook until it was back.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.ts';
import { privateRedisAvailable, startPrivateRedis, type PrivateRedis } from '../helpers/private-services.ts';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { onRealPostgres } from '../helpers/test-env.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

describe.runIf(onRealPostgres && privateRedisAvailable)('the outbox relay with Redis down', () => {
  let redis: PrivateRedis;
  let smtp: TestSmtp;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    smtp = await startTestSmtp();
    t = await buildTestApp({ redis: false, env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '300', SMTP_URL: smtp.url } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    await smtp?.stop();
  });

  it('relays an order placed while Redis is down and mails its customer', async () => {
    const staff = await createUser(t, { staff: true });
    const customer = await createUser(t);
    const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Kettle', price: '24.00', quantity: 5 } });
    expect(created.statusCode).toBe(201);
    const product = created.json() as { id: string };
    await redis.kill('SIGKILL');

    const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
    expect(res.statusCode).toBe(201);
    expect(await t.services.orders.relayOutbox()).toBeGreaterThanOrEqual(1);
    expect(await t.services.identity.deliverMail()).toBeGreaterThanOrEqual(1);
    const mail = await smtp.waitForMail(`${customer.username.toLowerCase()}@example.com`);
    expect(mail.text).toContain((res.json() as { id: string }).id);
  }, 60_000);
});
