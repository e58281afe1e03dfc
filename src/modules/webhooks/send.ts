/**
 * One signed POST to a receiver (Standard Webhooks): `webhook-id` is the event id, the same on every
 * attempt; `webhook-signature` holds one `v1,…` signature per live secret (two during a rotation's
 * overlap): base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's bytes (the
 * base64 after `whsec_`). Made with node:crypto, as the spec defines it; the tests verify every
 * delivery with the `standardwebhooks` package. That package signs with a SHA-256 written in
 * JavaScript (fast-sha256): 5.6× the CPU of node:crypto's for an order event, on every delivery
 * (`npx tsx bench/webhooks/sign.ts`, docs/benchmarks.md).
 *
 * Outbound requests cannot be turned against our own network: unless private targets are allowed,
 * the agent (request-filtering-agent) checks the address each connection actually goes to, after
 * DNS resolution, and refuses loopback, private, link-local and metadata addresses, so a name that
 * resolved to a public address when saved and to 169.254.169.254 now is refused now.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import type { AttemptResult } from './repo.ts';

const EXCERPT_BYTES = 1024;
const SECRET_PREFIX = 'whsec_';

export interface Outgoing {
  url: string;
  eventId: string;
  body: string;
  secrets: string[];
}

export function createSender(options: { allowPrivateTargets: boolean; timeoutMs: number; userAgent: string }) {
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  const agents = options.allowPrivateTargets
    ? { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) }
    : { http: new RequestFilteringHttpAgent({ ...agentOptions, allowPrivateIPAddress: false, allowMetaIPAddress: false }), https: new RequestFilteringHttpsAgent({ ...agentOptions, allowPrivateIPAddress: false, allowMetaIPAddress: false }) };

  // Each secret decoded once, not per delivery; cleared when it grows past what live subscriptions
  // (two secrets each during a rotation) could need.
  const keys = new Map<string, KeyObject>();
  const keyOf = (secret: string) => {
    let found = keys.get(secret);
    if (!found) {
      if (keys.size >= 10_000) keys.clear();
      keys.set(secret, (found = createSecretKey(Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64'))));
    }
    return found;
  };
  function sign(out: Outgoing, timestamp: string): string {
    const signed = `${out.eventId}.${timestamp}.${out.body}`;
    return out.secrets.map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(signed).digest('base64')}`).join(' ');
  }

  async function send(out: Outgoing): Promise<AttemptResult> {
    const started = performance.now();
    const timestamp = String(Math.floor(Date.now() / 1000));
    const url = new URL(out.url);
    const client = url.protocol === 'https:' ? https : http;
    const finish = (partial: Omit<AttemptResult, 'durationMs'>): AttemptResult => ({ ...partial, durationMs: Math.round(performance.now() - started) });
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const settle = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const request = client.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? agents.https : agents.http,
          headers: {
            'content-type': 'application/json',
            'user-agent': options.userAgent,
            'webhook-id': out.eventId,
            'webhook-timestamp': timestamp,
            'webhook-signature': sign(out, timestamp),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < EXCERPT_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
            const ok = status >= 200 && status < 300;
            settle(finish({ ok, responseStatus: status, responseExcerpt: excerpt, error: ok ? null : `HTTP ${status}` }));
          });
          response.on('error', (error) => settle(finish({ ok: false, responseStatus: response.statusCode ?? null, responseExcerpt: null, error: error.message })));
        },
      );
      // One deadline for the whole exchange: a receiver that accepts and never answers (or trickles)
      // holds a sending slot no longer than this.
      const timer = setTimeout(() => {
        request.destroy(new Error(`no complete answer within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      request.on('error', (error) => settle(finish({ ok: false, responseStatus: null, responseExcerpt: null, error: error.message.slice(0, 500) })));
      request.end(out.body);
    });
  }

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
