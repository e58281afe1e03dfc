/**
 * A TCP fault proxy on node:net, put between the app and PostgreSQL or Redis (this kernel has no
 * tc netem, and there is no Toxiproxy here). The app connects to the proxy's port; each connection
 * is forwarded to the target, and the fault in force decides what happens to its bytes:
 *
 *  - pass:       bytes go through untouched;
 *  - latency:    every chunk, both ways, is held for `ms` (order kept);
 *  - blackhole:  connections are accepted, bytes are held both ways: nothing answers. As over a
 *                network partition, TCP delivers what was held once it heals (the fault ends),
 *                unless the connection was given up meanwhile;
 *  - reset:      every open connection and every new one is reset (RST);
 *  - closeAfter: each connection is closed after the target sent it `bytes` more bytes;
 *  - refuse:     the port stops listening (connection refused), open connections are reset, as
 *                with a stopped server.
 *
 * `dropReplyTo(match)` arms a one-shot fault: the next client message matching (e.g. a COMMIT)
 * reaches the target, which executes it, but its reply is swallowed and the connection is then
 * reset, so the client cannot know whether the statement took effect.
 */
import net from 'node:net';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number }
  | { kind: 'blackhole' }
  | { kind: 'reset' }
  | { kind: 'closeAfter'; bytes: number }
  | { kind: 'refuse' };

/**
 * One direction of a connection: chunks leave in the order they came, each not before its due
 * time, so a latency that changes (or ends) mid-stream never reorders the bytes.
 */
interface Lane {
  to: net.Socket;
  queue: Array<{ chunk: Buffer; due: number }>;
  timer: NodeJS.Timeout | undefined;
}

function lane(to: net.Socket): Lane {
  return { to, queue: [], timer: undefined };
}

function pump(l: Lane) {
  if (l.timer) return;
  const now = Date.now();
  while (l.queue[0] && l.queue[0].due <= now) {
    const { chunk } = l.queue.shift()!;
    if (l.to.writable) l.to.write(chunk);
  }
  if (l.queue[0]) {
    l.timer = setTimeout(() => {
      l.timer = undefined;
      pump(l);
    }, l.queue[0].due - now);
  }
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  toClient: Lane;
  toUpstream: Lane;
  /** Bytes the target may still send before the connection is closed (closeAfter). */
  budget: number;
  /** The reply on this connection is being dropped (dropReplyTo matched here). */
  dropping: boolean;
  /** Bytes held by a black hole, in order, for delivery when it ends. */
  held: Array<{ to: Lane; chunk: Buffer }>;
}

export interface FaultProxy {
  readonly port: number;
  /** The target URL with host and port replaced by the proxy's (postgres://…, redis://…). */
  url(targetUrl: string): string;
  set(fault: Fault): Promise<void>;
  /** Arms the one-shot reply drop; resolves once a reply was dropped and its connection reset. */
  dropReplyTo(match: (chunk: Buffer) => boolean, resetAfterMs?: number): Promise<void>;
  readonly stats: { connections: number; resets: number; dropped: number };
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let fault: Fault = { kind: 'pass' };
  const links = new Set<Link>();
  const stats = { connections: 0, resets: 0, dropped: 0 };
  let armed: { match: (chunk: Buffer) => boolean; resetAfterMs: number; done: () => void } | undefined;

  const reset = (link: Link) => {
    links.delete(link);
    stats.resets++;
    link.client.resetAndDestroy();
    link.upstream.destroy();
  };

  const deliver = (to: Lane, chunk: Buffer) => {
    to.queue.push({ chunk, due: Date.now() + (fault.kind === 'latency' ? fault.ms : 0) });
    pump(to);
  };

  const fromClient = (link: Link, chunk: Buffer) => {
    if (fault.kind === 'blackhole') {
      link.held.push({ to: link.toUpstream, chunk });
      return;
    }
    if (armed && armed.match(chunk)) {
      const { resetAfterMs, done } = armed;
      armed = undefined;
      link.dropping = true;
      setTimeout(() => {
        reset(link);
        done();
      }, resetAfterMs);
    }
    deliver(link.toUpstream, chunk);
  };

  const fromTarget = (link: Link, chunk: Buffer) => {
    if (fault.kind === 'blackhole') {
      link.held.push({ to: link.toClient, chunk });
      return;
    }
    if (link.dropping) {
      stats.dropped += chunk.length;
      return;
    }
    if (fault.kind === 'closeAfter') {
      if (chunk.length >= link.budget) {
        deliver(link.toClient, chunk.subarray(0, link.budget));
        link.budget = 0;
        links.delete(link);
        // end() sends what was written before it, then closes.
        link.client.end();
        link.upstream.destroy();
        return;
      }
      link.budget -= chunk.length;
    }
    deliver(link.toClient, chunk);
  };

  const server = net.createServer((client) => {
    stats.connections++;
    if (fault.kind === 'reset' || fault.kind === 'refuse') {
      stats.resets++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const link: Link = {
      client,
      upstream,
      toClient: lane(client),
      toUpstream: lane(upstream),
      budget: fault.kind === 'closeAfter' ? fault.bytes : Infinity,
      dropping: false,
      held: [],
    };
    links.add(link);
    client.on('data', (chunk: Buffer) => fromClient(link, chunk));
    upstream.on('data', (chunk: Buffer) => fromTarget(link, chunk));
    const end = () => {
      if (!links.delete(link)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url(targetUrl) {
      const u = new URL(targetUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async set(next) {
      const wasRefusing = fault.kind === 'refuse';
      fault = next;
      if (next.kind === 'reset' || next.kind === 'refuse') for (const link of [...links]) reset(link);
      if (next.kind === 'closeAfter') for (const link of links) link.budget = next.bytes;
      if (next.kind !== 'blackhole') {
        for (const link of links) for (const { to, chunk } of link.held.splice(0)) deliver(to, chunk);
      }
      if (next.kind === 'refuse' && !wasRefusing) await new Promise((resolve) => server.close(resolve));
      // Listening again on the same port: a connection the app opens now reaches the target.
      if (wasRefusing && next.kind !== 'refuse') await listen(port);
    },
    dropReplyTo(match, resetAfterMs = 200) {
      return new Promise<void>((resolve) => {
        armed = { match, resetAfterMs, done: resolve };
      });
    },
    stats,
    async close() {
      armed = undefined;
      for (const link of [...links]) reset(link);
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** True for a PostgreSQL client message carrying a COMMIT (simple or extended protocol). */
export const isCommit = (chunk: Buffer) => /\bcommit\b/i.test(chunk.toString('latin1'));
