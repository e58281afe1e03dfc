/**
 * The load generators of bench/catalog, each a process of its own:
 *  - wrk (C; `apt-get install wrk`), used when it is installed: light enough that the bare
 *    ceiling is not capped by the client;
 *  - autocannon (an npm dev dependency, always there), run through load.ts. It needs most of a
 *    core to drive the bare server, so its ceiling is lower and its ratios flatter the app.
 * BENCH_LOAD=wrk|autocannon picks one. `vary` makes every request a different query, so the page
 * cache misses.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  seconds: number;
  connections: number;
  vary?: 'offset' | 'search';
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export interface Generator {
  name: string;
  load(opts: LoadOptions): Promise<LoadResult>;
}

export const SEARCH_TERMS = ['kenya', 'sourdough', 'matcha', 'smoked honey', 'olive', 'crete', 'ginger', 'wild rye'];

/** The wrk script: the varying request, and the summary printed as one line of JSON. */
function wrkScript(opts: LoadOptions): string {
  const u = new URL(opts.url);
  const base = JSON.stringify(u.pathname + u.search);
  const terms = SEARCH_TERMS.map((t) => JSON.stringify(encodeURIComponent(t))).join(', ');
  const request =
    opts.vary === 'offset'
      ? `request = function() return wrk.format(nil, ${base} .. '&offset=' .. 20 * math.random(0, 499)) end`
      : opts.vary === 'search'
        ? `local terms = { ${terms} }
request = function()
  return wrk.format(nil, ${base} .. '&search=' .. terms[math.random(#terms)] .. '&min_price=' .. string.format('%.2f', math.random() * 50))
end`
        : '';
  return `${request}
done = function(summary, latency)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"us":%d,"p50":%d,"p99":%d,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`;
}

const wrk: Generator = {
  name: 'wrk (1 thread)',
  async load(opts) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-wrk-'));
    try {
      const script = path.join(dir, 'load.lua');
      writeFileSync(script, wrkScript(opts));
      const args = (seconds: number) => ['-t1', `-c${opts.connections}`, `-d${seconds}s`, '-s', script, ...Object.entries(opts.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), opts.url];
      const { stdout } = await run('wrk', args(opts.seconds), { maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { requests: number; us: number; p50: number; p99: number; non2xx: number; errors: number };
      return { requests: r.requests, rps: r.requests / (r.us / 1e6), p50: r.p50 / 1000, p99: r.p99 / 1000, non2xx: r.non2xx, errors: r.errors };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const autocannon: Generator = {
  name: 'autocannon (child process)',
  async load(opts) {
    const { stdout } = await run('npx', ['tsx', 'bench/catalog/load.ts', JSON.stringify(opts)], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout) as LoadResult;
  },
};

export function pickGenerator(): Generator {
  const wanted = process.env.BENCH_LOAD;
  if (wanted === 'autocannon') return autocannon;
  // wrk prints its version and exits 1; only a missing binary is an error here.
  const installed = !spawnSync('wrk', ['--version']).error;
  if (wanted === 'wrk' && !installed) throw new Error('BENCH_LOAD=wrk but wrk is not installed (apt-get install wrk)');
  return installed ? wrk : autocannon;
}
