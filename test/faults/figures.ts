/**
 * Figures of a fault run (requests tried, answers by status, 5xx seen, recovery time), one JSON
 * line per scenario appended to the file named by FAULT_FIGURES when set; docs/reliability.md
 * quotes them. Nothing is written otherwise.
 */
import { appendFileSync } from 'node:fs';
import { tally, type LoadResult } from './load.ts';

export function recordFigures(scenario: string, result: LoadResult, recoveredMs: number) {
  const file = process.env.FAULT_FIGURES;
  if (!file) return;
  const fiveXx = result.answers.filter((a) => a.status >= 500 && a.status !== 503).length;
  const line = { scenario, requests: result.answers.length, answers: tally(result.answers), other_5xx: fiveXx, recovered_ms: recoveredMs, violations: result.violations.length };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}
