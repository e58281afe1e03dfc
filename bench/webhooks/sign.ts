/**
 * The worker's signature per delivery: `standardwebhooks` (SHA-256 in JavaScript, fast-sha256)
 * against node:crypto's HMAC-SHA256 as src/modules/webhooks/send.ts makes it, over the same
 * Standard Webhooks input (`id.timestamp.body`) for an order event's body; both must agree.
 *
 *   npx tsx bench/webhooks/sign.ts        (BENCH_SIGNATURES=20000)
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { machine } from '../tools.ts';

const N = Number(process.env.BENCH_SIGNATURES ?? 20_000);
const secretBytes = randomBytes(32);
const secret = `whsec_${secretBytes.toString('base64')}`;
const key = createSecretKey(secretBytes);
const library = new Webhook(secret);
const id = '0193b0f2-1111-7000-8000-000000000000';
const at = new Date();
const line = (i: number) => ({ product: '0193b0f2-2222-7000-8000-00000000000' + i, name: `Product ${i}`, quantity: 2, price: '12.50', line_total: '25.00' });
const body = JSON.stringify({
  type: 'order.created',
  timestamp: at.toISOString(),
  data: { id, customer: '0193b0f2-3333-7000-8000-000000000000', status: 'confirmed', total: '75.00', order_items: [0, 1, 2].map(line), created_at: at.toISOString() },
});
const native = () => `v1,${createHmac('sha256', key).update(`${id}.${Math.floor(at.getTime() / 1000)}.${body}`).digest('base64')}`;
const viaLibrary = () => library.sign(id, at, body);
if (native() !== viaLibrary()) throw new Error('the two signatures differ');

const perSignature = (sign: () => string) => {
  for (let i = 0; i < N / 10; i++) sign();
  const started = performance.now();
  for (let i = 0; i < N; i++) sign();
  return ((performance.now() - started) * 1000) / N;
};
// Alternated, twice each, so a change in the machine's load falls on both.
const rounds = [0, 1].map(() => ({ library: perSignature(viaLibrary), native: perSignature(native) }));
const best = (k: 'library' | 'native') => Math.min(...rounds.map((r) => r[k]));
console.log(`signatures, ${new Date().toISOString()}: ${machine()}; node ${process.version}; body ${Buffer.byteLength(body)} bytes, ${N} signatures a round, best of 2\n`);
console.log('| signer | µs per signature | vs node:crypto |');
console.log('|---|---:|---:|');
console.log(`| node:crypto HMAC-SHA256 (send.ts) | ${best('native').toFixed(2)} | 1.00 |`);
console.log(`| standardwebhooks 1.3 (fast-sha256) | ${best('library').toFixed(2)} | ${(best('library') / best('native')).toFixed(2)} |`);
