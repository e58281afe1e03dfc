/** `npm run check:production`: verifies the automatic items of docs/production-checklist.md. */
import { redisDurability } from '../src/modules/orders/service.ts';
import { checkProductionLive } from '../src/platform/production-check.ts';

const results = await checkProductionLive(process.env, redisDurability);
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(22)} ${r.detail}`);
const failed = results.filter((r) => !r.ok).length;
console.log(failed === 0 ? '\nproduction configuration: all checks passed' : `\nproduction configuration: ${failed} problem(s)`);
process.exitCode = failed === 0 ? 0 : 1;
