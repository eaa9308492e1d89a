// One set as every operation sees it: the union of its HSM and software keys, with one rule for
// what is published and what signs.
//  - A kid names one key. In one set, an HSM key and a software key with the same kid: the HSM key
//    is the set's, the software one is reported (kid-conflict). Across sets: the HSM key over a
//    software one, then the set whose name sorts first; the others are reported and neither
//    published nor used to sign.
//  - Published: readable keys whose state is next, active or retired (lifecycle.ts).
//  - Signs: the newest active signing key (newestFirst); only a published key ever signs.
import { ENC_ALG } from '../jose/algorithms';
import { KeyManagerError, setNotFound } from './errors';
import { newestFirst, type KeyEntry, type KeyLocation, type KeyProblem, type KeyProblemKind } from './key-entry';
import type { KeySource, SetReading } from './key-source';
import { isPublished, stateAt, type KeyState } from './lifecycle';
import { cliCommand } from './names';

export interface SetView {
  set: string;
  /** Every readable key of the set that is the set's own (in-set and cross-set conflicts removed). */
  entries: KeyEntry[];
  problems: KeyProblem[];
}

/** Problems that mean a key exists but cannot be used: a set with only these is not "missing". */
// A key of ours whose private key is gone (metadata-without-key, a public object left) counts too:
// the set had a key, and a new one made over it would sign at once, before verifiers could know it.
export const BLOCKING: ReadonlySet<KeyProblemKind> = new Set([
  'unreadable',
  'duplicate-id',
  'public-key-ambiguous',
  'public-key-missing',
  'unsupported-key',
  'metadata-invalid',
  'metadata-without-key',
  'orphan-public-key',
  'kid-conflict',
]);

export async function readSetView(set: string, sources: readonly KeySource[]): Promise<SetView> {
  const readings: SetReading[] = await Promise.all(sources.map((s) => s.read(set))); // any failure: the set cannot be read
  const problems = readings.flatMap((r) => r.problems);
  const byKid = new Map<string, KeyEntry>();
  for (const e of readings.flatMap((r) => r.entries)) {
    const other = byKid.get(e.kid);
    if (!other) {
      byKid.set(e.kid, e);
      continue;
    }
    const [keep, drop] = other.where === 'hsm' ? [other, e] : [e, other];
    byKid.set(e.kid, keep);
    problems.push(conflict(drop, `the same set has an ${keep.where} key with this kid, which is the one published`));
  }
  const entries: KeyEntry[] = [];
  const kids = [...byKid.keys()];
  const holders = await Promise.all(sources.map(async (s) => ({ where: s.where, sets: await s.setsWithKids(kids) })));
  for (const e of byKid.values()) {
    const winner = crossSetWinner(e, holders);
    if (winner === undefined) entries.push(e);
    else
      problems.push(
        conflict(
          e,
          `set ${JSON.stringify(winner.set)} (${winner.where}) publishes this kid; it wins (HSM over software, then the set name that sorts first)`,
        ),
      );
  }
  return { set, entries, problems };
}

const conflict = (e: KeyEntry, why: string): KeyProblem => ({
  kind: 'kid-conflict',
  set: e.set,
  kid: e.kid,
  where: e.where,
  detail: `not published and does not sign: ${why}`,
  repair: `${cliCommand('keys delete', [e.set, e.kid])}   (or delete the other key)`,
});

/** The holder of this kid that wins over `e` in another set, or undefined when `e` is the kid's. */
function crossSetWinner(
  e: KeyEntry,
  bySource: ReadonlyArray<{ where: KeyLocation; sets: Map<string, string[]> }>,
): { set: string; where: KeyLocation } | undefined {
  const holders: { set: string; where: KeyLocation }[] = [];
  for (const s of bySource)
    for (const set of s.sets.get(e.kid) ?? [])
      if (set !== e.set || s.where !== e.where) holders.push({ set, where: s.where });
  const rank = (h: { set: string; where: KeyLocation }) => (h.where === 'hsm' ? 0 : 1);
  const best = [...holders, { set: e.set, where: e.where }].sort(
    (a, b) => rank(a) - rank(b) || (a.set < b.set ? -1 : a.set > b.set ? 1 : 0),
  )[0]!;
  return best.set === e.set && best.where === e.where ? undefined : best;
}

export const stateOf = (e: KeyEntry, now: number): KeyState => stateAt(e.lifecycle, now);

/** What the set publishes at `now`, in signing order. */
export function published(view: SetView, now: number): KeyEntry[] {
  return view.entries.filter((e) => isPublished(stateOf(e, now))).sort(newestFirst);
}

export const maySign = (e: KeyEntry, now: number) =>
  e.use === 'sig' && e.alg !== ENC_ALG && stateOf(e, now) === 'active';

/** The key that signs for the set at `now`, if any. */
export function signingKey(view: SetView, now: number): KeyEntry | undefined {
  return published(view, now).find((e) => maySign(e, now));
}

/** The next instant after `now` at which any key of the set changes state (when a cached choice must be made again). */
export function nextTransition(view: SetView, now: number): number {
  let next = Infinity;
  for (const e of view.entries) {
    for (const at of [e.lifecycle.activateAt, e.lifecycle.retireAt, e.lifecycle.removeAt]) {
      const t = at?.getTime();
      if (t !== undefined && t > now && t < next) next = t;
    }
  }
  return next;
}

/** Problems on the token that `deleteKey(set, kid)` clears: everything under that kid goes. */
export const LEFTOVERS: ReadonlySet<KeyProblem['kind']> = new Set([
  'incomplete-generation',
  'metadata-without-key',
  'metadata-invalid',
  'public-key-ambiguous',
  'public-key-missing',
  'unsupported-key',
]);

/** A set with no published key: not found, or, when keys exist but none can be used, ERR_KEY_SET_UNREADABLE. */
export function missing(view: SetView): KeyManagerError {
  const blocking = view.problems.filter((p) => BLOCKING.has(p.kind));
  if (blocking.length === 0) return setNotFound(view.set);
  const keys = blocking.map((p) => `${p.kid} (${p.where}: ${p.detail})`).join('; ');
  return new KeyManagerError(
    'ERR_KEY_SET_UNREADABLE',
    `JSON Web Key Set ${JSON.stringify(view.set)} has keys that cannot be used: ${keys}`,
  );
}
