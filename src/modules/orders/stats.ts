/** The dashboard's numbers: orders and units sold per hour of one UTC day. */
import { AppError } from '../../platform/errors.ts';
import type { Database } from '../../platform/db.ts';
import { hourlyCounts, type HourCount } from './repo.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** `date` is YYYY-MM-DD (the schema checks the shape; an impossible day such as 2026-02-30 is refused here). */
export async function hourlyStats(db: Database, date: string): Promise<{ date: string; hours: HourCount[] }> {
  const from = new Date(`${date}T00:00:00.000Z`);
  if (Number.isNaN(from.getTime()) || from.toISOString().slice(0, 10) !== date) {
    throw new AppError('validation_failed', 'date is not a calendar day', { errors: [{ field: 'date', message: 'must be a real day (YYYY-MM-DD)' }] });
  }
  // An aggregate no one needs to the second: a replica may serve it.
  const counted = await db.read((r) => hourlyCounts(r, from, new Date(from.getTime() + DAY_MS)));
  const byHour = new Map(counted.map((c) => [c.hour, c]));
  // Every hour of the day, zeros included, so a chart needs no gap-filling.
  const hours = Array.from({ length: 24 }, (_, hour) => byHour.get(hour) ?? { hour, orders: 0, units: 0 });
  return { date, hours };
}
