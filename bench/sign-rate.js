#!/usr/bin/env node
// First reading of signing throughput through hsm-jwks, one key type after another, on the token
// named by HSM_LIBRARY / HSM_TOKEN_LABEL / HSM_PIN (see scripts/dev-token.sh). Every signature in
// the window is counted, and a sample is verified in software. Not a test: figures vary by machine.
//   node bench/sign-rate.js [--seconds 2] [--concurrency 4] [--keys rsa-2048,p-256,...] [--no-deepbind]
'use strict';
const { createPublicKey, verify } = require('node:crypto');
const { Pkcs11Module } = require('../dist/lib');

const KEYS = {
  'rsa-2048': { spec: { type: 'rsa', bits: 2048 }, mechanism: { type: 'RSA-PKCS1', hash: 'SHA-256' }, alg: 'RS256' },
  'rsa-4096': { spec: { type: 'rsa', bits: 4096 }, mechanism: { type: 'RSA-PKCS1', hash: 'SHA-256' }, alg: 'RS256' },
  'p-256': { spec: { type: 'ec', curve: 'P-256' }, mechanism: { type: 'ECDSA', hash: 'SHA-256' }, alg: 'ES256' },
  'p-384': { spec: { type: 'ec', curve: 'P-384' }, mechanism: { type: 'ECDSA', hash: 'SHA-384' }, alg: 'ES384' },
  'p-521': { spec: { type: 'ec', curve: 'P-521' }, mechanism: { type: 'ECDSA', hash: 'SHA-512' }, alg: 'ES512' },
  ed25519: { spec: { type: 'ed25519' }, mechanism: { type: 'EdDSA' }, alg: 'EdDSA' },
};

function args() {
  const a = process.argv.slice(2);
  const get = (name, fallback) => {
    const i = a.indexOf(name);
    return i >= 0 ? a[i + 1] : fallback;
  };
  return {
    seconds: Number(get('--seconds', '2')),
    concurrency: Number(get('--concurrency', '4')),
    keys: get('--keys', Object.keys(KEYS).join(',')).split(','),
    deepBind: !a.includes('--no-deepbind'),
  };
}

function softwareVerify(pair, mechanism, data, sig) {
  const b = (x) => x.toString('base64url');
  const d = pair.publicKeyData;
  if (d.kty === 'RSA')
    return verify('sha256', data, createPublicKey({ key: { kty: 'RSA', n: b(d.n), e: b(d.e) }, format: 'jwk' }), sig);
  if (d.kty === 'OKP')
    return verify(null, data, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b(d.x) }, format: 'jwk' }), sig);
  const size = (d.point.length - 1) / 2;
  const key = createPublicKey({
    key: { kty: 'EC', crv: d.crv, x: b(d.point.subarray(1, 1 + size)), y: b(d.point.subarray(1 + size)) },
    format: 'jwk',
  });
  return verify(mechanism.hash.replace('-', '').toLowerCase(), data, { key, dsaEncoding: 'ieee-p1363' }, sig);
}

async function keyFor(token, name) {
  const id = Buffer.from(`bench-${name}`);
  const [existing] = await token.findKeyPairs({ id });
  if (existing) return existing;
  const started = process.hrtime.bigint();
  process.stderr.write(`generating ${name} key pair on the token… `);
  const pair = await token.generateKeyPair(KEYS[name].spec, { label: 'hsm-jwks-bench', id });
  process.stderr.write(`done in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s\n`);
  return pair;
}

async function measure(token, pair, mechanism, seconds, concurrency) {
  const data = Buffer.from('eyJhbGciOiJFUzI1NiIsImtpZCI6ImJlbmNoIn0.eyJzdWIiOiJiZW5jaCJ9');
  const warmUntil = Date.now() + 250;
  let count = 0;
  let measuring = false;
  let stop = false;
  let sample;
  const worker = async () => {
    while (!stop) {
      const sig = await token.sign(pair, mechanism, data);
      if (measuring) count++;
      sample = sig;
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  while (Date.now() < warmUntil) await new Promise((r) => setTimeout(r, 10));
  measuring = true;
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  measuring = false;
  stop = true;
  await Promise.all(workers);
  return { rate: count / elapsed, count, elapsed, verified: softwareVerify(pair, mechanism, data, sample) };
}

async function main() {
  const o = args();
  const { HSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so', HSM_TOKEN_LABEL, HSM_PIN } = process.env;
  if (!HSM_TOKEN_LABEL || !HSM_PIN) {
    throw new Error('set HSM_TOKEN_LABEL and HSM_PIN (eval "$(bash scripts/dev-token.sh)" makes a SoftHSM dev token)');
  }
  const mod = await Pkcs11Module.load(HSM_LIBRARY, { deepBind: o.deepBind });
  try {
    const info = await mod.info();
    const d = mod.describe();
    const token = await mod.openToken({ tokenLabel: HSM_TOKEN_LABEL }, { pin: HSM_PIN, poolSize: o.concurrency });
    console.log(
      `module: ${info.manufacturerID} ${info.libraryDescription} ${info.libraryVersion.major}.${info.libraryVersion.minor} (${d.path}, deepBind ${d.deepBind})`,
    );
    console.log(
      `token: ${token.label} (${token.model}); ${o.concurrency} signs in flight on a pool of ${o.concurrency}; ${o.seconds} s per key`,
    );
    console.log('key        alg     signs/s   µs/sign  signs  verified');
    for (const name of o.keys) {
      if (!KEYS[name]) throw new Error(`unknown key ${name}; known: ${Object.keys(KEYS).join(', ')}`);
      const pair = await keyFor(token, name);
      const r = await measure(token, pair, KEYS[name].mechanism, o.seconds, o.concurrency);
      console.log(
        `${name.padEnd(10)} ${KEYS[name].alg.padEnd(6)} ${r.rate.toFixed(0).padStart(8)} ${(1e6 / r.rate).toFixed(1).padStart(9)} ${String(r.count).padStart(6)}  ${r.verified}`,
      );
      if (!r.verified) process.exitCode = 1;
    }
  } finally {
    await mod.close();
  }
}

main().catch((e) => {
  console.error(`sign-rate: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  process.exit(1);
});
