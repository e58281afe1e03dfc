/**
 * One autocannon run in its own process (so the load generator does not share a server's event
 * loop), for generators.ts. Argument: its LoadOptions as JSON. Prints a LoadResult as JSON on
 * stdout.
 */
import autocannon from 'autocannon';
import { SEARCH_TERMS, type LoadOptions, type LoadResult } from './generators.ts';

const opts = JSON.parse(process.argv[2]!) as LoadOptions;
const base = new URL(opts.url);

// Each request a different query when asked to, so the page cache misses.
const setupRequest = (req: { path: string }) => {
  if (!opts.vary) return req;
  const u = new URL(base);
  if (opts.vary === 'offset') u.searchParams.set('offset', String(20 * Math.floor(Math.random() * 500)));
  else {
    u.searchParams.set('search', SEARCH_TERMS[Math.floor(Math.random() * SEARCH_TERMS.length)]!);
    u.searchParams.set('min_price', (Math.random() * 50).toFixed(2));
  }
  return { ...req, path: u.pathname + u.search };
};

const result = await autocannon({
  url: base.origin,
  connections: opts.connections,
  duration: opts.seconds,
  headers: opts.headers,
  requests: [{ method: 'GET', path: base.pathname + base.search, setupRequest }],
});
const summary: LoadResult = { requests: result.requests.total, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
process.stdout.write(JSON.stringify(summary));
