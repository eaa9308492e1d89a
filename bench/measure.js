'use strict';
// One measurement, in a process of its own (bench/run.js starts one per configuration):
//   node bench/measure.js '<json>'   → one JSON line on stdout
// { kind, key, conc, seconds, warmup, module, label, pin, workers, batchSize, dsn, secret, set }
// Kinds: hsm-sign, hsm-sign-nodeepbind (the module loaded without RTLD_DEEPBIND), hsm-sign-sync,
// hsm-jwt (signJwt over a held Signer), km-jwt (km.signJwt(set, claims) on a key manager from
// createKeyManager with default settings, the path of the service's POST /admin/jwt; its key set
// is made first when missing, in the SQLite store `dsn`) (hsm-jwks), p11js-sync, p11js-promise
// (pkcs11js), node-crypto, jose (software keys, for context).
const crypto = require('node:crypto');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const { KEYS } = require('./keys');

const o = JSON.parse(process.argv[2]);
const key = KEYS[o.key];
const message = Buffer.alloc(256, 0x5a);

/** Runs `conc` loops of `op(loopIndex)` for warm-up + window; returns signatures/s over the window. */
async function measureAsync(op, conc) {
  let measuring = false;
  let stop = false;
  let count = 0;
  const loop = async (i) => {
    while (!stop) {
      await op(i);
      if (measuring) count++;
    }
  };
  const loops = Array.from({ length: conc }, (_, i) => loop(i));
  await sleep(o.warmup * 1000);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  measuring = true;
  await sleep(o.seconds * 1000);
  measuring = false;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  stop = true;
  await Promise.all(loops);
  return {
    rate: count / elapsed,
    count,
    elapsed,
    elDelayP99Ms: delay.percentile(99) / 1e6,
    cpuCores: (cpu.user + cpu.system) / 1e6 / elapsed,
  };
}

/** A synchronous loop (it blocks the event loop by design), timed in slices. */
function measureSync(op) {
  const until = (t) => {
    let n = 0;
    while (process.hrtime.bigint() < t) {
      for (let i = 0; i < 16; i++) op();
      n += 16;
    }
    return n;
  };
  until(process.hrtime.bigint() + BigInt(Math.round(o.warmup * 1e9)));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const count = until(t0 + BigInt(Math.round(o.seconds * 1e9)));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: count / elapsed,
    count,
    elapsed,
    elDelayP99Ms: null,
    cpuCores: (cpu.user + cpu.system) / 1e6 / elapsed,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function hsmJwks() {
  const lib = require(path.join(__dirname, '..', 'dist', 'lib'));
  const mod = await lib.Pkcs11Module.load(o.module, o.kind === 'hsm-sign-nodeepbind' ? { deepBind: false } : {});
  const engine = o.workers ? { workers: o.workers, batchSize: o.batchSize } : undefined;
  const token = await mod.openToken(
    { tokenLabel: o.label },
    { pin: o.pin, signSync: o.kind === 'hsm-sign-sync', ...(engine ? { engine } : {}) },
  );
  const [pair] = await token.findKeyPairs({ id: Buffer.from(key.id) });
  if (!pair) throw new Error(`key ${key.id} is missing: bench/run.js generates it`);
  try {
    if (o.kind === 'hsm-sign' || o.kind === 'hsm-sign-nodeepbind')
      return await measureAsync(() => token.sign(pair, key.mechanism, message), o.conc);
    if (o.kind === 'hsm-sign-sync') return measureSync(() => token.signSync(pair, key.mechanism, message));
    const signer = lib.hsmSigner(token, pair, { alg: key.alg });
    let i = 0;
    return await measureAsync(() => lib.signJwt(signer, { sub: 'bench', jti: i++, iat: 1700000000 }), o.conc);
  } finally {
    await mod.close();
  }
}

/** The service's path: a key manager made as the service makes it (loadConfig defaults), then km.signJwt. */
async function keyManager() {
  const lib = require(path.join(__dirname, '..', 'dist', 'lib'));
  const env = {
    HSM_ENABLED: 'true',
    HSM_LIBRARY: o.module,
    HSM_TOKEN_LABEL: o.label,
    HSM_PIN: o.pin,
    DSN: o.dsn,
    SECRETS_SYSTEM: o.secret,
    LOG_LEVEL: 'warn',
  };
  const km = await lib.createKeyManager(lib.loadConfig(env));
  const set = o.set ?? 'bench';
  try {
    await lib.ensureKeySet(km, set, key.alg);
    let i = 0;
    return await measureAsync(() => km.signJwt(set, { sub: 'bench', jti: i++, iat: 1700000000 }), o.conc);
  } finally {
    await km.close();
  }
}

async function pkcs11js() {
  let pkcs11js;
  try {
    pkcs11js = require('pkcs11js');
  } catch {
    return { skipped: 'pkcs11js is not installed (it is a devDependency of hsm-jwks)' };
  }
  const p11 = new pkcs11js.PKCS11();
  p11.load(o.module);
  p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  try {
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === o.label);
    const sessions = Array.from({ length: Math.max(1, o.conc) }, () =>
      p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION),
    );
    try {
      p11.C_Login(sessions[0], pkcs11js.CKU_USER, o.pin);
    } catch (e) {
      if (!String(e.message).includes('CKR_USER_ALREADY_LOGGED_IN')) throw e;
    }
    p11.C_FindObjectsInit(sessions[0], [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_ID, value: Buffer.from(key.id) },
    ]);
    const [handle] = p11.C_FindObjects(sessions[0], 1);
    p11.C_FindObjectsFinal(sessions[0]);
    const mech = { mechanism: key.p11.mechanism };
    const input = key.p11.prehash ? crypto.createHash(key.p11.prehash).update(message).digest() : message;
    if (o.kind === 'p11js-sync') {
      const out = Buffer.alloc(1024);
      return measureSync(() => {
        p11.C_SignInit(sessions[0], mech, handle);
        p11.C_Sign(sessions[0], input, out);
      });
    }
    // One session per loop: pkcs11js leaves that to its user (a shared one fails with OPERATION_ACTIVE).
    return await measureAsync(async (i) => {
      const session = sessions[i];
      p11.C_SignInit(session, mech, handle);
      await p11.C_SignAsync(session, input, Buffer.alloc(1024));
    }, o.conc);
  } finally {
    p11.C_Finalize();
  }
}

async function software() {
  const { privateKey } = crypto.generateKeyPairSync(...key.node);
  if (o.kind === 'node-crypto') {
    const hash = key.node[0] === 'ed25519' ? null : key.nodeHash;
    return measureAsync(
      () =>
        new Promise((resolve, reject) =>
          crypto.sign(hash, message, privateKey, (e, s) => (e ? reject(e) : resolve(s))),
        ),
      o.conc,
    );
  }
  const jose = await import('jose');
  const cryptoKey = await jose.importPKCS8(privateKey.export({ format: 'pem', type: 'pkcs8' }), key.alg);
  let i = 0;
  return measureAsync(
    () =>
      new jose.SignJWT({ sub: 'bench', jti: i++, iat: 1700000000 })
        .setProtectedHeader({ alg: key.alg, kid: 'k' })
        .sign(cryptoKey),
    o.conc,
  );
}

(async () => {
  const rss0 = process.memoryUsage().rss;
  const run =
    o.kind === 'km-jwt'
      ? keyManager
      : o.kind.startsWith('hsm-')
        ? hsmJwks
        : o.kind.startsWith('p11js-')
          ? pkcs11js
          : software;
  const result = await run();
  console.log(
    JSON.stringify({
      ...o,
      pin: undefined,
      secret: undefined,
      ...result,
      rssBeforeMb: rss0 / 2 ** 20,
      rssAfterMb: process.memoryUsage().rss / 2 ** 20,
    }),
  );
})().catch((e) => {
  console.error(`measure ${o.kind} ${o.key}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  process.exit(1);
});
