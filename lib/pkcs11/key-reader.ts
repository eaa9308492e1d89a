// Finding key pairs on a token: private objects first, each paired with the public object that has
// the same CKA_ID and key type (never by label: YubiKey-style tokens label the halves differently),
// and the public part read from it, or derived from the private object when it is missing (RSA).
import { bitLength, stripLeadingZeros } from './bytes';
import { CKA, CKK, CKO } from './constants';
import { curveFromParams, decodeEcPoint } from './curves';
import { call } from './errors';
import { KeyPair, type KeyPairProblem, type KeyType, type PublicKeyData } from './key-pair';
import type { NativeAttributeReading, NativeModule, NativeTemplate } from '../../binding';

/** How many objects one search returns at most. */
const MAX_OBJECTS = 100_000;

type Value = boolean | number | string | Buffer | number[];

class Attributes {
  readonly #values = new Map<number, Value>();
  constructor(readings: NativeAttributeReading[]) {
    for (const r of readings) if ('value' in r) this.#values.set(r.type, r.value);
  }
  bytes(type: number): Buffer | undefined {
    const v = this.#values.get(type);
    return Buffer.isBuffer(v) ? v : undefined;
  }
  bool(type: number): boolean {
    return this.#values.get(type) === true;
  }
  number(type: number): number | undefined {
    const v = this.#values.get(type);
    return typeof v === 'number' ? v : undefined;
  }
  string(type: number): string | undefined {
    const v = this.#values.get(type);
    return typeof v === 'string' ? v : undefined;
  }
}

const KEY_TYPES: ReadonlyMap<number, KeyType> = new Map([
  [CKK.RSA, 'rsa'],
  [CKK.EC, 'ec'],
  [CKK.EC_EDWARDS, 'ed25519'],
]);

const PRIVATE_ATTRIBUTES = [
  CKA.ID, CKA.LABEL, CKA.KEY_TYPE, CKA.SIGN, CKA.DECRYPT, CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.EC_PARAMS,
];
const PUBLIC_ATTRIBUTES = [CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.EC_PARAMS, CKA.EC_POINT];

export interface KeyPairQuery {
  label?: string;
  id?: Uint8Array;
}

/** Reads objects through one session that the caller holds for the whole search. */
export class KeyReader {
  constructor(
    private readonly native: NativeModule,
    private readonly session: bigint,
  ) {}

  async find(template: NativeTemplate, max = MAX_OBJECTS): Promise<bigint[]> {
    return call(() => this.native.findObjects(this.session, template, max));
  }

  async attributes(object: bigint, types: readonly number[]): Promise<Attributes> {
    return new Attributes(await call(() => this.native.getAttributes(this.session, object, types)));
  }

  /** Every supported key pair whose private object matches the query. */
  async findKeyPairs(query: KeyPairQuery): Promise<KeyPair[]> {
    const template: [number, string | Uint8Array | number][] = [[CKA.CLASS, CKO.PRIVATE_KEY]];
    if (query.label !== undefined) template.push([CKA.LABEL, query.label]);
    if (query.id !== undefined) template.push([CKA.ID, query.id]);
    const pairs: KeyPair[] = [];
    for (const handle of await this.find(template)) {
      const pair = await this.readKeyPair(handle, undefined);
      if (pair) pairs.push(pair);
    }
    return pairs;
  }

  /**
   * The key pair around a private object; `publicHandle` is looked up by CKA_ID when undefined.
   * Undefined when the private object is of a key type we do not handle (DSA, DH, …).
   */
  async readKeyPair(privateHandle: bigint, publicHandle: bigint | undefined): Promise<KeyPair | undefined> {
    const priv = await this.attributes(privateHandle, PRIVATE_ATTRIBUTES);
    const ckk = priv.number(CKA.KEY_TYPE);
    const keyType = ckk === undefined ? undefined : KEY_TYPES.get(ckk);
    if (!keyType) return undefined;
    const id = priv.bytes(CKA.ID) ?? Buffer.alloc(0);
    const problems: KeyPairProblem[] = [];
    let publicKey: bigint | null = publicHandle ?? null;
    if (publicHandle === undefined) {
      const found = await this.find(
        [
          [CKA.CLASS, CKO.PUBLIC_KEY],
          [CKA.ID, id],
          [CKA.KEY_TYPE, ckk!],
        ],
        2,
      );
      if (found.length > 1) problems.push('public-key-ambiguous');
      publicKey = found[0] ?? null;
    }
    const pub = publicKey === null ? undefined : await this.attributes(publicKey, PUBLIC_ATTRIBUTES);
    const shape = publicShape(keyType, priv, pub);
    if (shape.problem) problems.push(shape.problem);
    return new KeyPair({
      id,
      label: priv.string(CKA.LABEL) ?? '',
      keyType,
      ...(shape.curve ? { curve: shape.curve } : {}),
      ...(shape.bits ? { bits: shape.bits } : {}),
      privateKey: privateHandle,
      publicKey,
      canSign: priv.bool(CKA.SIGN),
      canDecrypt: priv.bool(CKA.DECRYPT),
      publicKeyData: shape.data,
      problems,
    });
  }
}

interface PublicShape {
  data: PublicKeyData | null;
  curve?: KeyPair['curve'];
  bits?: number;
  problem?: KeyPairProblem;
}

/** The public part from the public object, or (RSA) from the private object's public attributes. */
function publicShape(keyType: KeyType, priv: Attributes, pub: Attributes | undefined): PublicShape {
  if (keyType === 'rsa') {
    const n = pub?.bytes(CKA.MODULUS) ?? priv.bytes(CKA.MODULUS);
    const e = pub?.bytes(CKA.PUBLIC_EXPONENT) ?? priv.bytes(CKA.PUBLIC_EXPONENT);
    if (!n || !e) return { data: null, problem: pub ? 'unsupported-parameters' : 'public-key-missing' };
    const modulus = stripLeadingZeros(n);
    return { data: { kty: 'RSA', n: modulus, e: stripLeadingZeros(e) }, bits: bitLength(modulus) };
  }
  const params = pub?.bytes(CKA.EC_PARAMS) ?? priv.bytes(CKA.EC_PARAMS);
  const curve = params ? curveFromParams(params) : undefined;
  if (!curve || (keyType === 'ed25519') !== (curve.name === 'Ed25519')) {
    return { data: null, problem: 'unsupported-parameters' };
  }
  const point = pub?.bytes(CKA.EC_POINT);
  if (!point) return { data: null, curve: curve.name, problem: 'public-key-missing' };
  const decoded = decodeEcPoint(point, curve);
  if (!decoded) return { data: null, curve: curve.name, problem: 'unsupported-parameters' };
  const data: PublicKeyData =
    curve.name === 'Ed25519' ? { kty: 'OKP', crv: 'Ed25519', x: decoded } : { kty: 'EC', crv: curve.name, point: decoded };
  return { data, curve: curve.name };
}
