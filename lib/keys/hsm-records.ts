// Where the metadata records of HSM keys live (hsm-metadata.ts). On the token, as CKO_DATA objects,
// whenever the token takes them. A token that refuses CKO_DATA token objects (NSS softokn answers
// CKR_ATTRIBUTE_VALUE_INVALID) gets them in the software store instead, sealed like key rows (alg,
// use, creation time and lifecycle under the AAD); a pending record there is one whose removeAt is
// the epoch, so an interrupted generation is never published. Records are read from both places;
// the token's win for an id that has both.
import { idFromKid } from '../jose/kid';
import { silentLogger, type Logger } from '../logger';
import type { DataObject } from '../pkcs11/data-objects';
import { Pkcs11Error } from '../pkcs11/errors';
import type { Token } from '../pkcs11/token';
import type { HsmKeyRecordRead, KeyStore } from '../store/key-store';
import { decodeMetadata, encodeMetadata, METADATA_APPLICATION, type KeyMetadata } from './hsm-metadata';

export type MetaRecord = { meta: KeyMetadata } & (
  | { on: 'token'; object: DataObject }
  | { on: 'store'; set: string; kid: string }
);

/** What a token answers when it does not take CKO_DATA token objects. */
const REFUSALS = new Set([
  'CKR_ATTRIBUTE_VALUE_INVALID',
  'CKR_ATTRIBUTE_TYPE_INVALID',
  'CKR_TEMPLATE_INCONSISTENT',
  'CKR_TEMPLATE_INCOMPLETE',
  'CKR_FUNCTION_NOT_SUPPORTED',
]);
const PENDING = new Date(0);

export class HsmRecords {
  /** Undefined until the first write tells whether the token takes records. */
  #onToken: boolean | undefined;
  readonly #log: Logger;

  constructor(
    private readonly token: Token,
    private readonly store: KeyStore | undefined,
    logger?: Logger,
  ) {
    this.#log = logger ?? silentLogger;
  }

  /**
   * The records of a set, by CKA_ID (hex); the token's, then the store's sealed ones for other ids.
   * `unreadable`: ids whose sealed record in the store does not open (edited outside the seal, or
   * another secret): their keys must not be published with a guessed alg. `damaged`: records on
   * the token that do not read (edited, another version): which key they describe is unknown.
   */
  async read(
    set: string,
    label: string,
  ): Promise<{
    byId: Map<string, MetaRecord[]>;
    unreadable: Map<string, string>;
    damaged: number;
    legacy: HsmKeyRecordRead[];
  }> {
    const out = new Map<string, MetaRecord[]>();
    const unreadable = new Map<string, string>();
    let damaged = 0;
    for (const object of await this.token.findDataObjects({ application: METADATA_APPLICATION, label })) {
      const meta = decodeMetadata(object.value);
      if (!meta) {
        damaged++; // whose key it was cannot be told: the source refuses every key of the set without a record
        continue;
      }
      out.set(meta.id, [...(out.get(meta.id) ?? []), { meta, on: 'token', object }]);
    }
    // One read of the store's records per set: sealed ones where the token does not hold records,
    // and rows of earlier versions (unsealed), which the source migrates.
    const { records, failures } = this.store ? await this.store.hsmKeys(set) : { records: [], failures: [] };
    const legacy = records.filter((r) => !r.sealed);
    if (this.#onToken !== true) {
      for (const f of failures) {
        try {
          unreadable.set(idFromKid(f.kid).toString('hex'), `${f.code}: ${f.message}`);
        } catch {
          // a kid that names no CKA_ID names no key on the token
        }
      }
      for (const r of records) {
        if (!r.sealed) continue; // written by an earlier version: migrated by the source, never trusted as is
        let id: string;
        try {
          id = idFromKid(r.kid).toString('hex');
        } catch {
          continue; // a kid that names no CKA_ID names no key on the token
        }
        if (out.has(id)) continue;
        const pending = r.lifecycle.removeAt?.getTime() === PENDING.getTime();
        const lifecycle = { ...r.lifecycle };
        if (pending) delete lifecycle.removeAt;
        const createdAt = r.createdAt.getTime() === 0 ? undefined : r.createdAt; // a key made by another tool, adopted
        out.set(id, [
          {
            meta: { id, alg: r.alg as KeyMetadata['alg'], use: r.use, createdAt, lifecycle, rev: 1, pending },
            on: 'store',
            set,
            kid: r.kid,
          },
        ]);
      }
    }
    return { byId: out, unreadable, damaged, legacy };
  }

  /** Writes a record: on the token when it takes them, else (with a store) in the store. */
  async write(set: string, label: string, kid: string, meta: KeyMetadata): Promise<MetaRecord> {
    if (this.#onToken !== false) {
      try {
        const object = await this.token.createDataObject({
          label,
          application: METADATA_APPLICATION,
          value: encodeMetadata(meta),
        });
        this.#onToken = true;
        return { meta, on: 'token', object };
      } catch (e) {
        if (!(e instanceof Pkcs11Error && REFUSALS.has(e.ckr)) || !this.store) throw e;
        this.#onToken = false;
        this.#log.warn(
          'the token does not take CKO_DATA objects: HSM key metadata is kept sealed in the software store',
          { ckr: e.ckr },
        );
      }
    }
    const lifecycle = meta.pending ? { ...meta.lifecycle, removeAt: PENDING } : meta.lifecycle;
    await this.store!.recordHsmKey({
      set,
      kid,
      alg: meta.alg,
      use: meta.use,
      createdAt: meta.createdAt ?? new Date(0),
      lifecycle,
    });
    return { meta, on: 'store', set, kid };
  }

  /**
   * Replaces the records of a key with `meta` (rev above theirs): on the token the new record is
   * written before the old ones go (a crash leaves both, and the higher rev wins); in the store the
   * row is replaced in one statement.
   */
  async replace(
    set: string,
    label: string,
    kid: string,
    old: readonly MetaRecord[],
    meta: KeyMetadata,
  ): Promise<MetaRecord> {
    const written = await this.write(set, label, kid, meta);
    for (const r of old) {
      if (r.on === 'store' && written.on === 'store' && r.kid === kid) continue; // the same row, already replaced
      await this.remove(r).catch((e: unknown) => {
        this.#log.warn('a superseded key metadata record could not be removed (the newer one wins)', {
          set,
          kid,
          code: (e as { code?: string }).code,
        });
      });
    }
    return written;
  }

  async remove(r: MetaRecord): Promise<void> {
    if (r.on === 'token') await this.token.destroyDataObject(r.object);
    else await this.store!.forgetHsmKey(r.set, r.kid);
  }
}
