// What the key ring's parts share: its two sources, the cached view of each set (with the signers
// made from it), the problems each read found, and the one way to write: under the set's lock
// (every process and instance), on a fresh view, then dropped here and announced elsewhere.
import type { Signer } from '../jose/signer';
import type { Logger } from '../logger';
import type { HsmKeySource } from './hsm-source';
import type { KeyEntry } from './key-entry';
import type { KeySource } from './key-source';
import { SetCache } from './set-cache';
import { readSetView, type SetView } from './set-view';
import type { SoftwareKeySource } from './software-source';

export interface CachedView {
  view: SetView;
  /**
   * Signers made from this view, by kid ('' for the set's signing key), until the view's next
   * lifecycle transition: signJwt reuses one (and its header cache) instead of building one per JWT.
   */
  signers: Map<string, { signer: Signer; validUntil: number }>;
}

export class RingState {
  readonly software: SoftwareKeySource;
  readonly hsm: HsmKeySource | undefined;
  readonly sources: KeySource[];
  readonly log: Logger;
  /** ms since the epoch; tests move it. */
  readonly clock: () => number;
  readonly views: SetCache<CachedView>;
  /** Problems found by the latest read of each set, for the gauge. */
  readonly problemCounts = new Map<string, number>();
  readonly #reported = new Set<string>();

  constructor(
    software: SoftwareKeySource,
    hsm: HsmKeySource | undefined,
    options: { logger: Logger; clock: () => number; viewTtlMs: number },
  ) {
    this.software = software;
    this.hsm = hsm;
    this.sources = hsm ? [hsm, software] : [software];
    this.log = options.logger;
    this.clock = options.clock;
    this.views = new SetCache((set) => this.#load(set), options.viewTtlMs, this.clock);
  }

  async view(set: string): Promise<SetView> {
    return (await this.views.get(set)).view;
  }

  async #load(set: string): Promise<CachedView> {
    const view = await readSetView(set, this.sources);
    this.problemCounts.set(set, view.problems.length);
    for (const p of view.problems) {
      const key = `${p.set}\u0000${p.kid}\u0000${p.kind}\u0000${p.where}`;
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      this.log.warn(`${p.kind.startsWith('certificate-') ? 'a certificate' : 'a key'} is not published: ${p.kind}`, {
        set: p.set,
        kid: p.kid,
        where: p.where,
        detail: p.detail,
        ...(p.repair ? { repair: p.repair } : {}),
      });
    }
    return { view, signers: new Map() };
  }

  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.software.store.withLock(name, fn);
  }

  /**
   * A write: under the set's lock (every process and instance), on a fresh view; then the view is
   * dropped here and announced elsewhere. A write that introduces kids also holds the kid lock,
   * so that "is this kid free?" and making the key are one step across sets and processes.
   */
  async write<T>(set: string, fn: (view: SetView) => Promise<T>, options: { newKids?: boolean } = {}): Promise<T> {
    return this.withLock(`set:${set}`, async () => {
      this.views.drop(set);
      try {
        const run = async () => fn(await this.view(set));
        return await (options.newKids ? this.withLock('kids', run) : run());
      } finally {
        this.views.drop(set);
        await this.software.store
          .touch(set)
          .catch((e: unknown) =>
            this.log.warn('a key change could not be announced', { set, code: (e as { code?: string }).code }),
          );
      }
    });
  }

  sourceOf(e: KeyEntry): KeySource {
    return this.sourceByWhere(e.where);
  }

  sourceByWhere(where: KeyEntry['where']): KeySource {
    if (where === 'hsm') {
      if (!this.hsm) throw new Error('an HSM key without an HSM source');
      return this.hsm;
    }
    return this.software;
  }
}
