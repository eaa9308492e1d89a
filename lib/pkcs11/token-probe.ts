// Whether the token is still there, asked cheaply: C_GetTokenInfo on its slot, at most once per
// interval however often it is asked, one question at a time. A token with another serial in the
// slot counts as gone (re-created or replaced). A token another process is writing can fail one
// C_GetTokenInfo (SoftHSM: CKR_GENERAL_ERROR while its files change), and a deleted one fails them
// all with that same code: gone only when it still fails after RETRIES_MS, or when two answers in
// a row say so (CKR_TOKEN_NOT_PRESENT and the like: SoftHSM also answers that for a moment while
// another process rewrites the token's files, which once stopped a second instance starting beside
// the first; a token really removed says it again 20 ms later).
import { setTimeout as sleep } from 'node:timers/promises';

import { ClosedError, Pkcs11Error } from './errors';
import type { NativeTokenInfo } from '../../binding';

/** How often a probe may reach the token at most. */
export const PROBE_INTERVAL_MS = 1000;
/** Waits before asking again after a C_GetTokenInfo that failed without saying the token is gone. */
const RETRIES_MS = [20, 60, 150];

export interface ProbeTarget {
  /** C_GetTokenInfo on the token's slot, through the current generation. */
  ask(): Promise<NativeTokenInfo>;
  /** The serial of the token the connection is on. */
  serial(): string;
  /** Whether a question may be asked now (not closed, not already known to be down or refused, no reconnection running). */
  mayAsk(): boolean;
  /** The token answered as expected. */
  answered(): void;
  /** The token is gone (the failure, or ERR_TOKEN_REPLACED). */
  gone(cause: unknown): void;
}

export class TokenProbe {
  readonly #target: ProbeTarget;
  #running: Promise<void> | undefined;
  #askedAt = 0;

  constructor(target: ProbeTarget) {
    this.#target = target;
  }

  /** The token answered some other way just now (a reconnection): no question is due before the interval. */
  answered(): void {
    this.#askedAt = Date.now();
  }

  /** Asks when the last question is older than `maxAgeMs`; with `wait`, resolves after the answer. */
  async run(maxAgeMs: number, wait: boolean): Promise<void> {
    if (this.#target.mayAsk() && Date.now() - this.#askedAt >= maxAgeMs) {
      this.#running ??= this.#askOnce().finally(() => (this.#running = undefined));
    }
    if (wait) await this.#running;
  }

  async #askOnce(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const info = await this.#target.ask();
        this.#askedAt = Date.now();
        if (info.serialNumber !== this.#target.serial()) this.#target.gone('ERR_TOKEN_REPLACED');
        else this.#target.answered();
        return;
      } catch (e) {
        this.#askedAt = Date.now();
        if (e instanceof ClosedError || !this.#target.mayAsk()) return;
        const certain = e instanceof Pkcs11Error && e.category === 'device-gone';
        if ((certain && attempt >= 1) || attempt >= RETRIES_MS.length) {
          this.#target.gone(e);
          return;
        }
        await sleep(RETRIES_MS[attempt]!);
      }
    }
  }
}
