// Finding key pairs on a token: private objects first, each paired with the public object that has
// the same CKA_ID and key type (never by label: YubiKey-style tokens label the halves differently),
// and the public part read from it, or derived from the private object when it is missing (RSA).
// Several public objects for one private key are never picked from blindly (public-match.ts).
import { Attributes } from './attributes';
import { bitLength, stripLeadingZeros } from './bytes';
import { CKA, CKO, CKS } from './constants';
import { curveFromParams, decodeEcPoint } from './curves';
import { invalidArgType } from '../errors';
import { LoginRequiredError, Pkcs11Error } from './errors';
import { KEY_TYPES, KeyPair, type KeyPairProblem, type KeyType, type PublicKeyData } from './key-pair';
import { publicFit } from './public-match';
import type { NativeModule, NativeTemplate } from '../../binding';

/** How many objects one search returns at most. */
export const MAX_OBJECTS = 100_000;
/** How many public objects of one CKA_ID are compared with the private key at most. */
const MAX_PUBLIC_CANDIDATES = 16;

/** CKA_KEY_TYPE -> KeyType, from the table of key types. */
const BY_CKK: ReadonlyMap<number, KeyType> = new Map(
  (Object.keys(KEY_TYPES) as KeyType[]).map((t) => [KEY_TYPES[t].ckk as number, t]),
);

const PRIVATE_ATTRIBUTES = [
  CKA.ID,
  CKA.LABEL,
  CKA.KEY_TYPE,
  CKA.SIGN,
  CKA.DECRYPT,
  CKA.MODULUS,
  CKA.PUBLIC_EXPONENT,
  CKA.EC_PARAMS,
  CKA.EC_POINT,
  CKA.PUBLIC_KEY_INFO,
  CKA.ALLOWED_MECHANISMS,
];
const PUBLIC_ATTRIBUTES = [
  CKA.MODULUS,
  CKA.PUBLIC_EXPONENT,
  CKA.EC_PARAMS,
  CKA.EC_POINT,
  CKA.PUBLIC_KEY_INFO,
  CKA.LABEL,
];

export interface KeyPairQuery {
  label?: string;
  id?: Uint8Array;
}

/** A query for findKeyPairs (or, without `id`, findOrphanPublicKeys), checked. */
export function checkKeyPairQuery(query: unknown, withId = true): KeyPairQuery {
  if (typeof query !== 'object' || query === null) throw invalidArgType('query', 'an object', query);
  const q = query as { label?: unknown; id?: unknown };
  if (q.label !== undefined && typeof q.label !== 'string') throw invalidArgType('query.label', 'a string', q.label);
  if (withId && q.id !== undefined && !(q.id instanceof Uint8Array))
    throw invalidArgType('query.id', 'a Uint8Array', q.id);
  return {
    ...(q.label === undefined ? {} : { label: q.label }),
    ...(withId && q.id !== undefined ? { id: q.id as Uint8Array } : {}),
  };
}

/** Public key objects by CKA_ID and key type, from one listing (see findKeyPairs). */
type PublicIndex = Map<string, bigint[]>;

const indexKey = (id: Buffer, ckk: number | undefined) => `${id.toString('hex')}:${ckk ?? ''}`;

/** A public key object whose CKA_ID no private key on the token has. */
export interface OrphanPublicKey {
  id: Buffer;
  /** CKA_LABEL of the public object. */
  label: string;
  /** Undefined for key types this library does not handle (DSA, DH, ...). */
  keyType: KeyType | undefined;
}

/** The public object chosen for a private key, and what the choice says. */
interface PublicHalf {
  handle: bigint | null;
  attributes: Attributes | undefined;
  /** Whether an RSA key's public part may come from the private object when no public object is used. */
  derive: boolean;
  problems: KeyPairProblem[];
}

/** Reads objects through one session that the caller holds for the whole search. */
export class KeyReader {
  constructor(
    private readonly native: NativeModule,
    private readonly session: bigint,
  ) {}

  async find(template: NativeTemplate, max = MAX_OBJECTS): Promise<bigint[]> {
    return this.native.findObjects(this.session, template, max);
  }

  async attributes(object: bigint, types: readonly number[]): Promise<Attributes> {
    return new Attributes(await this.native.getAttributes(this.session, object, types));
  }

  /**
   * The attributes of an object a search just found, or undefined when it is gone by now: a search
   * and its reads are not one snapshot, and another session or process may destroy the object
   * between them (seen: a second service clearing a pending record while this one read it).
   */
  async attributesIfPresent(object: bigint, types: readonly number[]): Promise<Attributes | undefined> {
    try {
      return await this.attributes(object, types);
    } catch (e) {
      if (e instanceof Pkcs11Error && e.ckr === 'CKR_OBJECT_HANDLE_INVALID') return undefined;
      throw e;
    }
  }

  /**
   * The CKA_ID and CKA_LABEL of every private key object, and nothing else: one search and two
   * attributes an object, for callers that only need to know which ids are where (a full
   * findKeyPairs per id costs a search of every object on the token each).
   */
  async privateKeyIds(): Promise<Array<{ id: Buffer; label: string }>> {
    const out: Array<{ id: Buffer; label: string }> = [];
    for (const a of await this.attributesMany(await this.find([[CKA.CLASS, CKO.PRIVATE_KEY]]), [CKA.ID, CKA.LABEL])) {
      if (a) out.push({ id: a.bytes(CKA.ID) ?? Buffer.alloc(0), label: a.string(CKA.LABEL) ?? '' });
    }
    return out;
  }

  /** The same attributes of many objects in one call; undefined for an object gone since it was found. */
  async attributesMany(objects: readonly bigint[], types: readonly number[]): Promise<Array<Attributes | undefined>> {
    if (objects.length === 0) return [];
    const read = await this.native.getAttributesMany(this.session, objects, types);
    return read.map((r) => (r === null ? undefined : new Attributes(r)));
  }

  /** Every supported key pair whose private object matches the query. */
  async findKeyPairs(query: KeyPairQuery): Promise<KeyPair[]> {
    const template: [number, string | Uint8Array | number][] = [[CKA.CLASS, CKO.PRIVATE_KEY]];
    if (query.label !== undefined) template.push([CKA.LABEL, query.label]);
    if (query.id !== undefined) template.push([CKA.ID, query.id]);
    const pairs: KeyPair[] = [];
    const handles = await this.find(template);
    // For more than a couple of keys, one listing of the public objects (their CKA_ID and key type)
    // instead of a search per key: each search scans every object on the token (SoftHSM: 130 ms a
    // search with 2,000 objects, so a set of 50 keys took 6 s to read).
    const index = handles.length > 2 ? await this.#publicIndex() : undefined;
    const privates = handles.length > 2 ? await this.attributesMany(handles, PRIVATE_ATTRIBUTES) : undefined;
    for (const [i, handle] of handles.entries()) {
      if (privates && !privates[i]) continue; // destroyed since the search
      const pair = await this.readKeyPair(handle, undefined, undefined, index, privates?.[i]);
      if (pair) pairs.push(pair);
    }
    return pairs;
  }

  /** Every public key object's handle, by CKA_ID and key type (one search, two attributes an object). */
  async #publicIndex(): Promise<PublicIndex> {
    const index: PublicIndex = new Map();
    const handles = await this.find([[CKA.CLASS, CKO.PUBLIC_KEY]]);
    const read = await this.attributesMany(handles, [CKA.ID, CKA.KEY_TYPE]);
    for (const [i, handle] of handles.entries()) {
      const a = read[i];
      if (!a) continue;
      const key = indexKey(a.bytes(CKA.ID) ?? Buffer.alloc(0), a.number(CKA.KEY_TYPE));
      const list = index.get(key) ?? [];
      list.push(handle);
      index.set(key, list);
    }
    return index;
  }

  /**
   * The key pair around a private object; `publicHandle` is looked up by CKA_ID when undefined.
   * Undefined when the private object is of a key type we do not handle (DSA, DH, …).
   * `wantedMechanisms`: the CKA_ALLOWED_MECHANISMS the pair was generated with, if any.
   */
  async readKeyPair(
    privateHandle: bigint,
    publicHandle: bigint | undefined,
    wantedMechanisms?: readonly number[],
    index?: PublicIndex,
    preread?: Attributes,
  ): Promise<KeyPair | undefined> {
    const priv = preread ?? (await this.attributesIfPresent(privateHandle, PRIVATE_ATTRIBUTES));
    if (!priv) return undefined; // destroyed since it was found
    const ckk = priv.number(CKA.KEY_TYPE);
    const keyType = ckk === undefined ? undefined : BY_CKK.get(ckk);
    if (!keyType) return undefined;
    const id = priv.bytes(CKA.ID) ?? Buffer.alloc(0);
    const half: PublicHalf =
      publicHandle === undefined
        ? await this.#publicHalf(keyType, ckk!, id, priv, index)
        : {
            handle: publicHandle,
            attributes: await this.attributes(publicHandle, PUBLIC_ATTRIBUTES),
            derive: true,
            problems: [],
          };
    const problems = [...half.problems];
    const shape = publicShape(keyType, priv, half.attributes, half.derive);
    // A public object that was found and set aside is not "missing": its problem says why.
    if (shape.problem && !(shape.problem === 'public-key-missing' && problems.length > 0)) problems.push(shape.problem);
    const allowed = priv.numbers(CKA.ALLOWED_MECHANISMS);
    const allowedMechanisms = allowed && allowed.length > 0 ? allowed : undefined; // SoftHSM: [] = no limit
    if (wantedMechanisms && !sameSet(wantedMechanisms, allowedMechanisms)) problems.push('allowed-mechanisms-not-set');
    return new KeyPair({
      id,
      label: priv.string(CKA.LABEL) ?? '',
      keyType,
      ...(shape.curve ? { curve: shape.curve } : {}),
      ...(shape.bits ? { bits: shape.bits } : {}),
      privateKey: privateHandle,
      publicKey: half.handle,
      canSign: priv.bool(CKA.SIGN),
      canDecrypt: priv.bool(CKA.DECRYPT),
      allowedMechanisms,
      publicKeyData: shape.data,
      problems,
    });
  }

  /**
   * The public object of the private key's CKA_ID and key type. One candidate is used unless it
   * certainly belongs to another key; of several, only the one that matches the private key (never
   * the first found), or none.
   */
  async #publicHalf(
    keyType: KeyType,
    ckk: number,
    id: Buffer,
    priv: Attributes,
    index?: PublicIndex,
  ): Promise<PublicHalf> {
    const found = index
      ? (index.get(indexKey(id, ckk)) ?? []).slice(0, MAX_PUBLIC_CANDIDATES)
      : await this.find(
          [
            [CKA.CLASS, CKO.PUBLIC_KEY],
            [CKA.ID, id],
            [CKA.KEY_TYPE, ckk],
          ],
          MAX_PUBLIC_CANDIDATES,
        );
    const candidates: Array<{ handle: bigint; attributes: Attributes; fit: ReturnType<typeof publicFit> }> = [];
    for (const handle of found) {
      const attributes = await this.attributesIfPresent(handle, PUBLIC_ATTRIBUTES);
      if (!attributes) continue;
      candidates.push({ handle, attributes, fit: publicFit(keyType, priv, attributes) });
    }
    const none = (problems: KeyPairProblem[], derive: boolean): PublicHalf => ({
      handle: null,
      attributes: undefined,
      derive,
      problems,
    });
    if (candidates.length === 0) return none([], true);
    if (candidates.length === 1) {
      const [only] = candidates;
      return only!.fit === 'mismatch'
        ? none(['public-key-mismatch'], true)
        : { handle: only!.handle, attributes: only!.attributes, derive: true, problems: [] };
    }
    const matching = candidates.filter((c) => c.fit === 'match');
    if (matching.length === 1)
      return {
        handle: matching[0]!.handle,
        attributes: matching[0]!.attributes,
        derive: true,
        problems: ['public-key-ambiguous'],
      };
    // The private key does not say (EC): of the candidates that may be its half, the one with its
    // label, when exactly one has it (one CKA_ID used in two key sets, as in Hydra's guide); the
    // problem stays, so callers report the other objects. Two with its label stay ambiguous.
    const label = priv.string(CKA.LABEL);
    const sameLabel =
      matching.length === 0
        ? candidates.filter(
            (c) => c.fit === 'unknown' && label !== undefined && c.attributes.string(CKA.LABEL) === label,
          )
        : [];
    if (sameLabel.length === 1)
      return {
        handle: sameLabel[0]!.handle,
        attributes: sameLabel[0]!.attributes,
        derive: true,
        problems: ['public-key-ambiguous'],
      };
    const problems: KeyPairProblem[] = ['public-key-ambiguous'];
    if (candidates.every((c) => c.fit === 'mismatch')) problems.push('public-key-mismatch');
    return none(problems, false);
  }

  /**
   * Public key objects (matching `label`, when given) whose CKA_ID no private key has. Private keys
   * are invisible without a login, so a session that is not logged in is refused.
   */
  async findOrphanPublicKeys(query: { label?: string }): Promise<OrphanPublicKey[]> {
    const { state } = await this.native.getSessionInfo(this.session);
    if (state !== CKS.RW_USER_FUNCTIONS && state !== CKS.RO_USER_FUNCTIONS)
      throw new LoginRequiredError('finding orphan public keys');
    const template: [number, string | number][] = [[CKA.CLASS, CKO.PUBLIC_KEY]];
    if (query.label !== undefined) template.push([CKA.LABEL, query.label]);
    const hasPrivate = new Map<string, boolean>();
    const orphans: OrphanPublicKey[] = [];
    for (const handle of await this.find(template)) {
      const a = await this.attributesIfPresent(handle, [CKA.ID, CKA.LABEL, CKA.KEY_TYPE]);
      if (!a) continue;
      const id = a.bytes(CKA.ID) ?? Buffer.alloc(0);
      const key = id.toString('hex');
      let has = hasPrivate.get(key);
      if (has === undefined) {
        has =
          (
            await this.find(
              [
                [CKA.CLASS, CKO.PRIVATE_KEY],
                [CKA.ID, id],
              ],
              1,
            )
          ).length > 0;
        hasPrivate.set(key, has);
      }
      if (has) continue;
      const ckk = a.number(CKA.KEY_TYPE);
      orphans.push({
        id,
        label: a.string(CKA.LABEL) ?? '',
        keyType: ckk === undefined ? undefined : BY_CKK.get(ckk),
      });
    }
    return orphans;
  }
}

function sameSet(a: readonly number[], b: readonly number[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((m) => b.includes(m));
}

interface PublicShape {
  data: PublicKeyData | null;
  curve?: KeyPair['curve'];
  bits?: number;
  problem?: KeyPairProblem;
}

/**
 * The public part from the public object, or (RSA, when `derive`) from the private object's public
 * attributes. Without `derive` and a public object, only the size or curve.
 */
function publicShape(keyType: KeyType, priv: Attributes, pub: Attributes | undefined, derive: boolean): PublicShape {
  if (keyType === 'rsa') {
    if (!pub && !derive) {
      const n = priv.bytes(CKA.MODULUS);
      return n ? { data: null, bits: bitLength(n) } : { data: null };
    }
    const n = pub?.bytes(CKA.MODULUS) ?? priv.bytes(CKA.MODULUS);
    const e = pub?.bytes(CKA.PUBLIC_EXPONENT) ?? priv.bytes(CKA.PUBLIC_EXPONENT);
    if (!n || !e) return { data: null, problem: pub ? 'unsupported-parameters' : 'public-key-missing' };
    const modulus = stripLeadingZeros(n);
    return { data: { kty: 'RSA', n: modulus, e: stripLeadingZeros(e) }, bits: bitLength(modulus) };
  }
  const params = pub?.bytes(CKA.EC_PARAMS) ?? priv.bytes(CKA.EC_PARAMS);
  const curve = params ? curveFromParams(params) : undefined;
  if (!curve || curve.keyType !== keyType) {
    return { data: null, problem: 'unsupported-parameters' };
  }
  const point = pub?.bytes(CKA.EC_POINT);
  if (!point)
    return { data: null, curve: curve.name, ...(pub || derive ? { problem: 'public-key-missing' as const } : {}) };
  const decoded = decodeEcPoint(point, curve);
  if (!decoded) return { data: null, curve: curve.name, problem: 'unsupported-parameters' };
  const data: PublicKeyData =
    curve.name === 'Ed25519'
      ? { kty: 'OKP', crv: 'Ed25519', x: decoded }
      : { kty: 'EC', crv: curve.name, point: decoded };
  return { data, curve: curve.name };
}
