// Rotation: a new key is published for the publish-ahead time before it signs; the keys it
// replaces stop signing when it starts (retired: still published) and are removed once no token
// they signed can still be valid (retireAfter, no shorter than the longest token lifetime).
// `rotate` does it once (CLI, admin route); `Rotator.tick` does what the schedule asks, under the
// store's lock (exactly one instance acts; the others find the work done when they get the lock).
import { silentLogger, type Logger } from '../logger';
import { KeyManagerError } from './errors';
import { newestFirst, type KeyEntry } from './key-entry';
import type { KeyManagerOps, KeySets } from './key-manager';
import type { KeyState } from './lifecycle';

/** How long a retired key stays published when nothing says (ROTATE_RETIRE_AFTER's floor): 24 h. */
export const DEFAULT_RETIRE_AFTER_MS = 86_400_000;

export interface RotationPolicy {
  /** Rotate when the newest key is this old (ms); undefined: by hand only. */
  everyMs: number | undefined;
  /** How long a retired key stays published (ms): at least the longest token lifetime. */
  retireAfterMs: number;
  /** What happens to a key once removed: destroyed (token) / deleted (store), or kept unpublished. */
  removed: 'destroy' | 'keep';
}

type Keyed = KeyEntry & { state: KeyState };

/**
 * What rotation needs of a key manager (KeyRing is one): the writes it makes, the store's lock and
 * the cache it drops, and every key of a set with its state at the manager's clock.
 */
export interface RotatingKeys
  extends Pick<KeySets, 'generateAndPersistKeySet' | 'setLifecycle' | 'deleteKey'>,
    Pick<KeyManagerOps, 'withLock' | 'invalidate'> {
  /** The state of every key of a set at the manager's clock. */
  keys(set: string): Promise<Keyed[]>;
  /** The manager's clock (ms since the epoch). */
  now(): number;
}

const signs = (k: Keyed) => k.use === 'sig' && k.alg !== 'RSA-OAEP-256';

export interface RotationResult {
  set: string;
  /** The key that will sign next (new, or the one already scheduled). */
  kid: string;
  activateAt: Date;
  /** Keys scheduled to retire when it activates. */
  retiring: string[];
  /** False when a scheduled key already existed: nothing was made. */
  created: boolean;
}

/**
 * One rotation of `set`: a new key (the alg of the current signing key, or `alg`) that activates
 * after the ring's publish-ahead time, and the current signing keys retiring at that instant.
 * Idempotent while a rotation is pending: the scheduled key is returned, nothing is made.
 */
export async function rotate(
  km: RotatingKeys,
  set: string,
  policy: Pick<RotationPolicy, 'retireAfterMs'>,
  options: { alg?: string; logger?: Logger } = {},
): Promise<RotationResult> {
  const log = options.logger ?? silentLogger;
  return km.withLock(`rotate:${set}`, async () => {
    km.invalidate(set); // another instance may have rotated while we waited
    const keys = (await km.keys(set)).filter(signs); // a set that cannot be read is not rotated (fail closed)
    const pending = keys.filter((k) => k.state === 'next').sort(newestFirst)[0];
    const active = keys.filter((k) => k.state === 'active').sort(newestFirst);
    if (pending) return retireFor(km, set, pending, active, policy, false);
    const alg = options.alg ?? active[0]?.alg;
    if (!alg)
      throw new KeyManagerError(
        'ERR_NO_SIGNING_KEY',
        `JSON Web Key Set ${JSON.stringify(set)} has no signing key to rotate; give the alg`,
      );
    const made = (await km.generateAndPersistKeySet(set, undefined, alg, 'sig')).keys[0]!;
    const fresh = (await km.keys(set)).find((k) => k.kid === made.kid)!;
    log.info('key rotation: a new key is published and will sign after the publish-ahead time', {
      set,
      kid: fresh.kid,
      activateAt: fresh.lifecycle.activateAt?.toISOString(),
    });
    return retireFor(km, set, fresh, active, policy, true);
  });
}

/** The active keys retire when `next` activates, and are removed retireAfter later. */
async function retireFor(
  km: RotatingKeys,
  set: string,
  next: Keyed,
  active: Keyed[],
  policy: Pick<RotationPolicy, 'retireAfterMs'>,
  created: boolean,
): Promise<RotationResult> {
  const activateAt = next.lifecycle.activateAt ?? next.createdAt ?? new Date(km.now());
  const retiring: string[] = [];
  for (const k of active) {
    if (k.kid === next.kid || (k.lifecycle.retireAt && k.lifecycle.retireAt <= activateAt)) continue;
    await km.setLifecycle(set, k.kid, {
      ...k.lifecycle,
      retireAt: activateAt,
      removeAt: new Date(activateAt.getTime() + policy.retireAfterMs),
    });
    retiring.push(k.kid);
  }
  return { set, kid: next.kid, activateAt, retiring, created };
}

/** Runs the schedule for a list of sets: rotation when due, then removal of removed keys. */
export class Rotator {
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly km: RotatingKeys,
    private readonly sets: readonly string[],
    private readonly policy: RotationPolicy,
    logger?: Logger,
  ) {
    this.#log = logger ?? silentLogger;
  }

  /** Checks every set now; one pass at a time. Errors are logged per set, never thrown. */
  tick(): Promise<void> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Checks every `intervalMs` (timer unref'd: it never keeps the process alive). */
  start(intervalMs: number): void {
    this.stop();
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #pass(): Promise<void> {
    for (const set of this.sets) {
      try {
        await this.#checkSet(set);
      } catch (e) {
        this.#log.warn('key rotation failed for a set; it is tried again at the next check', {
          set,
          code: (e as { code?: string }).code,
          message: (e as Error).message,
        });
      }
    }
  }

  async #checkSet(set: string): Promise<void> {
    const now = this.km.now();
    const keys = await this.km.keys(set);
    if (this.policy.removed === 'destroy') {
      // Keys made by other tools (no creation time) are never destroyed here: removed, they are only unpublished.
      for (const k of keys.filter((x) => x.state === 'removed' && x.origin === 'ours' && x.createdAt !== undefined)) {
        await this.km.withLock(`rotate:${set}`, async () => {
          this.km.invalidate(set);
          const again = (await this.km.keys(set)).find((x) => x.kid === k.kid);
          if (again?.state !== 'removed') return;
          await this.km.deleteKey(set, k.kid);
          this.#log.info('key rotation: a removed key was destroyed', { set, kid: k.kid });
        });
      }
    }
    const every = this.policy.everyMs;
    if (every === undefined) return;
    const newest = keys.filter((k) => signs(k) && (k.state === 'active' || k.state === 'next')).sort(newestFirst)[0];
    const since = newest ? ((newest.lifecycle.activateAt ?? newest.createdAt)?.getTime() ?? -Infinity) : undefined;
    if (since === undefined || newest!.state === 'next' || now - since < every) return;
    const r = await rotate(this.km, set, this.policy, { logger: this.#log });
    if (r.created) this.#log.info('key rotation: scheduled rotation done', { set, kid: r.kid, retiring: r.retiring });
  }
}
