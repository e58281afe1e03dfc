/**
 * A flame graph from a V8 CPU profile (`node --cpu-prof`), without anything from the network:
 * folded stacks (`frame;frame;frame µs`, one line per distinct stack — the format flamegraph.pl,
 * speedscope and inferno read) and a self-contained SVG (widths = CPU time, idle left out; hover
 * a box for its name and share).
 *
 *   npx tsx bench/flame.ts <file.cpuprofile> <out-prefix> [minShare=0.002]
 *     → <out-prefix>.folded, <out-prefix>.svg
 *
 * `window` (monotonic µs, as bench/profile.ts's monotonicUs) keeps only the samples of a measured run.
 */
import { writeFileSync } from 'node:fs';
import { selfTimes, type ProfileNode } from './profile.ts';

/** `node_modules/pg/lib/client.js:123` → `pg/lib/client.js`; `src/modules/x.ts` stays; node: core kept. */
function frameName(frame: ProfileNode['callFrame']): string {
  const fn = frame.functionName || '(anonymous)';
  if (!frame.url) return fn;
  const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench|test)\//, '$1/').replace(/^file:\/\//, '');
  return `${fn} ${file}:${frame.lineNumber + 1}`;
}

/** Folded stacks, µs of self time per stack, idle and the profiler's own `(program)` root kept apart. */
export function foldProfile(file: string, window?: { from: number; to: number }): Map<string, number> {
  const { profile, byId, self } = selfTimes(file, window);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const folded = new Map<string, number>();
  for (const [id, us] of self) {
    const leaf = byId.get(id)!.callFrame.functionName;
    if (leaf === '(idle)') continue;
    const stack: string[] = [];
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const frame = byId.get(n)!.callFrame;
      if (frame.functionName === '(root)') break;
      stack.push(frameName(frame).replaceAll(';', ','));
    }
    const key = stack.reverse().join(';');
    folded.set(key, (folded.get(key) ?? 0) + us);
  }
  return folded;
}

interface Tree {
  name: string;
  us: number;
  children: Map<string, Tree>;
}

function treeOf(folded: Map<string, number>): Tree {
  const root: Tree = { name: 'all (busy)', us: 0, children: new Map() };
  for (const [stack, us] of folded) {
    root.us += us;
    let node = root;
    for (const name of stack.split(';')) {
      let child = node.children.get(name);
      if (!child) node.children.set(name, (child = { name, us: 0, children: new Map() }));
      child.us += us;
      node = child;
    }
  }
  return root;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Colour by origin: application code warm, dependencies orange, Node core and V8 grey-blue. */
function colour(name: string): string {
  if (/ src\//.test(name)) return '#e8743b';
  if (/ node:/.test(name) || !name.includes(' ')) return '#8fa8c8';
  let h = 0;
  for (const c of name.split(' ')[1] ?? '') h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${30 + (h % 25)}, 85%, ${55 + (h % 15)}%)`;
}

/** An icicle-free classic flame graph (root at the bottom), boxes narrower than `minShare` dropped. */
export function flameSvg(folded: Map<string, number>, title: string, minShare = 0.002): string {
  const root = treeOf(folded);
  const width = 1200;
  const row = 16;
  const boxes: string[] = [];
  let depthMax = 0;
  const walk = (node: Tree, x: number, depth: number) => {
    depthMax = Math.max(depthMax, depth);
    const w = (node.us / root.us) * width;
    boxes.push(
      `<g><title>${escape(node.name)} — ${(node.us / 1000).toFixed(0)} ms, ${((node.us / root.us) * 100).toFixed(1)} %</title>` +
        `<rect x="${x.toFixed(1)}" y="{Y${depth}}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${row - 1}" fill="${colour(node.name)}"/>` +
        (w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="{T${depth}}">${escape(node.name.slice(0, Math.floor(w / 6.5)))}</text>` : '') +
        '</g>',
    );
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (child.us / root.us >= minShare) walk(child, cx, depth + 1);
      cx += (child.us / root.us) * width;
    }
  };
  walk(root, 0, 0);
  const height = (depthMax + 1) * row + 40;
  const body = boxes
    .join('\n')
    .replace(/\{Y(\d+)\}/g, (_, d: string) => String(height - 10 - (Number(d) + 1) * row))
    .replace(/\{T(\d+)\}/g, (_, d: string) => String(height - 10 - (Number(d) + 1) * row + 11));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="10">\n` +
    `<rect width="100%" height="100%" fill="#fdfdf6"/><text x="4" y="16" font-size="13">${escape(title)}</text>\n${body}\n</svg>\n`
  );
}

export function writeFlame(file: string, outPrefix: string, title: string, window?: { from: number; to: number }, minShare = 0.002): void {
  const folded = foldProfile(file, window);
  writeFileSync(
    `${outPrefix}.folded`,
    [...folded]
      .sort((a, b) => b[1] - a[1])
      .map(([stack, us]) => `${stack} ${us}`)
      .join('\n') + '\n',
  );
  writeFileSync(`${outPrefix}.svg`, flameSvg(folded, title, minShare));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, out, share] = process.argv.slice(2);
  if (!file || !out) throw new Error('usage: npx tsx bench/flame.ts <file.cpuprofile> <out-prefix> [minShare]');
  writeFlame(file, out, `CPU flame graph: ${file.split('/').at(-1)}`, undefined, share ? Number(share) : undefined);
}
