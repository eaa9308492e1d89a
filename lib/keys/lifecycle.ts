// A key's lifecycle state at an instant, from the transition instants recorded with it (on the
// token for HSM keys, under the row's seal for software keys):
//   next     published, does not sign          (before activateAt)
//   active   published, signs                  (from activateAt, or creation, until retireAt)
//   retired  published, does not sign          (from retireAt until removeAt)
//   removed  not published, does not sign      (from removeAt)
// Keys made by other tools carry no lifecycle: they are active.
import type { Lifecycle } from '../store/key-store';

export type { Lifecycle };
export type KeyState = 'next' | 'active' | 'retired' | 'removed';

const reached = (at: Date | undefined, now: number) => at !== undefined && at.getTime() <= now;

export function stateAt(lifecycle: Lifecycle, now: number): KeyState {
  if (reached(lifecycle.removeAt, now)) return 'removed';
  if (reached(lifecycle.retireAt, now)) return 'retired';
  if (lifecycle.activateAt !== undefined && !reached(lifecycle.activateAt, now)) return 'next';
  return 'active';
}

export const isPublished = (state: KeyState) => state !== 'removed';

/** The lifecycle as plain JSON numbers (ms), for records and logs. */
export function lifecycleToJson(l: Lifecycle): {
  activateAt: number | null;
  retireAt: number | null;
  removeAt: number | null;
} {
  return {
    activateAt: l.activateAt?.getTime() ?? null,
    retireAt: l.retireAt?.getTime() ?? null,
    removeAt: l.removeAt?.getTime() ?? null,
  };
}

export function lifecycleFromJson(j: { activateAt?: unknown; retireAt?: unknown; removeAt?: unknown }): Lifecycle {
  const out: Lifecycle = {};
  for (const k of ['activateAt', 'retireAt', 'removeAt'] as const) {
    const v = j[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = new Date(v);
  }
  return out;
}
