// KeyManagerStrategy: Hydra's routing between the HSM and the software store.
// - generate → HSM;  add / update → software (keys cannot be imported into an HSM);
// - get, delete, signer → HSM first, software when the HSM has no such key or set; any other HSM
//   error is returned, never hidden behind a software answer;
// - deleting what exists nowhere is the software manager's not-found error.
import type { Signer } from '../jose/signer';
import { signJwt as signCompactJwt } from '../jose/jws';
import type { KeyUse } from '../pkcs11/key-spec';
import { isNotFound } from './errors';
import type { GetOptions, JwkSet, KeyInfo, KeyManager, SignJwtOptions } from './key-manager';

export class KeyManagerStrategy implements KeyManager {
  constructor(
    readonly hardware: KeyManager,
    readonly software: KeyManager,
  ) {}

  generateAndPersistKeySet(set: string, kid: string | undefined, alg: string, use?: KeyUse): Promise<JwkSet> {
    return this.hardware.generateAndPersistKeySet(set, kid, alg, use);
  }
  addKey(set: string, jwk: unknown): Promise<void> {
    return this.software.addKey(set, jwk);
  }
  addKeySet(set: string, jwks: unknown): Promise<void> {
    return this.software.addKeySet(set, jwks);
  }
  updateKey(set: string, jwk: unknown): Promise<void> {
    return this.software.updateKey(set, jwk);
  }
  updateKeySet(set: string, jwks: unknown): Promise<void> {
    return this.software.updateKeySet(set, jwks);
  }
  getKey(set: string, kid: string, options?: GetOptions): Promise<JwkSet> {
    return this.#hsmFirst((m) => m.getKey(set, kid, options));
  }
  getKeySet(set: string, options?: GetOptions): Promise<JwkSet> {
    return this.#hsmFirst((m) => m.getKeySet(set, options));
  }
  deleteKey(set: string, kid: string): Promise<void> {
    return this.#hsmFirst((m) => m.deleteKey(set, kid));
  }
  deleteKeySet(set: string): Promise<void> {
    return this.#hsmFirst((m) => m.deleteKeySet(set));
  }
  signer(set: string, kid?: string): Promise<Signer> {
    return this.#hsmFirst((m) => m.signer(set, kid));
  }
  async signJwt(set: string, claims: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
    return signCompactJwt(await this.signer(set, options.kid), claims, options.header);
  }
  async list(): Promise<KeyInfo[]> {
    const [hsm, software] = await Promise.all([this.hardware.list(), this.software.list()]);
    return [...hsm, ...software];
  }
  stats(): Record<string, number> {
    return { ...this.software.stats(), ...this.hardware.stats() };
  }
  invalidate(set?: string): void {
    this.hardware.invalidate(set);
    this.software.invalidate(set);
  }
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.software.withLock(name, fn);
  }
  async close(): Promise<void> {
    await Promise.all([this.hardware.close(), this.software.close()]);
  }

  async #hsmFirst<T>(op: (m: KeyManager) => Promise<T>): Promise<T> {
    try {
      return await op(this.hardware);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return op(this.software);
    }
  }
}
