// The operator's acts that allow a login again after the token refused the PIN (ERR_LOGIN_REFUSED):
// a new PIN in HSM_PIN_FILE (watched), SIGHUP, or POST /admin/hsm/login. Nothing else sends the PIN
// again: HSMs lock it after a few failed tries. Each act reads HSM_PIN_FILE afresh when there is one.
// A change of the file is an act only when it holds another PIN than the one last sent: a file
// touched or written again with the same PIN (config management, an agent re-rendering it) sends
// nothing. SIGHUP and the route always try (they are the operator's explicit retry).
import { createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

import { readPinFile } from '../config';
import type { KeyManagerOps } from '../keys/key-manager';
import type { Logger } from '../logger';

export type LoginAct = 'pin-file-changed' | 'signal' | 'admin-route';

/** How often HSM_PIN_FILE is checked for a change (stat only). */
const WATCH_INTERVAL_MS = 2000;

export class OperatorLogin {
  readonly #km: Pick<KeyManagerOps, 'ready' | 'resumeLogins'>;
  readonly #pinFile: string | undefined;
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  /** Keyed digest of the PIN file's content when it was last read (never the PIN itself). */
  #lastSeen: string | undefined;
  readonly #digestKey = randomBytes(32);
  #onSignal: (() => void) | undefined;
  #onFileChange: ((now: fs.Stats, before: fs.Stats) => void) | undefined;

  constructor(km: Pick<KeyManagerOps, 'ready' | 'resumeLogins'>, pinFile: string | undefined, logger: Logger) {
    this.#km = km;
    this.#pinFile = pinFile;
    this.#log = logger;
  }

  /** Listens for SIGHUP and watches HSM_PIN_FILE. */
  start(): void {
    this.#onSignal = () => void this.resume('signal').catch(() => undefined);
    process.on('SIGHUP', this.#onSignal);
    if (this.#pinFile) {
      this.#lastSeen = this.#digestOfFile(); // the PIN the key manager started with
      this.#onFileChange = (now, before) => {
        if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
        const seen = this.#digestOfFile();
        if (seen !== undefined && seen === this.#lastSeen) {
          this.#log.warn('the PIN file changed but holds the same PIN: nothing is sent', { act: 'pin-file-changed' });
          return;
        }
        void this.resume('pin-file-changed').catch(() => undefined);
      };
      fs.watchFile(this.#pinFile, { interval: WATCH_INTERVAL_MS, persistent: false }, this.#onFileChange);
    }
  }

  stop(): void {
    if (this.#onSignal) process.off('SIGHUP', this.#onSignal);
    if (this.#pinFile && this.#onFileChange) fs.unwatchFile(this.#pinFile, this.#onFileChange);
  }

  /**
   * One operator act: the PIN is read again from HSM_PIN_FILE (when configured) and, if logins were
   * refused, one login is tried. Acts that arrive while one runs share its outcome.
   */
  resume(act: LoginAct): Promise<void> {
    this.#running ??= this.#resume(act).finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #resume(act: LoginAct): Promise<void> {
    const before = (await this.#km.ready()).hsm?.state;
    try {
      const pin = this.#pinFile ? readPinFile(this.#pinFile) : undefined;
      if (pin !== undefined) this.#lastSeen = this.#digest(pin);
      await this.#km.resumeLogins(pin);
      if (before === 'login-refused') this.#log.info('the token accepted the login again', { act });
      else this.#log.info('the PIN is kept for the next login', { act, state: before });
    } catch (e) {
      this.#log.error('the login the operator asked for failed', { act, code: (e as { code?: string }).code });
      throw e;
    }
  }

  #digest(pin: string): string {
    return createHmac('sha256', this.#digestKey).update(pin).digest('base64');
  }

  /** The digest of what the PIN file holds now; undefined when it cannot be read as a PIN. */
  #digestOfFile(): string | undefined {
    try {
      return this.#digest(readPinFile(this.#pinFile!));
    } catch {
      return undefined;
    }
  }
}
