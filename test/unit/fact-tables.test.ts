// One table per fact (issue 13): the tables of hashes, curves, RSA sizes, key types, algorithms and
// defaults agree with what is derived from them and with what still states them elsewhere (the
// addon's own defaults, the docs, node:crypto).
import { constants, createHash, generateKeyPairSync, publicDecrypt, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadConfig } from '../../lib/config';
import { ALGORITHMS, HMAC_ALGS, isHmac, KEY_PAIR_ALGS, type KeyPairAlg } from '../../lib/jose/algorithms';
import { algorithmsAvailable, mechanismNeeds } from '../../lib/keys/capabilities';
import { allowedMechanismsFor } from '../../lib/keys/hsm-source';
import { DEFAULT_PUBLISH_AHEAD_MS } from '../../lib/keys/key-ring';
import { DEFAULT_RETIRE_AFTER_MS } from '../../lib/keys/rotation';
import { CKM } from '../../lib/pkcs11/constants';
import { CURVES, type CurveName, curveNames, EC_CURVE_NAMES } from '../../lib/pkcs11/curves';
import { DEFAULTS } from '../../lib/pkcs11/defaults';
import { MechanismUnsupportedError } from '../../lib/pkcs11/errors';
import { HASH_NAMES, HASHES } from '../../lib/pkcs11/hashes';
import { KEY_TYPES, KeyPair, type KeyType } from '../../lib/pkcs11/key-pair';
import { checkKeySpec, RSA_SIZES } from '../../lib/pkcs11/key-spec';
import { prepareSignature, signMechanisms } from '../../lib/pkcs11/mechanisms';
import { checkRecoveryOptions } from '../../lib/pkcs11/recovery';
import { checkEngineOptions } from '../../lib/pkcs11/sign-engine';
import { checkTokenOptions } from '../../lib/pkcs11/token-setup';
import { MIN_ADMIN_TOKEN_LENGTH } from '../../lib/service-config';
import { MIN_SECRET_LENGTH } from '../../lib/store/sealing';
import type { NativeTokenInfo } from '../../binding';

const root = path.join(__dirname, '..', '..');
/** A file's text with every run of white space (line breaks of wrapped prose included) one space. */
const flat = (file: string) => fs.readFileSync(path.join(root, file), 'utf8').replace(/\s+/g, ' ');
const thousands = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${ms / 1000} s`;

/** DER of an OBJECT IDENTIFIER (X.690 §8.19). */
function derOid(oid: string): string {
  const [a, b, ...rest] = oid.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return Buffer.from([0x06, bytes.length, ...bytes]).toString('hex');
}

describe('hashes', () => {
  test.each(HASH_NAMES)('%s: node:crypto name, output length and DigestInfo', (name) => {
    const h = HASHES[name];
    expect(h.name).toBe(name);
    expect(createHash(h.node).update('x').digest()).toHaveLength(h.bytes);
    // The DigestInfo node:crypto puts under an RSASSA-PKCS1-v1_5 signature, recovered with the public key.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const data = Buffer.from('signing input');
    const encoded = publicDecrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      sign(h.node, data, privateKey),
    );
    expect(encoded.toString('hex')).toBe(h.digestInfo.toString('hex') + createHash(h.node).update(data).digest('hex'));
  });
});

describe('curves', () => {
  test.each(Object.keys(CURVES) as CurveName[])('%s: its name, CKA_EC_PARAMS, key type and sizes', (name) => {
    const c = CURVES[name];
    expect(c.name).toBe(name);
    expect(c.params.toString('hex')).toBe(derOid(c.oid));
    expect(Object.keys(KEY_TYPES)).toContain(c.keyType);
    const jwk =
      c.kty === 'EC'
        ? generateKeyPairSync('ec', { namedCurve: name }).publicKey.export({ format: 'jwk' })
        : generateKeyPairSync(c.keyType as 'ed25519').publicKey.export({ format: 'jwk' });
    expect([jwk.kty, jwk.crv]).toEqual([c.kty, name]);
    expect(Buffer.from(jwk.x!, 'base64url')).toHaveLength(c.fieldBytes);
    expect(c.signatureBytes).toBe(2 * c.fieldBytes);
  });

  test('the curves by kty cover the table once', () => {
    expect([...curveNames('EC'), ...curveNames('OKP')].sort()).toEqual(Object.keys(CURVES).sort());
    expect(EC_CURVE_NAMES).toEqual(curveNames('EC'));
  });
});

describe('the algorithm table against the tables of pkcs11/', () => {
  test.each([...KEY_PAIR_ALGS])('%s', (alg) => {
    const info = ALGORITHMS[alg];
    expect(checkKeySpec(info.generate)).toEqual(info.generate); // the token layer takes what generation asks
    if (info.crv !== undefined) {
      const c = CURVES[info.crv];
      expect(c).toBeDefined();
      expect([info.kty, info.signatureBytes, info.generate.type]).toEqual([c.kty, c.signatureBytes, c.keyType]);
      if (info.generate.type === 'ec') expect(info.generate.curve).toBe(info.crv);
    } else {
      expect(info.kty).toBe('RSA');
      expect(info.minRsaBits).toBe(RSA_SIZES.minBits);
      expect(info.generate).toEqual({ type: 'rsa', bits: RSA_SIZES.generateBits });
    }
    if (info.hash !== undefined) {
      expect(HASHES[info.hash]).toBeDefined();
      expect(info.mechanism).toMatchObject({ hash: info.hash });
    } else {
      expect(info.mechanism).not.toHaveProperty('hash');
    }
  });

  test.each([...HMAC_ALGS])('%s: secret and MAC of the hash size', (alg) => {
    const info = ALGORITHMS[alg];
    expect([info.secretBytes, info.signatureBytes]).toEqual([HASHES[info.hash].bytes, HASHES[info.hash].bytes]);
  });

  test('RSA sizes: generation makes a size the token layer takes, at least the smallest accepted', () => {
    expect(RSA_SIZES.bits).toContain(RSA_SIZES.generateBits);
    expect(RSA_SIZES.generateBits).toBeGreaterThanOrEqual(RSA_SIZES.minBits);
    expect(Math.min(...RSA_SIZES.bits)).toBeGreaterThanOrEqual(RSA_SIZES.minBits);
  });

  test('key types: one CKA_KEY_TYPE each, and every alg generates one of them', () => {
    const ckks = Object.values(KEY_TYPES).map((k) => k.ckk);
    expect(new Set(ckks).size).toBe(ckks.length);
    for (const alg of KEY_PAIR_ALGS) expect(Object.keys(KEY_TYPES)).toContain(ALGORITHMS[alg].generate.type);
  });
});

describe('capabilities and mechanisms, derived from the algorithm table', () => {
  const all = new Set<number>(Object.values(CKM));
  const data = Buffer.from('signing input');
  const pairFor = (alg: KeyPairAlg) => {
    const info = ALGORITHMS[alg];
    const keyType: KeyType = info.generate.type;
    return new KeyPair({
      id: Buffer.from('k'),
      label: 'l',
      keyType,
      ...(info.crv ? { curve: info.crv } : { bits: RSA_SIZES.generateBits }),
      privateKey: 1n,
      publicKey: 2n,
      canSign: true,
      canDecrypt: false,
      publicKeyData: null,
      problems: [],
    });
  };

  test('every key-pair alg is available on a token with every mechanism, none on a token with none', () => {
    expect(algorithmsAvailable(all)).toEqual({ available: [...KEY_PAIR_ALGS], unavailable: [] });
    expect(algorithmsAvailable(new Set())).toEqual({ available: [], unavailable: [...KEY_PAIR_ALGS] });
    expect(HMAC_ALGS.every((a) => isHmac(ALGORITHMS[a]))).toBe(true);
  });

  test.each([...KEY_PAIR_ALGS])('%s: each way of signing it is one prepareSignature takes', (alg) => {
    const info = ALGORITHMS[alg];
    const [generate, signing] = mechanismNeeds(alg) as [number[], number[]];
    expect(generate).toEqual([KEY_TYPES[info.generate.type].generate]);
    expect(signing.length).toBeGreaterThan(0);
    for (const m of signing) {
      expect(algorithmsAvailable(new Set([...generate, m])).available).toContain(alg);
      expect(prepareSignature(info.mechanism, pairFor(alg), new Set([m]), data).mechanism.type).toBe(m);
    }
    expect(() => prepareSignature(info.mechanism, pairFor(alg), new Set(generate), data)).toThrow(
      MechanismUnsupportedError,
    );
    // CKA_ALLOWED_MECHANISMS pins one of them: the token's own hashing when listed, else the raw one.
    expect(allowedMechanismsFor(alg, 'sig', all)).toEqual([signing[0]]);
    expect(allowedMechanismsFor(alg, 'sig', new Set())).toEqual([signing.at(-1)]);
    expect(signMechanisms(info.mechanism)).toEqual(signing);
  });
});

describe('defaults', () => {
  const unlimited = { minPinLen: 4, maxPinLen: 255, maxRwSessionCount: 0 } as NativeTokenInfo;

  test('the options of a Token take theirs from the table', () => {
    expect(checkTokenOptions({}, unlimited).poolSize).toBe(DEFAULTS.pool.size);
    expect(checkEngineOptions(undefined, Infinity)).toMatchObject({
      batchSize: DEFAULTS.engine.batchSize,
      maxPending: DEFAULTS.engine.maxPending,
      max: DEFAULTS.engine.maxWorkers,
    });
    const r = DEFAULTS.recovery;
    expect(checkRecoveryOptions(undefined)).toEqual({
      attempts: r.reinitAttempts,
      backoffMs: r.backoffMs,
      maxBackoffMs: r.maxBackoffMs,
      drainTimeoutMs: r.drainTimeoutMs,
      reconnectMs: r.reconnectMs,
    });
    expect(checkRecoveryOptions({})).toEqual(checkRecoveryOptions(undefined));
  });

  test("the addon's own defaults (for raw callers) are the table's", () => {
    const engine = fs.readFileSync(path.join(root, 'native', 'sign_engine.cc'), 'utf8');
    const moduleObject = fs.readFileSync(path.join(root, 'native', 'module_object.cc'), 'utf8');
    expect(Number(/size_t batchSize = (\d+);/.exec(engine)?.[1])).toBe(DEFAULTS.engine.batchSize);
    expect(Number(/size_t maxPending = (\d+);/.exec(engine)?.[1])).toBe(DEFAULTS.engine.maxPending);
    expect(Number(/CK_ULONG drainMs = (\d+);/.exec(moduleObject)?.[1])).toBe(DEFAULTS.recovery.drainTimeoutMs);
    const binding = flat('binding.d.ts');
    expect(binding).toContain(`\`drainTimeoutMs\` (default ${DEFAULTS.recovery.drainTimeoutMs})`);
    expect(binding).toContain(`(default ${DEFAULTS.engine.maxPending})`);
  });

  test('the configuration takes its defaults from the tables of the layers below it', () => {
    const hsm = { HSM_ENABLED: 'true', HSM_LIBRARY: '/nowhere/module.so', HSM_TOKEN_LABEL: 't', HSM_PIN: '0000' };
    expect(loadConfig(hsm).hsm?.poolSize).toBe(DEFAULTS.pool.size);
    const plain = loadConfig({});
    expect(plain.service.rotation.retireAfterMs).toBe(DEFAULT_RETIRE_AFTER_MS);
    expect(plain.publishAheadMs).toBe(DEFAULT_PUBLISH_AHEAD_MS); // KeyRing's, for callers without a configuration
    const secret = (n: number) => ({ SECRETS_SYSTEM: 's'.repeat(n) });
    expect(() => loadConfig(secret(MIN_SECRET_LENGTH - 1))).toThrow(/SECRETS_SYSTEM/);
    expect(loadConfig(secret(MIN_SECRET_LENGTH)).secrets).toHaveLength(1);
  });

  test('the API comments state the table', () => {
    const [p, e, r] = [DEFAULTS.pool, DEFAULTS.engine, DEFAULTS.recovery];
    const stated: Record<string, string[]> = {
      'lib/pkcs11/token-setup.ts': [
        `(default ${p.size})`,
        `(default ${seconds(p.waitTimeoutMs)})`,
        `(default ${p.maxWaiting})`,
      ],
      'lib/pkcs11/sign-engine.ts': [
        `(default ${e.maxWorkers},`,
        `(default ${e.batchSize})`,
        `(default ${e.maxPending})`,
      ],
      'lib/pkcs11/recovery.ts': [
        `(default ${r.reinitAttempts})`,
        `(default ${r.backoffMs} ms)`,
        `(default ${r.maxBackoffMs} ms)`,
        `(default ${r.drainTimeoutMs} ms)`,
        `(default ${r.reconnectMs} ms)`,
      ],
    };
    for (const [file, phrases] of Object.entries(stated))
      for (const phrase of phrases)
        expect({ file, phrase, found: flat(file).includes(phrase) }).toMatchObject({ found: true });
  });

  test('the docs state the tables', () => {
    const [p, e, r] = [DEFAULTS.pool, DEFAULTS.engine, DEFAULTS.recovery];
    const stated: Record<string, string[]> = {
      'docs/pkcs11.md': [
        `\`poolSize\` sessions (default ${p.size},`,
        `\`poolWaitTimeoutMs\` (default ${seconds(p.waitTimeoutMs)},`,
        `\`poolMaxWaiting\` of them (default ${thousands(p.maxWaiting)},`,
        `\`engine.maxWorkers\`, default ${e.maxWorkers};`,
        `\`engine.maxPending\`, default ${thousands(e.maxPending)},`,
        `(defaults ${r.reinitAttempts}, ${r.backoffMs} ms, ${seconds(r.maxBackoffMs)}; then every ${seconds(r.reconnectMs)}`,
        `waits at most ${seconds(r.drainTimeoutMs)} for the calls in flight`,
      ],
      'docs/reliability.md': [
        `${r.reinitAttempts} attempts from ${r.backoffMs} ms, at most ${seconds(r.maxBackoffMs)} apart`,
        `\`recovery.drainTimeoutMs\` (default ${seconds(r.drainTimeoutMs)})`,
        `\`recovery.reconnectMs\` (${seconds(r.reconnectMs)})`,
      ],
      'docs/performance.md': [
        `\`engine.batchSize\` (${e.batchSize})`,
        `\`engine.maxWorkers\` (default ${e.maxWorkers})`,
      ],
      'docs/configuration.md': [
        `| \`HSM_POOL_SIZE\` | \`${p.size}\` |`,
        `secrets of ${MIN_SECRET_LENGTH}+ characters`,
        `(${MIN_ADMIN_TOKEN_LENGTH}+ characters)`,
      ],
      'docs/keys.md': [`a secret under ${MIN_SECRET_LENGTH} characters`],
    };
    for (const [file, phrases] of Object.entries(stated))
      for (const phrase of phrases)
        expect({ file, phrase, found: flat(file).includes(phrase) }).toMatchObject({ found: true });
  });
});
