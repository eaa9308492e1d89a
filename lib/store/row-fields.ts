// Conversions between the contract's fields (Dates, Lifecycle) and stored columns (integer ms, or
// NULL when not scheduled), shared by key rows and HSM records. The drivers return 64-bit integers
// as numbers (SQLite) or text (PostgreSQL BIGINT); both come back as numbers here.
import { invalidArgValue } from '../errors';
import type { RowRef } from './errors';
import type { Lifecycle } from './key-store';

export interface LifecycleColumns {
  activateAt: number | null;
  retireAt: number | null;
  removeAt: number | null;
}

export function millis(date: Date, what: string, row: RowRef): number {
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(ms))
    throw invalidArgValue(`${what} of ${JSON.stringify(row.kid)} in ${JSON.stringify(row.set)}`, 'a valid Date', date);
  return ms;
}

export function lifecycleColumns(lifecycle: Lifecycle | undefined, row: RowRef): LifecycleColumns {
  const at = (d: Date | undefined, what: string) => (d === undefined ? null : millis(d, what, row));
  return {
    activateAt: at(lifecycle?.activateAt, 'lifecycle.activateAt'),
    retireAt: at(lifecycle?.retireAt, 'lifecycle.retireAt'),
    removeAt: at(lifecycle?.removeAt, 'lifecycle.removeAt'),
  };
}

/** The Lifecycle of stored columns: only the scheduled transitions are present. */
export function lifecycleOf(c: LifecycleColumns): Lifecycle {
  const out: Lifecycle = {};
  if (c.activateAt !== null) out.activateAt = new Date(c.activateAt);
  if (c.retireAt !== null) out.retireAt = new Date(c.retireAt);
  if (c.removeAt !== null) out.removeAt = new Date(c.removeAt);
  return out;
}

export function hasLifecycle(c: LifecycleColumns): boolean {
  return c.activateAt !== null || c.retireAt !== null || c.removeAt !== null;
}

/** A 64-bit integer column as a number (BIGINT arrives as text from pg). */
export function int(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export function intOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : int(v);
}
