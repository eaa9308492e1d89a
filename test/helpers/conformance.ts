// The capability-driven conformance pass that the vendor tests run against an open Token: every
// key spec is generated, found again and signed with every JOSE mechanism, and every signature is
// verified in software (node:crypto) with the public key read back from the token. What the
// token's mechanism list cannot do is skipped, with its reason printed, and its refusal asserted.
import { constants as C, verify as nodeVerify } from 'node:crypto';

import { constants, type KeyPair, type KeySpec, type MechanismInfo, type SignMechanism, type Token } from '../../lib';
import { publicKeyObject } from './keys';

const { CKM } = constants;
export type CkmName = keyof typeof CKM;

/** Every key spec the library generates, by test name. */
export const SPECS: ReadonlyArray<[string, KeySpec]> = [
  ['rsa-2048', { type: 'rsa', bits: 2048 }],
  ['rsa-3072', { type: 'rsa', bits: 3072 }],
  ['rsa-4096', { type: 'rsa', bits: 4096 }],
  ['p-256', { type: 'ec', curve: 'P-256' }],
  ['p-384', { type: 'ec', curve: 'P-384' }],
  ['p-521', { type: 'ec', curve: 'P-521' }],
  ['ed25519', { type: 'ed25519' }],
];
export const HASHES = ['SHA-256', 'SHA-384', 'SHA-512'] as const;
const BITS = { 'SHA-256': 256, 'SHA-384': 384, 'SHA-512': 512 } as const;
const CURVE_BITS = { 'P-256': 256, 'P-384': 384, 'P-521': 521 } as const;

/** The JOSE sign mechanisms of a key type: ES256/384/512, RS and PS 256/384/512, or EdDSA. */
export function mechanismsFor(spec: Pick<KeySpec, 'type'>): SignMechanism[] {
  if (spec.type === 'ec') return HASHES.map((hash) => ({ type: 'ECDSA', hash }));
  if (spec.type === 'ed25519') return [{ type: 'EdDSA' }];
  return HASHES.flatMap((hash) => [{ type: 'RSA-PKCS1', hash } as const, { type: 'RSA-PSS', hash } as const]);
}

/** Verifies in software with the public key read from the token, never with the token. */
export function softwareVerify(pair: KeyPair, m: SignMechanism, data: Buffer, sig: Buffer): boolean {
  const key = publicKeyObject(pair);
  if (m.type === 'EdDSA') return nodeVerify(null, data, key, sig);
  const hash = `sha${BITS[m.hash]}`;
  if (m.type === 'ECDSA') return nodeVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (m.type === 'RSA-PKCS1') return nodeVerify(hash, data, { key, padding: C.RSA_PKCS1_PADDING }, sig);
  return nodeVerify(hash, data, { key, padding: C.RSA_PKCS1_PSS_PADDING, saltLength: m.saltLength ?? BITS[m.hash] / 8 }, sig);
}

/** The key-pair generation mechanism of a key spec. */
export function keygenMechanism(spec: KeySpec): CkmName {
  return spec.type === 'rsa' ? 'RSA_PKCS_KEY_PAIR_GEN' : spec.type === 'ec' ? 'EC_KEY_PAIR_GEN' : 'EC_EDWARDS_KEY_PAIR_GEN';
}

/**
 * Why `spec` cannot be generated according to the mechanism list, or undefined when it can.
 * missing: the mechanism is not listed at all (the library refuses before asking the token).
 */
export function keygenGap(spec: KeySpec, mechs: ReadonlyMap<number, MechanismInfo>): { reason: string; missing: boolean } | undefined {
  const name = keygenMechanism(spec);
  const m = mechs.get(CKM[name]);
  if (!m) return { reason: `CKM_${name} is not in the mechanism list`, missing: true };
  const bits = spec.type === 'rsa' ? spec.bits : spec.type === 'ec' ? CURVE_BITS[spec.curve] : undefined;
  if (bits !== undefined && (bits < m.minKeySize || bits > m.maxKeySize)) {
    return { reason: `CKM_${name} takes ${m.minKeySize}-${m.maxKeySize} bits, not ${bits}`, missing: false };
  }
  return undefined;
}

/** The mechanism the token will be asked for, chosen as the library does; undefined when none is listed. */
export function signRoute(m: SignMechanism, has: (name: CkmName) => boolean): CkmName | undefined {
  const pick = (...names: CkmName[]) => names.find(has);
  switch (m.type) {
    case 'ECDSA':
      return pick('ECDSA');
    case 'RSA-PKCS1':
      return pick(`SHA${BITS[m.hash]}_RSA_PKCS`, 'RSA_PKCS');
    case 'RSA-PSS':
      return pick(`SHA${BITS[m.hash]}_RSA_PKCS_PSS`, 'RSA_PKCS_PSS');
    case 'EdDSA':
      return pick('EDDSA');
  }
}

export const describeMechanism = (m: SignMechanism) => `${m.type}${'hash' in m ? ` ${m.hash}` : ''}`;

export interface ConformanceTarget {
  /** Printed before every skip: "p11-kit-proxy/SoftHSM2: skipping …". */
  vendor: string;
  /** CKA_LABEL of the generated keys. */
  label: string;
  /** CKA_ID of the generated keys: prefix + spec name. */
  idPrefix: string;
}

export interface ConformanceReport {
  spec: string;
  /** Each mechanism that signed and verified, and the PKCS#11 mechanism it went through. */
  ran: Array<{ what: string; via: CkmName }>;
  /**
   * What the mechanism list ruled out, each printed and its refusal asserted: the key generation
   * (what = the spec name; then nothing ran) or one sign mechanism. missing: no listed mechanism
   * at all (ERR_MECHANISM_UNSUPPORTED), rather than one that does not take the key size.
   */
  skipped: Array<{ step: 'keygen' | 'sign'; what: string; reason: string; missing: boolean }>;
}

/**
 * The pass for one key spec, decided by the token's mechanism list `mechs`: generated, found
 * again (same handle, same public part), signed with every mechanism of mechanismsFor(spec) and
 * verified by node:crypto. A key spec or mechanism the list rules out is printed as skipped and
 * must be refused. Call it inside a test: it asserts with expect.
 */
export async function conformancePass(
  token: Token,
  mechs: ReadonlyMap<number, MechanismInfo>,
  name: string,
  spec: KeySpec,
  target: ConformanceTarget,
): Promise<ConformanceReport> {
  const report: ConformanceReport = { spec: name, ran: [], skipped: [] };
  const skip = (s: ConformanceReport['skipped'][number]) => {
    console.log(`${target.vendor}: skipping ${s.step === 'keygen' ? name : `${s.what} on ${name}`}: ${s.reason}`);
    report.skipped.push(s);
  };
  const id = Buffer.from(`${target.idPrefix}${name}`);
  const gap = keygenGap(spec, mechs);
  if (gap) {
    skip({ step: 'keygen', what: name, ...gap });
    await expect(token.generateKeyPair(spec, { label: target.label, id })).rejects.toMatchObject({
      code: gap.missing ? 'ERR_MECHANISM_UNSUPPORTED' : expect.stringMatching(/^ERR_PKCS11_/),
    });
    return report;
  }
  const made = await token.generateKeyPair(spec, { label: target.label, id });
  const found = await token.findKeyPairs({ label: target.label, id });
  expect(found.map((p) => p.privateKey)).toEqual([made.privateKey]);
  expect(found[0]!.publicKeyData).toEqual(made.publicKeyData);
  const data = Buffer.from(`eyJhbGciOiJ0ZXN0In0.${name}`);
  for (const m of mechanismsFor(spec)) {
    const what = describeMechanism(m);
    const via = signRoute(m, (n) => mechs.has(CKM[n]));
    if (!via) {
      skip({ step: 'sign', what, reason: 'the mechanism list has no way to do it', missing: true });
      await expect(token.sign(found[0]!, m, data)).rejects.toMatchObject({ code: 'ERR_MECHANISM_UNSUPPORTED' });
      continue;
    }
    const sig = await token.sign(found[0]!, m, data);
    expect({ what, via, ok: softwareVerify(made, m, data, sig) }).toEqual({ what, via, ok: true });
    report.ran.push({ what, via });
  }
  return report;
}
