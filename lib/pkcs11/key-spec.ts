// What generateKeyPair accepts (with THE table of RSA sizes), and the hardened, explicit templates
// it turns into.
import { oneOf } from '../errors';
import { CKA, CKO } from './constants';
import { CURVES, type CurveName, EC_CURVE_NAMES, type EcCurveName } from './curves';
import { invalidArgType, invalidArgValue } from './errors';
import { KEY_TYPES, type KeyType } from './key-pair';
import type { NativeMechanism, NativeTemplate } from '../../binding';

/** THE table of RSA sizes. */
export const RSA_SIZES = {
  /** The moduli generateKeyPair makes. */
  bits: [2048, 3072, 4096],
  /** The smallest modulus a JWS alg takes (RFC 7518 §3.3, §3.5) and a key for `enc` may have. */
  minBits: 2048,
  /** What key generation makes for the RS and PS algs and for `enc` (as Hydra does). */
  generateBits: 4096,
} as const;

export type RsaBits = (typeof RSA_SIZES.bits)[number];
export type KeySpec = { type: 'rsa'; bits: RsaBits } | { type: 'ec'; curve: EcCurveName } | { type: 'ed25519' };
/** `sig`: CKA_SIGN/CKA_VERIFY. `enc` (RSA only): CKA_DECRYPT/CKA_ENCRYPT. */
export type KeyUse = 'sig' | 'enc';

export interface KeyPairOptions {
  /** CKA_LABEL of both halves (in the JOSE layer: the key-set name, with its prefix). */
  label: string;
  /** CKA_ID of both halves (in the JOSE layer: the kid's bytes). */
  id: Uint8Array;
  use?: KeyUse;
  /**
   * CKA_ALLOWED_MECHANISMS (CKM_ values) of both halves: the token then refuses every other
   * mechanism with the key. A token that refuses the attribute gets the pair without it (the
   * KeyPair then has the problem 'allowed-mechanisms-not-set').
   */
  allowedMechanisms?: readonly number[];
}

/** KeyPairOptions checked, with their defaults. */
export interface CheckedKeyPairOptions {
  label: string;
  id: Buffer;
  use: KeyUse;
  allowedMechanisms: number[] | undefined;
}

/** The longest CKA_ID a key pair is made with (a kid's bytes: jose/kid.ts holds kids to it). */
export const MAX_ID_BYTES = 255;
const F4 = Buffer.from([0x01, 0x00, 0x01]); // 65537
const MAX_ALLOWED_MECHANISMS = 64;

export function checkKeySpec(spec: unknown): KeySpec {
  if (typeof spec !== 'object' || spec === null) throw invalidArgType('spec', 'an object', spec);
  const s = spec as { type?: unknown; bits?: unknown; curve?: unknown };
  if (s.type === 'rsa') {
    if (typeof s.bits !== 'number') throw invalidArgType('spec.bits', 'a number', s.bits);
    if (!(RSA_SIZES.bits as readonly number[]).includes(s.bits))
      throw invalidArgValue('spec.bits', oneOf(RSA_SIZES.bits), s.bits);
    return { type: 'rsa', bits: s.bits as RsaBits };
  }
  if (s.type === 'ec') {
    if (typeof s.curve !== 'string') throw invalidArgType('spec.curve', 'a string', s.curve);
    if (!(EC_CURVE_NAMES as readonly string[]).includes(s.curve))
      throw invalidArgValue('spec.curve', oneOf(EC_CURVE_NAMES), s.curve);
    return { type: 'ec', curve: s.curve as EcCurveName };
  }
  if (s.type === 'ed25519') return { type: 'ed25519' };
  throw invalidArgValue('spec.type', oneOf(Object.keys(KEY_TYPES) as KeyType[]), s.type);
}

export function checkKeyPairOptions(options: unknown, spec: KeySpec): CheckedKeyPairOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const o = options as { label?: unknown; id?: unknown; use?: unknown; allowedMechanisms?: unknown };
  if (typeof o.label !== 'string') throw invalidArgType('options.label', 'a string', o.label);
  if (o.label.length === 0) throw invalidArgValue('options.label', 'a non-empty string', o.label);
  if (!(o.id instanceof Uint8Array)) throw invalidArgType('options.id', 'a Buffer or Uint8Array', o.id);
  if (o.id.length === 0 || o.id.length > MAX_ID_BYTES)
    throw invalidArgValue('options.id', `1 to ${MAX_ID_BYTES} bytes`, o.id);
  const use = o.use ?? 'sig';
  if (use !== 'sig' && use !== 'enc') throw invalidArgValue('options.use', "'sig' or 'enc'", use);
  if (use === 'enc' && spec.type !== 'rsa') {
    throw invalidArgValue('options.use', "'sig' for EC and Ed25519 keys (only RSA keys encrypt)", use);
  }
  return { label: o.label, id: Buffer.from(o.id), use, allowedMechanisms: checkMechanismList(o.allowedMechanisms) };
}

function checkMechanismList(list: unknown): number[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw invalidArgType('options.allowedMechanisms', 'an array of CKM_ values', list);
  if (list.length === 0 || list.length > MAX_ALLOWED_MECHANISMS) {
    throw invalidArgValue('options.allowedMechanisms', `1 to ${MAX_ALLOWED_MECHANISMS} mechanisms`, list);
  }
  for (const m of list) {
    if (typeof m !== 'number') throw invalidArgType('options.allowedMechanisms[]', 'a number', m);
    if (!Number.isSafeInteger(m) || m < 0 || m > 0xffffffff)
      throw invalidArgValue('options.allowedMechanisms[]', 'a CKM_ value (0 to 2^32-1)', m);
  }
  return [...(list as number[])];
}

export function curveOf(spec: KeySpec): CurveName | undefined {
  return spec.type === 'ec' ? spec.curve : spec.type === 'ed25519' ? 'Ed25519' : undefined;
}

/**
 * Mechanism and both templates for C_GenerateKeyPair. Every security attribute is explicit.
 * CKA_ALLOWED_MECHANISMS goes on both halves when `o` has them, unless `pin` is false.
 */
export function keyPairTemplates(
  spec: KeySpec,
  o: CheckedKeyPairOptions,
  pin = true,
): { mechanism: NativeMechanism; publicTemplate: NativeTemplate; privateTemplate: NativeTemplate } {
  const sig = o.use === 'sig';
  const rsa = spec.type === 'rsa';
  const common: NativeTemplate = [
    [CKA.KEY_TYPE, KEY_TYPES[spec.type].ckk],
    [CKA.TOKEN, true],
    [CKA.LABEL, o.label],
    [CKA.ID, o.id],
    ...(pin && o.allowedMechanisms ? ([[CKA.ALLOWED_MECHANISMS, o.allowedMechanisms]] as const) : []),
  ];
  const params: NativeTemplate = rsa
    ? [
        [CKA.MODULUS_BITS, spec.bits],
        [CKA.PUBLIC_EXPONENT, F4],
      ]
    : [[CKA.EC_PARAMS, CURVES[curveOf(spec)!].params]];
  const publicTemplate: NativeTemplate = [
    [CKA.CLASS, CKO.PUBLIC_KEY],
    ...common,
    ...params,
    [CKA.PRIVATE, false],
    [CKA.VERIFY, sig],
    [CKA.ENCRYPT, !sig], // only RSA keys may be made for enc (checkKeyPairOptions)
    [CKA.WRAP, false],
  ];
  const privateTemplate: NativeTemplate = [
    [CKA.CLASS, CKO.PRIVATE_KEY],
    ...common,
    [CKA.PRIVATE, true],
    [CKA.SENSITIVE, true],
    [CKA.EXTRACTABLE, false],
    [CKA.SIGN, sig],
    [CKA.DECRYPT, !sig], // explicit false on EC keys: SoftHSM would default it to true
    [CKA.UNWRAP, false],
    [CKA.DERIVE, false],
  ];
  return { mechanism: { type: KEY_TYPES[spec.type].generate }, publicTemplate, privateTemplate };
}
