#!/usr/bin/env node
'use strict';
// A soak: signing at full speed (64 in flight) through the fault-injecting module in front of
// SoftHSM2, with a fault injected every few seconds (session lost, session closed, login lost,
// device error, stale handle, device removed, and the device unplugged for 200 ms, in turn).
// Reports successes, typed failures, recoveries and RSS (sampled every 10 s) as JSON on stdout. Exit 1 if anything other than a typed error happens or a signature fails to verify.
//   node bench/soak-faults.js [--seconds 600] [--every 3]
// Needs npm run build and npm run build:test-tools.
const { verify, createPublicKey } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { arg, makeSoftHsmToken } = require('./common');

const root = path.join(__dirname, '..');
const FAULTS = [
  'C_Sign=0xB3 once',
  'C_Sign=0xB0 once',
  'C_SignInit=0x101 once',
  'C_Sign=0x30 once',
  'C_SignInit=0x82 once',
  'C_SignInit=0x32 once',
  'device_gone',
];
const UNPLUGGED_MS = 200;

async function main() {
  const seconds = Number(arg('--seconds', '600'));
  const every = Number(arg('--every', '3'));
  const { dir, conf, pin } = makeSoftHsmToken({ prefix: 'hsm-jwks-soak-', label: 'soak' });
  process.env.SOFTHSM2_CONF = conf;
  process.env.FAULT_CONTROL = path.join(dir, 'control');
  fs.writeFileSync(process.env.FAULT_CONTROL, '');
  const { Pkcs11Module } = require(path.join(root, 'dist', 'lib'));
  const mod = await Pkcs11Module.load(path.join(root, 'build', 'fault-module', 'libfault_pkcs11.so'));
  const token = await mod.openToken({ tokenLabel: 'soak' }, { pin, recovery: { backoffMs: 50 } });
  const pair = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'soak', id: Buffer.from('soak') });
  const d = pair.publicKeyData;
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: d.point.subarray(1, 33).toString('base64url'),
      y: d.point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const data = Buffer.from('soak');
  const counts = { ok: 0, bad: 0, typed: {}, untyped: 0 };
  let stop = false;
  const rssStart = process.memoryUsage().rss;
  const loop = async () => {
    while (!stop) {
      try {
        const sig = await token.sign(pair, { type: 'ECDSA', hash: 'SHA-256' }, data);
        if (counts.ok % 1000 === 0 && !verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)) counts.bad++;
        counts.ok++;
      } catch (e) {
        if (typeof e.code === 'string') counts.typed[e.code] = (counts.typed[e.code] ?? 0) + 1;
        else counts.untyped++;
      }
    }
  };
  const loops = Array.from({ length: 64 }, loop);
  let injected = 0;
  const injector = setInterval(() => {
    const fault = FAULTS[injected % FAULTS.length];
    fs.writeFileSync(process.env.FAULT_CONTROL, `${fault}\n# ${injected}\n`);
    if (fault === 'device_gone')
      setTimeout(() => fs.writeFileSync(process.env.FAULT_CONTROL, `# ${injected} plugged in again\n`), UNPLUGGED_MS);
    injected++;
  }, every * 1000);
  const rssMb = [];
  const sampler = setInterval(() => rssMb.push(Math.round(process.memoryUsage().rss / 2 ** 20)), 10_000);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(injector);
  clearInterval(sampler);
  stop = true;
  await Promise.all(loops);
  const elapsed = (Date.now() - t0) / 1000;
  const result = {
    seconds: elapsed,
    faultsInjected: injected,
    signatures: counts.ok,
    perSecond: Math.round(counts.ok / elapsed),
    typedFailures: counts.typed,
    untypedFailures: counts.untyped,
    sampledSignaturesFailingVerification: counts.bad,
    successRate: counts.ok / (counts.ok + counts.untyped + Object.values(counts.typed).reduce((a, b) => a + b, 0)),
    recoveries: token.stats().recoveries,
    rssStartMb: Math.round(rssStart / 2 ** 20),
    rssEndMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    rssEvery10sMb: rssMb,
  };
  await mod.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result, null, 2));
  if (counts.untyped > 0 || counts.bad > 0 || counts.ok === 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`soak: ${e.message}`);
  process.exit(1);
});
