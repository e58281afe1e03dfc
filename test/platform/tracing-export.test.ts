/**
 * The real entry point (src/server.ts, embedded database) with OTEL_EXPORTER_OTLP_ENDPOINT set:
 * the spans of a request reach an OTLP/HTTP receiver as protobuf, by the time the process has
 * shut down on SIGTERM (the last batch is flushed then).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';

it('exports the spans of a request over OTLP http/protobuf', async () => {
  const received: Array<{ url: string; type: string; body: Buffer }> = [];
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'opply-otlp-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/slow-server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      SEED_DEMO_DATA: 'false',
      LOG_LEVEL: 'silent',
      DATABASE_URL: '',
      REDIS_URL: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'otlp-export-test',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('{"port"')) resolve(JSON.parse(line).port);
      });
      child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    const traceId = randomBytes(16).toString('hex');
    const username = `otlp_${randomUUID().slice(0, 8)}`;
    const res = await fetch(`http://127.0.0.1:${port}/api/identity/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ username, email: `${username}@example.com`, password: `pw-${randomUUID()}` }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    expect(received.length).toBeGreaterThan(0);
    for (const r of received) expect([r.url, r.type]).toEqual(['/v1/traces', 'application/x-protobuf']);
    // Protobuf keeps ids as raw bytes and names as UTF-8: enough to find them without a decoder.
    const body = Buffer.concat(received.map((r) => r.body));
    expect(body.includes(Buffer.from(traceId, 'hex'))).toBe(true);
    for (const text of ['otlp-export-test', 'POST /api/identity/register/', 'pglite.query:INSERT']) expect(body.includes(text)).toBe(true);
  } finally {
    child.kill('SIGKILL');
    collector.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  // Starting a real server process (tsx and PGlite) takes ~10 s on an idle 2-core machine and was
  // measured at 73–151 s at load average 26–32: the deadline only declares a hang.
}, 300_000);
