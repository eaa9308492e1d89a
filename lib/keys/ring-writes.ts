// The key ring's writes (KeySets' half that changes sets): generation (to the token when there is
// one, else the store), imports (to the store), deletes, a key's lifecycle and its certificates.
// A kid is unique across every set and both places; a new key in a set that already has a signing
// key is published for `publishAheadMs` before it signs. Every write goes through RingState.write.
import { randomUUID } from 'node:crypto';

import type { ValidatedKey } from '../jose/import';
import { checkKid } from '../jose/kid';
import { invalidArgValue } from '../errors';
import type { KeyUse } from '../pkcs11/key-spec';
import type { Lifecycle } from '../store/key-store';
import { KeyManagerError, keyNotFound } from './errors';
import { chainForKey, importSummary, parseCertificateFile, type CertificateImport } from './certificates';
import { checkGeneration, notPublishable, symmetricOnHsm } from './generation';
import { importRows, validateImport, validateImportSet } from './imports';
import type { KeyEntry } from './key-entry';
import type { GenerateOptions, JwkSet, KidFormat } from './key-manager';
import { certificatePlace } from './key-certificates';
import type { KeySource } from './key-source';
import { jwkOf } from './key-views';
import { checkKidFormat, checkSet } from './names';
import type { RingState } from './ring-state';
import { LEFTOVERS, missing, signingKey, type SetView } from './set-view';

export interface WriteRules {
  /** How long a new key is published before it signs, when its set already has a signing key. */
  publishAheadMs: number;
  /** The published sets: no symmetric key in them (ERR_KEY_NOT_PUBLISHABLE). */
  published: ReadonlySet<string>;
  /** The kid of a key generated without one. */
  kidFormat: KidFormat;
}

export class RingWrites {
  readonly #ring: RingState;
  readonly #rules: WriteRules;

  constructor(ring: RingState, rules: WriteRules) {
    this.#ring = ring;
    this.#rules = rules;
  }

  async generate(
    set: string,
    kid: string | undefined,
    alg: string,
    use: KeyUse,
    options: GenerateOptions,
  ): Promise<JwkSet> {
    checkSet(set);
    const ring = this.#ring;
    // Symmetric keys live in the software store only; generation goes to the token when there is one.
    const asked = checkKidFormat('options.kid', options.kid);
    const secret = checkGeneration(alg, use).kind === 'secret';
    if (secret) {
      if (ring.hsm) throw symmetricOnHsm(alg);
      if (this.#rules.published.has(set)) throw notPublishable(set, alg);
      if (asked === 'thumbprint' && kid === undefined) {
        throw invalidArgValue(
          'options.kid',
          '"uuid" for a symmetric key (a thumbprint would publish a hash of the secret)',
          asked,
        );
      }
    }
    // A thumbprint kid is known once the key exists: the key is made under a provisional UUID and renamed.
    const thumbprintKid = kid === undefined && !secret && (asked ?? this.#rules.kidFormat) === 'thumbprint';
    const id = kid === undefined ? randomUUID() : checkKid(kid);
    const source: KeySource = ring.hsm ?? ring.software;
    return ring.write(
      set,
      async (view) => {
        // An interrupted generation of this kid in this set is cleared by the generation itself.
        const interrupted = view.problems.some(
          (p) => p.kid === id && p.where === 'hsm' && p.kind === 'incomplete-generation',
        );
        await this.#checkKidsFree([id], interrupted && source.where === 'hsm' ? { set, where: 'hsm' } : undefined);
        const now = ring.clock();
        const entry = await source.generate(
          {
            set,
            kid: id,
            alg,
            use,
            createdAt: new Date(now),
            lifecycle: this.#initialLifecycle(view, now, options.activateNow),
            ...(thumbprintKid ? { thumbprintKid } : {}),
          },
          options.onProgress,
        );
        return { keys: [jwkOf(entry, options.includePrivate)] };
      },
      { newKids: true },
    );
  }

  addKey(set: string, jwk: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImport(jwk).then((v) => [v]), 'add');
  }
  addKeySet(set: string, jwks: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImportSet(jwks), 'add');
  }
  updateKey(set: string, jwk: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImport(jwk).then((v) => [v]), 'upsert');
  }
  updateKeySet(set: string, jwks: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImportSet(jwks), 'replace');
  }

  async deleteKey(set: string, kid: string): Promise<void> {
    checkSet(set);
    checkKid(kid);
    const ring = this.#ring;
    await ring.write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (entry) return ring.sourceOf(entry).delete(entry);
      // Not a key of the set: what an interrupted generation, a lost key or a replaced key left (the doctor's repair).
      const left = view.problems.find((p) => p.kid === kid && p.where === 'hsm' && LEFTOVERS.has(p.kind));
      if (left && ring.hsm && (await ring.hsm.clearLeftovers(set, kid))) return;
      const other = view.problems.find((p) => p.kid === kid && p.kind === 'kid-conflict');
      if (other) {
        const reading = await ring.sourceByWhere(other.where).read(set);
        const shadowed = reading.entries.find((e) => e.kid === kid);
        if (shadowed) return ring.sourceOf(shadowed).delete(shadowed);
      }
      throw keyNotFound(set, kid);
    });
  }

  async deleteKeySet(set: string): Promise<void> {
    checkSet(set);
    const ring = this.#ring;
    await ring.write(set, async (view) => {
      // What the token holds under the set's kids that is not a usable key goes too (a set with only that is not "missing").
      const leftovers = ring.hsm
        ? [
            ...new Set(
              view.problems.filter((p) => p.where === 'hsm' && p.kid !== '' && LEFTOVERS.has(p.kind)).map((p) => p.kid),
            ),
          ]
        : [];
      for (const kid of leftovers) await ring.hsm!.clearLeftovers(set, kid);
      if (view.entries.length === 0) {
        if (leftovers.length > 0) return;
        throw missing(view);
      }
      // Every key is attempted; the first failure is reported after the others were tried.
      const results = await Promise.allSettled(view.entries.map((e) => ring.sourceOf(e).delete(e)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  /**
   * Publishes a certificate chain (PEM, any order) with a key, replacing any it had: certificate
   * objects under its CKA_ID on the token, or sealed in the store (key-certificates.ts); refused
   * unless one certificate is the key's and the others certify it in turn (certificates.ts).
   */
  async importCertificate(set: string, kid: string, pem: string): Promise<CertificateImport> {
    checkSet(set);
    checkKid(kid);
    const offered = parseCertificateFile(pem); // ERR_CERT_INVALID before any lock
    const ring = this.#ring;
    return ring.write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      const chain = chainForKey(entry, offered);
      await certificatePlace(entry, { token: ring.hsm?.token, store: ring.software.store }).write(chain);
      return importSummary(entry, chain);
    });
  }

  /** Removes a key's certificates (it is published without x5c); how many there were. */
  async removeCertificate(set: string, kid: string): Promise<number> {
    checkSet(set);
    checkKid(kid);
    const ring = this.#ring;
    return ring.write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      return certificatePlace(entry, { token: ring.hsm?.token, store: ring.software.store }).remove();
    });
  }

  /** Changes the lifecycle of one key (rotation, retirement by hand). */
  async setLifecycle(set: string, kid: string, lifecycle: Lifecycle): Promise<void> {
    checkSet(set);
    checkKid(kid);
    const ring = this.#ring;
    await ring.write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      await ring.sourceOf(entry).setLifecycle(entry, lifecycle);
    });
  }

  async #import(
    set: string,
    validate: () => Promise<ValidatedKey[]>,
    mode: 'add' | 'upsert' | 'replace',
  ): Promise<void> {
    const keys = await validate();
    const secret = keys.find((k) => k.publicJwk === undefined);
    if (secret && this.#rules.published.has(set)) throw notPublishable(set, secret.alg);
    const ring = this.#ring;
    await ring.write(
      set,
      async (view) => {
        const now = ring.clock();
        // Keys being replaced do not count as the set's signing key; any other key that signs does.
        const replaced = new Set(
          mode === 'replace'
            ? view.entries.filter((e) => e.where === 'software').map((e) => e.kid)
            : keys.map((k) => k.kid),
        );
        const staying: SetView = {
          ...view,
          entries: view.entries.filter((e) => !(e.where === 'software' && replaced.has(e.kid))),
        };
        await this.#checkKidsFree(
          keys.map((k) => k.kid),
          mode === 'add' ? undefined : { set, where: 'software' },
        );
        const rows = importRows(set, keys, view, mode, new Date(now), this.#initialLifecycle(staying, now, false));
        await ring.software.write(set, rows, mode);
      },
      { newKids: true },
    );
  }

  /** ERR_KEY_EXISTS when any set, on the token or in the store, has one of these kids (except what the write replaces: `replacing`). */
  async #checkKidsFree(kids: readonly string[], replacing?: { set: string; where: KeyEntry['where'] }): Promise<void> {
    for (const s of this.#ring.sources) {
      for (const [kid, held] of await s.setsWithKids(kids)) {
        const sets = held.filter((set) => !(s.where === replacing?.where && set === replacing.set));
        if (sets.length > 0) {
          throw new KeyManagerError(
            'ERR_KEY_EXISTS',
            `kid ${JSON.stringify(kid)} is already used by a key ${s.where === 'hsm' ? 'on the token' : 'in the software store'} in JSON Web Key Set ${JSON.stringify(sets[0])}: a kid names one key`,
          );
        }
      }
    }
  }

  /** Active at once in a set that has no signing key; else published for publishAheadMs first. */
  #initialLifecycle(view: SetView, now: number, activateNow: boolean | undefined): Lifecycle {
    if (activateNow || !signingKey(view, now)) return {};
    return { activateAt: new Date(now + this.#rules.publishAheadMs) };
  }
}
