// The capability-driven conformance pass that the vendor tests run against an open Token: every
// key spec is generated, found again and signed with every JOSE mechanism, and every signature is
// verified in software (node:crypto) with the public key read back from the token. What the
// token's mechanism list cannot do is skipped, with its reason printed, and its refusal asserted.
// The object capabilities (data objects, CKA_ALLOWED_MECHANISMS) are declared per vendor and checked
// the same way: what a vendor claims to refuse must be refused, with the CKR it names.
import { constants as C, verify as nodeVerify } from 'node:crypto';

import { constants, type KeyPair, type KeySpec, type MechanismInfo, type SignMechanism, type Token } from '../../lib';
import { checkKeyPairOptions, keyPairTemplates } from '../../lib/pkcs11/key-spec';
import type { NativeModule } from '../../binding';
import { publicKeyObject } from './keys';
import { handlesOf } from './handles';

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
  return nodeVerify(
    hash,
    data,
    { key, padding: C.RSA_PKCS1_PSS_PADDING, saltLength: m.saltLength ?? BITS[m.hash] / 8 },
    sig,
  );
}

/** The key-pair generation mechanism of a key spec. */
export function keygenMechanism(spec: KeySpec): CkmName {
  return spec.type === 'rsa'
    ? 'RSA_PKCS_KEY_PAIR_GEN'
    : spec.type === 'ec'
      ? 'EC_KEY_PAIR_GEN'
      : 'EC_EDWARDS_KEY_PAIR_GEN';
}

/**
 * Why `spec` cannot be generated according to the mechanism list, or undefined when it can.
 * missing: the mechanism is not listed at all (the library refuses before asking the token).
 */
export function keygenGap(
  spec: KeySpec,
  mechs: ReadonlyMap<number, MechanismInfo>,
): { reason: string; missing: boolean } | undefined {
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
  expect(found.map((p) => handlesOf(p).privateKey)).toEqual([handlesOf(made).privateKey]);
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

/** A CKR name, e.g. `CKR_ATTRIBUTE_READ_ONLY`. */
export type CkrName = `CKR_${keyof typeof constants.CKR}`;
/** The typed error code of a PKCS#11 failure: CKR_PIN_INCORRECT -> ERR_PKCS11_PIN_INCORRECT. */
export const codeOf = (ckr: CkrName) => `ERR_PKCS11_${ckr.slice(4)}`;

/** What a vendor's token does with the objects the key layer keeps on it; checked by objectCapabilityPass. */
export interface ObjectCapabilities {
  /** CKO_DATA token objects with CKA_APPLICATION and CKA_VALUE: made, or refused by C_CreateObject with this CKR. */
  dataObjects: 'accepted' | { refused: CkrName };
  /** C_SetAttributeValue on the CKA_VALUE of such an object (when they are made): done, or refused with this CKR. */
  dataValueWritable?: 'accepted' | { refused: CkrName };
  /**
   * CKA_ALLOWED_MECHANISMS on generated key pairs: kept and enforced (another mechanism is refused by
   * C_SignInit with this CKR), kept but not enforced, or refused by C_GenerateKeyPair with this CKR
   * (generateKeyPair then makes the pair without it).
   */
  allowedMechanisms: { enforced: CkrName } | 'not-enforced' | { refused: CkrName };
}

/** A second way into the token, under the facade: for what Token does not offer (C_SetAttributeValue, raw templates). */
export interface RawAccess {
  native: NativeModule;
  session: bigint;
}

const { CKA, CKO } = constants;
const APPLICATION = 'hsm-jwks/conformance';

/**
 * The data-object half of the capability pass: a CKO_DATA token object is made, found by
 * application and label, read under the facade (class, token, private, modifiable), its CKA_VALUE
 * set through C_SetAttributeValue, and destroyed; or, when the vendor refuses them, the refusal is
 * asserted. Call it inside a test: it asserts with expect.
 */
export async function dataObjectPass(
  token: Token,
  raw: RawAccess,
  caps: ObjectCapabilities,
  target: ConformanceTarget,
): Promise<void> {
  const label = `${target.idPrefix}record`;
  const value = Buffer.from(JSON.stringify({ kid: `${target.idPrefix}k`, alg: 'ES256' }));
  if (caps.dataObjects !== 'accepted') {
    console.log(
      `${target.vendor}: skipping data objects: C_CreateObject refuses CKO_DATA token objects with ${caps.dataObjects.refused}`,
    );
    await expect(token.createDataObject({ label, application: APPLICATION, value })).rejects.toMatchObject({
      code: codeOf(caps.dataObjects.refused),
      fn: 'C_CreateObject',
    });
    expect(await token.findDataObjects({ application: APPLICATION })).toEqual([]);
    return;
  }
  const made = await token.createDataObject({ label, application: APPLICATION, value });
  expect(made).toMatchObject({ label, application: APPLICATION, value });
  const found = await token.findDataObjects({ application: APPLICATION, label });
  expect(found.map((o) => ({ ...o }))).toEqual([{ label, application: APPLICATION, value }]);
  expect(await token.findDataObjects({ application: APPLICATION, label: `${label}-other` })).toEqual([]);
  expect(await token.findDataObjects({ application: `${APPLICATION}-other` })).toEqual([]);
  const [handle, ...more] = await raw.native.findObjects(
    raw.session,
    [
      [CKA.CLASS, CKO.DATA],
      [CKA.APPLICATION, APPLICATION],
      [CKA.LABEL, label],
    ],
    10,
  );
  expect(more).toEqual([]);
  const read = await raw.native.getAttributes(raw.session, handle!, [
    CKA.CLASS,
    CKA.TOKEN,
    CKA.PRIVATE,
    CKA.MODIFIABLE,
    CKA.VALUE,
  ]);
  expect(read.map((r) => ('value' in r ? r.value : r.absent))).toEqual([CKO.DATA, true, true, true, value]);

  const updated = Buffer.from(JSON.stringify({ kid: `${target.idPrefix}k`, alg: 'ES256', lifecycle: 'retired' }));
  const write = raw.native.setAttributes(raw.session, handle!, [[CKA.VALUE, updated]]);
  const writable = caps.dataValueWritable ?? 'accepted';
  if (writable === 'accepted') {
    await write;
    expect((await token.findDataObjects({ application: APPLICATION, label })).map((o) => o.value)).toEqual([updated]);
  } else {
    console.log(
      `${target.vendor}: CKA_VALUE of a data object is read-only (${writable.refused}): records are replaced, not updated`,
    );
    await expect(write).rejects.toMatchObject({ ckr: writable.refused, fn: 'C_SetAttributeValue' });
    expect((await token.findDataObjects({ application: APPLICATION, label })).map((o) => o.value)).toEqual([value]);
  }
  await token.destroyDataObject(made); // its handle, whatever its value is now
  expect(await token.findDataObjects({ application: APPLICATION })).toEqual([]);
  await expect(token.destroyDataObject(made)).rejects.toMatchObject({ code: 'ERR_DATA_OBJECT_GONE' });
}

/**
 * The CKA_ALLOWED_MECHANISMS half of the capability pass, on an RSA-2048 key pinned to the mechanism
 * RS256 goes through: kept (read back from the private object) and enforced or not (PS256 is tried),
 * or refused (the refusal is asserted under the facade, and generateKeyPair's pair has no pin, says
 * so, and is the only key with its id).
 */
export async function allowedMechanismsPass(
  token: Token,
  raw: RawAccess,
  mechs: ReadonlyMap<number, MechanismInfo>,
  caps: ObjectCapabilities,
  target: ConformanceTarget,
): Promise<void> {
  const spec: KeySpec = { type: 'rsa', bits: 2048 };
  const RS256: SignMechanism = { type: 'RSA-PKCS1', hash: 'SHA-256' };
  const PS256: SignMechanism = { type: 'RSA-PSS', hash: 'SHA-256' };
  const via = signRoute(RS256, (n) => mechs.has(CKM[n]))!;
  const allowed = [CKM[via]];
  const id = Buffer.from(`${target.idPrefix}pinned`);
  const data = Buffer.from('eyJhbGciOiJSUzI1NiJ9.pinned');
  const pair = await token.generateKeyPair(spec, { label: target.label, id, allowedMechanisms: allowed });
  try {
    const found = await token.findKeyPairs({ id });
    expect(found.map((p) => handlesOf(p).privateKey)).toEqual([handlesOf(pair).privateKey]); // a refused attempt left nothing behind
    expect(softwareVerify(pair, RS256, data, await token.sign(pair, RS256, data))).toBe(true);
    const other = token.sign(pair, PS256, data);
    const c = caps.allowedMechanisms;
    if (typeof c === 'object' && 'refused' in c) {
      console.log(`${target.vendor}: CKA_ALLOWED_MECHANISMS is refused (${c.refused}): keys are generated without it`);
      expect([pair.allowedMechanisms, found[0]!.allowedMechanisms, pair.problems]).toEqual([
        undefined,
        undefined,
        ['allowed-mechanisms-not-set'],
      ]);
      expect(softwareVerify(pair, PS256, data, await other)).toBe(true);
      const o = checkKeyPairOptions(
        { label: target.label, id: Buffer.from(`${target.idPrefix}refused`), allowedMechanisms: allowed },
        spec,
      );
      const t = keyPairTemplates(spec, o);
      await expect(
        raw.native.generateKeyPair(raw.session, t.mechanism, t.publicTemplate, t.privateTemplate),
      ).rejects.toMatchObject({ ckr: c.refused });
      expect(await raw.native.findObjects(raw.session, [[CKA.ID, o.id]], 10)).toEqual([]);
      return;
    }
    expect([pair.allowedMechanisms, found[0]!.allowedMechanisms, pair.problems]).toEqual([allowed, allowed, []]);
    if (c === 'not-enforced') {
      console.log(`${target.vendor}: CKA_ALLOWED_MECHANISMS is kept but not enforced`);
      expect(softwareVerify(pair, PS256, data, await other)).toBe(true);
    } else {
      await expect(other).rejects.toMatchObject({ code: codeOf(c.enforced), fn: 'C_SignInit' });
    }
  } finally {
    await token.destroyKeyPair(pair);
  }
}

/** SoftHSM 2.6.1, measured (docs/vendors.md); p11-kit-proxy in front of it passes the same through. */
export const SOFTHSM2_OBJECTS: ObjectCapabilities = {
  dataObjects: 'accepted',
  dataValueWritable: { refused: 'CKR_ATTRIBUTE_READ_ONLY' },
  allowedMechanisms: { enforced: 'CKR_MECHANISM_INVALID' },
};
