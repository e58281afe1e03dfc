/**
 * One autocannon run in its own process (so the load generator does not share the server's event
 * loop). Argument: JSON {url, headers?, seconds, connections, vary?: 'offset' | 'search', warmup?}.
 * `warmup` seconds of the same requests go first, unmeasured, so a server's code is compiled
 * before it is timed. Prints autocannon's summary as JSON on stdout.
 */
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2]!) as { url: string; headers?: Record<string, string>; seconds: number; connections: number; vary?: 'offset' | 'search'; warmup?: number };
const TERMS = ['kenya', 'sourdough', 'matcha', 'smoked honey', 'olive', 'crete', 'ginger', 'wild rye'];
const base = new URL(opts.url);

// Each request a different query when asked to, so the page cache misses.
const setupRequest = (req: { path: string }) => {
  if (!opts.vary) return req;
  const u = new URL(base);
  if (opts.vary === 'offset') u.searchParams.set('offset', String(20 * Math.floor(Math.random() * 500)));
  else {
    u.searchParams.set('search', TERMS[Math.floor(Math.random() * TERMS.length)]!);
    u.searchParams.set('min_price', (Math.random() * 50).toFixed(2));
  }
  return { ...req, path: u.pathname + u.search };
};

const runFor = (duration: number) =>
  autocannon({
    url: base.origin,
    connections: opts.connections,
    duration,
    headers: opts.headers ?? {},
    requests: [{ method: 'GET', path: base.pathname + base.search, setupRequest }],
  });
if (opts.warmup) await runFor(opts.warmup);
const result = await runFor(opts.seconds);
process.stdout.write(JSON.stringify({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors }));
