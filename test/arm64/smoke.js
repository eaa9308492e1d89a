'use strict';
// Smoke test of a prebuild on the machine it runs on (scripts/test-arm64.sh runs it with Debian's
// arm64 node 18 under qemu-user): node-gyp-build must pick prebuilds/<platform>-<arch>/hsm-jwks.node
// of the package directory given as argument (default: this repository), then the addon, on a fresh
// SoftHSM2 token, generates an EC P-256 and an RSA 2048 key pair and signs; node:crypto verifies the
// signatures with public keys built from CKA_EC_POINT and CKA_MODULUS/CKA_PUBLIC_EXPONENT.
// Plain CommonJS for Node >= 18: nothing but node-gyp-build and the addon (no dist/, no devDependencies).
//   node test/arm64/smoke.js [package dir]
// Environment: SOFTHSM_MODULE (the libsofthsm2.so to load), EXPECT_ARCH (fail unless process.arch is it).
// Prints PASS/FAIL lines with the time each step took; the exit code is 1 on any failure.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Values from lib/pkcs11/constants.ts (this file runs without the TypeScript build).
const CKA = {
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  SENSITIVE: 0x103,
  SIGN: 0x108,
  VERIFY: 0x10a,
  MODULUS: 0x120,
  MODULUS_BITS: 0x121,
  PUBLIC_EXPONENT: 0x122,
  EXTRACTABLE: 0x162,
  EC_PARAMS: 0x180,
  EC_POINT: 0x181,
};
const CKM = {
  RSA_PKCS_KEY_PAIR_GEN: 0x0,
  SHA256_RSA_PKCS: 0x40,
  EC_KEY_PAIR_GEN: 0x1040,
  ECDSA: 0x1041,
  ECDSA_SHA256: 0x1044,
};
const CKU = { SO: 0, USER: 1 };
const CKF_RW_SESSION = 0x2;
const CKF_TOKEN_INITIALIZED = 0x400;
const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex'); // DER of prime256v1, CKA_EC_PARAMS
const ELF_MACHINES = { 3: 'x86', 62: 'x86-64', 40: 'arm', 183: 'aarch64' };
const MACHINE_OF_ARCH = { ia32: 'x86', x64: 'x86-64', arm: 'arm', arm64: 'aarch64' };

const SO_PIN = '87654321';
const USER_PIN = '12345678';
const LABEL = 'arm64-smoke';

const packageDir = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));
let failed = false;

/**
 * Runs one step and prints PASS with its time (and what it returned, when that is a string), or FAIL
 * with the error, which then stops the test. Resolves with what `fn` returned.
 */
async function step(name, fn) {
  const started = process.hrtime.bigint();
  try {
    const result = await fn();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`PASS: ${name} (${ms.toFixed(0)} ms)${typeof result === 'string' ? `: ${result}` : ''}`);
    return result;
  } catch (e) {
    failed = true;
    console.log(`FAIL: ${name}: ${e?.stack ?? e}`);
    throw e;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** The ELF machine of a file: 'aarch64', 'x86-64', ... */
function elfMachine(file) {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  assert(header.readUInt32BE(0) === 0x7f454c46, `${file} is not an ELF file`);
  const machine = header.readUInt16LE(18);
  return ELF_MACHINES[machine] || `machine ${machine}`;
}

function softHsmModule() {
  const candidates = process.env.SOFTHSM_MODULE
    ? [process.env.SOFTHSM_MODULE]
    : [
        '/usr/lib/softhsm/libsofthsm2.so',
        `/usr/lib/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/softhsm/libsofthsm2.so`,
      ];
  const found = candidates.find((file) => fs.existsSync(file));
  assert(found, `no SoftHSM2 module at ${candidates.join(', ')} (set SOFTHSM_MODULE)`);
  return found;
}

/** A value read with getAttributes, or a failure naming what is missing. */
function attributeValue(readings, type) {
  const reading = readings.find((r) => r.type === type);
  assert(reading && 'value' in reading, `attribute 0x${type.toString(16)} unreadable: ${JSON.stringify(reading)}`);
  return reading.value;
}

/** The public key of an EC P-256 pair: CKA_EC_POINT is an uncompressed point, DER OCTET STRING or raw. */
function ecPublicKey(point) {
  let raw = Buffer.from(point);
  if (raw.length === 67 && raw[0] === 0x04 && raw[1] === 65) raw = raw.subarray(2);
  assert(raw.length === 65 && raw[0] === 0x04, `unexpected CKA_EC_POINT ${raw.toString('hex')}`);
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    x: raw.subarray(1, 33).toString('base64url'),
    y: raw.subarray(33).toString('base64url'),
  };
  return crypto.createPublicKey({ key: jwk, format: 'jwk' });
}

function rsaPublicKey(modulus, exponent) {
  const jwk = {
    kty: 'RSA',
    n: Buffer.from(modulus).toString('base64url'),
    e: Buffer.from(exponent).toString('base64url'),
  };
  return crypto.createPublicKey({ key: jwk, format: 'jwk' });
}

/** node:crypto must accept the signature of `data` and refuse it for other data. */
function verifyInSoftware(key, data, signature, options = {}) {
  const keyObject = { key, ...options };
  assert(crypto.verify('sha256', data, keyObject, signature), 'node:crypto rejects the signature');
  const tampered = Buffer.concat([data, Buffer.from('!')]);
  assert(!crypto.verify('sha256', tampered, keyObject, signature), 'node:crypto accepts the signature of other data');
}

function privateTemplate(label) {
  return [
    [CKA.TOKEN, true],
    [CKA.PRIVATE, true],
    [CKA.SENSITIVE, true],
    [CKA.EXTRACTABLE, false],
    [CKA.SIGN, true],
    [CKA.LABEL, label],
  ];
}

async function main() {
  const expectedArch = process.env.EXPECT_ARCH || process.arch;
  const tuple = `${process.platform}-${process.arch}`;
  const expectedMachine = MACHINE_OF_ARCH[process.arch];
  await step('platform', () => {
    assert(process.arch === expectedArch, `process.arch is ${process.arch}, expected ${expectedArch}`);
    return `node ${process.version} ${tuple} (${os.release()}), package ${packageDir}`;
  });

  const nodeGypBuild = require(require.resolve('node-gyp-build', { paths: [packageDir] }));
  const addonFile = path.join(packageDir, 'prebuilds', tuple, 'hsm-jwks.node');
  await step('node-gyp-build picks the prebuild', () => {
    const found = nodeGypBuild.path(packageDir);
    assert(found === addonFile, `node-gyp-build found ${found}, not ${addonFile} (a build/ directory comes first)`);
    const machine = elfMachine(found);
    assert(machine === expectedMachine, `${found} is an ${machine} ELF, not ${expectedMachine}`);
    return `${path.relative(packageDir, found)} (${machine} ELF, ${fs.statSync(found).size} bytes)`;
  });

  let binding;
  await step('the addon loads', () => {
    binding = nodeGypBuild(packageDir);
    for (const name of ['load', 'setErrorClasses']) assert(typeof binding[name] === 'function', `no ${name}()`);
    // The very file is mapped into this process (under qemu-user: the guest's mappings).
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    assert(maps.includes(addonFile), `${addonFile} is not mapped in /proc/self/maps`);
    return `${addonFile} mapped`;
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-smoke-'));
  let mod;
  try {
    fs.mkdirSync(path.join(tmp, 'tokens'));
    const conf = path.join(tmp, 'softhsm2.conf');
    fs.writeFileSync(
      conf,
      `directories.tokendir = ${path.join(tmp, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n` +
        'slots.removable = false\n',
    );
    process.env.SOFTHSM2_CONF = conf; // read by SoftHSM in C_Initialize, from the process environment

    const modulePath = softHsmModule();
    mod = await step('SoftHSM2 module loaded', async () => {
      const machine = elfMachine(modulePath);
      assert(machine === expectedMachine, `${modulePath} is an ${machine} ELF, not ${expectedMachine}`);
      return binding.load(modulePath);
    });
    const info = await mod.getInfo();
    console.log(
      `      ${modulePath}: ${info.libraryDescription} ${info.libraryVersion.major}.${info.libraryVersion.minor}`,
    );

    const { slot, session } = await step('token initialised, user PIN set, user logged in', async () => {
      const fresh = (await mod.getSlots(true)).find((s) => s.token && !(s.token.flags & CKF_TOKEN_INITIALIZED));
      assert(fresh, 'no uninitialised SoftHSM2 token');
      await mod.initToken(fresh.slot, Buffer.from(SO_PIN), LABEL);
      // SoftHSM gives an initialised token a new slot id: look it up by label.
      const ready = (await mod.getSlots(true)).find((s) => s.token && s.token.label === LABEL);
      assert(ready, `no token labelled ${LABEL} after C_InitToken`);
      const opened = await mod.openSession(ready.slot, CKF_RW_SESSION);
      await mod.login(opened, CKU.SO, Buffer.from(SO_PIN));
      await mod.initPin(opened, Buffer.from(USER_PIN));
      await mod.logout(opened);
      await mod.login(opened, CKU.USER, Buffer.from(USER_PIN));
      return { slot: ready.slot, session: opened };
    });
    const mechanisms = new Set((await mod.getMechanisms(slot)).map((m) => m.type));
    const data = Buffer.from(`eyJhbGciOiJFUzI1NiJ9.${Buffer.from(`arm64 ${Date.now()}`).toString('base64url')}`);

    const ec = await step('EC P-256 key pair generated on the token', async () => {
      const pair = await mod.generateKeyPair(
        session,
        { type: CKM.EC_KEY_PAIR_GEN },
        [
          [CKA.TOKEN, true],
          [CKA.VERIFY, true],
          [CKA.EC_PARAMS, P256_OID],
          [CKA.LABEL, 'ec-p256'],
        ],
        privateTemplate('ec-p256'),
      );
      const readings = await mod.getAttributes(session, pair.publicKey, [CKA.EC_POINT]);
      return { ...pair, key: ecPublicKey(attributeValue(readings, CKA.EC_POINT)) };
    });
    // ES256 as the package signs it: CKM_ECDSA_SHA256 when the token has it, else CKM_ECDSA over a host hash.
    const ecdsaSha256 = mechanisms.has(CKM.ECDSA_SHA256);
    await step(
      `ECDSA P-256 signature (${ecdsaSha256 ? 'CKM_ECDSA_SHA256' : 'CKM_ECDSA over a SHA-256 hash'}) verified by node:crypto`,
      async () => {
        const input = ecdsaSha256 ? data : crypto.createHash('sha256').update(data).digest();
        const type = ecdsaSha256 ? CKM.ECDSA_SHA256 : CKM.ECDSA;
        const signature = await mod.sign(session, ec.privateKey, { type }, input, 64);
        assert(signature.length === 64, `signature of ${signature.length} bytes`);
        verifyInSoftware(ec.key, data, signature, { dsaEncoding: 'ieee-p1363' });
        const signedSync = mod.signSync(session, ec.privateKey, type, input, 64);
        verifyInSoftware(ec.key, data, signedSync, { dsaEncoding: 'ieee-p1363' });
        return `64-byte r||s, async and sync`;
      },
    );

    const rsa = await step('RSA 2048 key pair generated on the token', async () => {
      const pair = await mod.generateKeyPair(
        session,
        { type: CKM.RSA_PKCS_KEY_PAIR_GEN },
        [
          [CKA.TOKEN, true],
          [CKA.VERIFY, true],
          [CKA.MODULUS_BITS, 2048],
          [CKA.PUBLIC_EXPONENT, Buffer.from([1, 0, 1])],
          [CKA.LABEL, 'rsa-2048'],
        ],
        privateTemplate('rsa-2048'),
      );
      const readings = await mod.getAttributes(session, pair.publicKey, [CKA.MODULUS, CKA.PUBLIC_EXPONENT]);
      const modulus = attributeValue(readings, CKA.MODULUS);
      assert(modulus.length === 256, `modulus of ${modulus.length} bytes`);
      return { ...pair, key: rsaPublicKey(modulus, attributeValue(readings, CKA.PUBLIC_EXPONENT)) };
    });
    await step('RSA signature (CKM_SHA256_RSA_PKCS) verified by node:crypto', async () => {
      const signature = await mod.sign(session, rsa.privateKey, { type: CKM.SHA256_RSA_PKCS }, data, 256);
      verifyInSoftware(rsa.key, data, signature);
      return `${signature.length}-byte signature`;
    });

    await step('signing engine (2 worker threads, 16 ES256 requests) verified by node:crypto', async () => {
      const sessions = [await mod.openSession(slot, 0), await mod.openSession(slot, 0)];
      const engine = mod.createSignEngine(sessions, { batchSize: 4 });
      try {
        const type = ecdsaSha256 ? CKM.ECDSA_SHA256 : CKM.ECDSA;
        const inputs = Array.from({ length: 16 }, (_, i) => Buffer.concat([data, Buffer.from(`.${i}`)]));
        const signatures = await Promise.all(
          inputs.map((input) =>
            engine.sign(
              ec.privateKey,
              type,
              ecdsaSha256 ? input : crypto.createHash('sha256').update(input).digest(),
              64,
            ),
          ),
        );
        signatures.forEach((signature, i) => {
          verifyInSoftware(ec.key, inputs[i], signature, { dsaEncoding: 'ieee-p1363' });
        });
        const stats = engine.stats();
        return `${stats.completed} signed in ${stats.batches} batches by ${stats.workers} workers`;
      } finally {
        await engine.close();
        for (const s of sessions) await mod.closeSession(s);
      }
    });
    await mod.closeSession(session);
  } finally {
    if (mod) await mod.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const started = process.hrtime.bigint();
main()
  .catch((e) => {
    if (!failed) console.log(`FAIL: ${e?.stack ?? e}`);
    failed = true;
  })
  .finally(() => {
    const seconds = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);
    console.log(failed ? `FAIL: smoke test (${seconds} s)` : `PASS: smoke test on ${process.arch} (${seconds} s)`);
    process.exitCode = failed ? 1 : 0;
  });
