// `node scripts/run.mjs scripts/NAME.ts [args]`: runs an operator script from source where tsx is
// installed (a development clone), else its compiled copy under dist/ (the image, or any
// `npm ci --omit=dev` install after `npm run build`). So `npm run check:production`, `migrate` and
// `create-staff` work in both layouts. Plain JavaScript: it must run without the dev dependencies.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [script, ...args] = process.argv.slice(2);
if (!script?.endsWith('.ts')) {
  process.stderr.write('usage: node scripts/run.mjs scripts/NAME.ts [args]\n');
  process.exit(64);
}
const hasTsx = (() => {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
})();
const compiled = path.join(root, 'dist', script.replace(/\.ts$/, '.js'));
let target;
if (hasTsx) {
  const { register } = await import('tsx/esm/api');
  register();
  target = path.join(root, script);
} else if (existsSync(compiled)) {
  target = compiled;
} else {
  process.stderr.write(`${script}: tsx is not installed (a production install) and ${path.relative(root, compiled)} does not exist; run \`npm run build\` first\n`);
  process.exit(1);
}
// The script sees the arguments as if it had been started itself (parseArgs reads argv[2…]).
process.argv = [process.argv[0], target, ...args];
await import(pathToFileURL(target).href);
