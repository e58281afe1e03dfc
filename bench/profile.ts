/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time per function and per origin (the
 * npm package, the src/ file, or V8's own buckets: GC, idle, program), as Markdown tables.
 *
 *   npx tsx bench/profile.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Now on the clock V8's profiles use (CLOCK_MONOTONIC, µs): the same in every process of this machine. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** `node_modules/fastify/lib/reply.js` → `fastify`; `src/modules/orders/x.ts` → that path; V8 buckets by name. */
function originOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return frame.functionName.startsWith('(') ? frame.functionName : '(native / V8 builtins)';
  const modules = frame.url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = frame.url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (frame.url.startsWith('node:')) return 'node: core';
  const src = frame.url.indexOf('/src/');
  return src >= 0 ? frame.url.slice(src + 1) : frame.url;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of the profile's wall time the process was busy (not idle). */
  busy: number;
  functions: Array<{ name: string; ms: number; share: number }>;
  origins: Array<{ name: string; ms: number; share: number }>;
}

/** `window` (monotonicUs() readings): only the samples taken between them, e.g. a measured load run. */
/** A profile read from `file`, and µs of self time per node id, only of the samples inside `window` when given. */
export function selfTimes(file: string, window?: { from: number; to: number }): { profile: Profile; byId: Map<number, ProfileNode>; self: Map<number, number> } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (!window || (at >= window.from && at <= window.to)) self.set(id, (self.get(id) ?? 0) + delta);
  });
  return { profile, byId, self };
}

export function summariseProfile(file: string, top = 25, window?: { from: number; to: number }): ProfileSummary {
  const { byId, self } = selfTimes(file, window);
  const fns = new Map<string, number>();
  const origins = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') idle += us;
    const file = frame.url ? frame.url.replace(/^.*\/(node_modules|src)\//, '$1/') : '';
    const name = `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    const origin = originOf(frame);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m]
      .filter(([name]) => name !== '(idle)' && !name.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / busy }));
  return { totalMs: total / 1000, busy: busy / total, functions: rank(fns), origins: rank(origins) };
}

export function printProfile(summary: ProfileSummary): void {
  console.log(`\nCPU profile: ${(summary.totalMs / 1000).toFixed(1)} s of wall time, busy ${(summary.busy * 100).toFixed(0)} %; shares are of busy time\n`);
  console.log('| origin | self ms | share |\n|---|---:|---:|');
  for (const o of summary.origins) console.log(`| ${o.name} | ${o.ms.toFixed(0)} | ${(o.share * 100).toFixed(1)} % |`);
  console.log('\n| function | self ms | share |\n|---|---:|---:|');
  for (const f of summary.functions) console.log(`| \`${f.name}\` | ${f.ms.toFixed(0)} | ${(f.share * 100).toFixed(1)} % |`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printProfile(summariseProfile(process.argv[2]!, Number(process.argv[3] ?? 25)));
}
