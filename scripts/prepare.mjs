// `prepare` (run by `npm install` and `npm ci`): writes the embedded database template that makes
// the first start fast. It needs tsx (a dev dependency) to load the TypeScript sources, so a
// production install (`npm ci --omit=dev`), which runs the compiled dist/ and needs no template,
// skips it instead of failing.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('tsx');
} catch {
  process.stdout.write('prepare: tsx is not installed (production install); embedded database template skipped\n');
  process.exit(0);
}
const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prepare-embedded.ts'], { stdio: 'inherit' });
process.exit(run.status ?? 1);
