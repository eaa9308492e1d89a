#!/usr/bin/env node
'use strict';
// The benchmark: hsm-jwks against the module's own limit (a raw C loop built from
// bench/native), pkcs11js, node:crypto and jose, in one interleaved run with warm-up, several
// repetitions and medians. Progress on stderr; a Markdown table on stdout and, with the raw
// figures, in bench/results/ (or --out DIR); `--out FILE.md` keeps the report as a page with the
// command line, date and machine in its header (docs/benchmarks/softhsm.md; bench/report.js keep()).
//   node bench/run.js [--seconds 1] [--reps 3] [--keys p-256,p-521,rsa-2048,rsa-4096,ed25519]
//                     [--quick] [--soak N] [--out DIR|FILE.md] [--network [--profiles 0.5/16,2/32,20/128]]
// The module comes from HSM_LIBRARY / HSM_TOKEN_LABEL / HSM_PIN; without them a SoftHSM2 token is
// made in a temporary directory. --network then runs bench/network.js (SoftHSM2 behind the network
// HSM simulator, per device profile), which writes its own report.
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');

const { buildRawSign, makeSoftHsmToken, shuffle } = require('./common');
const { KEYS } = require('./keys');
const { keep, outTarget, table } = require('./report');

const root = path.join(__dirname, '..');
const say = (m) => process.stderr.write(`${m}\n`);

function options() {
  const a = process.argv.slice(2);
  const get = (name, fallback) => (a.includes(name) ? a[a.indexOf(name) + 1] : fallback);
  const quick = a.includes('--quick');
  return {
    quick,
    seconds: Number(get('--seconds', quick ? '0.15' : '1')),
    warmup: quick ? 0.05 : 0.25,
    reps: Number(get('--reps', quick ? '1' : '3')),
    keys: get('--keys', quick ? 'p-256' : Object.keys(KEYS).join(',')).split(','),
    soak: Number(get('--soak', '0')),
    out: get('--out', undefined),
  };
}

/** The module to measure: the configured one, or a fresh SoftHSM2 token. */
function target() {
  const { HSM_LIBRARY, HSM_TOKEN_LABEL, HSM_PIN } = process.env;
  if (HSM_LIBRARY && HSM_TOKEN_LABEL && HSM_PIN)
    return { module: HSM_LIBRARY, label: HSM_TOKEN_LABEL, pin: HSM_PIN, env: process.env };
  const { module, label, pin, env, dir } = makeSoftHsmToken({ label: 'bench' });
  say(`[bench] made a SoftHSM2 token "bench" in ${dir}`);
  return { module, label, pin, env, dir };
}

/** Generates the benchmark keys that are missing (ids bench-<type>). */
function ensureKeys(t, keys) {
  const script = `
    const { Pkcs11Module } = require(${JSON.stringify(path.join(root, 'dist', 'lib'))});
    const KEYS = require(${JSON.stringify(path.join(__dirname, 'keys'))}).KEYS;
    (async () => {
      const mod = await Pkcs11Module.load(process.argv[1]);
      const token = await mod.openToken({ tokenLabel: process.argv[2] }, { pin: process.argv[3] });
      for (const k of process.argv.slice(4)) {
        if ((await token.findKeyPairs({ id: Buffer.from(KEYS[k].id) })).length) continue;
        process.stderr.write('[bench] generating ' + k + ' on the token\\n');
        await token.generateKeyPair(KEYS[k].spec, { label: 'hsm-jwks-bench', id: Buffer.from(KEYS[k].id) });
      }
      await mod.close();
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  execFileSync(process.execPath, ['-e', script, t.module, t.label, t.pin, ...keys], {
    env: t.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Builds the raw C baseline; undefined (with the reason said) when it cannot be built. */
function rawSign() {
  const raw = buildRawSign(say);
  if (!raw) say('[bench] without the raw C baseline its columns stay empty');
  return raw;
}

/** A key manager makes this key type for its alg (RS256 makes RSA-4096: no km-jwt row for rsa-2048). */
function generatesThisKey(key) {
  const { ALGORITHMS } = require(path.join(root, 'dist', 'lib'));
  return util.isDeepStrictEqual(ALGORITHMS[KEYS[key].alg]?.generate, KEYS[key].spec);
}

function configs(o) {
  const conc = o.quick ? [4] : [1, 4, 16, 64];
  const list = [];
  for (const key of o.keys) {
    list.push({ kind: 'raw', key, threads: 1 }, { kind: 'raw', key, threads: 2 });
    for (const c of conc) list.push({ kind: 'hsm-sign', key, conc: c }, { kind: 'p11js-promise', key, conc: c });
    list.push({ kind: 'hsm-sign-sync', key, conc: 1 }, { kind: 'p11js-sync', key, conc: 1 });
    if (!o.quick) list.push({ kind: 'hsm-sign-nodeepbind', key, conc: 64 });
    // The service's path (a key manager's signJwt) and, for comparison, signJwt over a held Signer.
    // --quick keeps its former set of kinds (test/bench/bench-smoke.test.ts lists them).
    for (const c of o.quick ? [4] : [1, 64]) list.push({ kind: 'hsm-jwt', key, conc: c });
    if (!o.quick && generatesThisKey(key)) for (const c of [1, 64]) list.push({ kind: 'km-jwt', key, conc: c });
    list.push({ kind: 'node-crypto', key, conc: 4 }, { kind: 'jose', key, conc: 4 });
  }
  return list;
}

function measure(c, o, t, raw) {
  if (c.kind === 'raw') {
    if (!raw) return { skipped: 'no raw C baseline' };
    const k = KEYS[c.key];
    const r = spawnSync(
      raw,
      [
        t.module,
        t.label,
        t.pin,
        Buffer.from(k.id).toString('hex'),
        k.raw[0],
        String(k.raw[1]),
        String(c.threads),
        String(o.seconds),
      ],
      { env: t.env, encoding: 'utf8' },
    );
    if (r.status !== 0) return { skipped: `raw_sign failed: ${r.stderr.trim()}` };
    return JSON.parse(r.stdout);
  }
  const args = {
    ...c,
    seconds: o.seconds,
    warmup: o.warmup,
    module: t.module,
    label: t.label,
    pin: t.pin,
    dsn: t.dsn,
    secret: t.secret,
    set: `bench-${c.key}`,
  };
  const r = spawnSync(process.execPath, [path.join(__dirname, 'measure.js'), JSON.stringify(args)], {
    env: t.env,
    encoding: 'utf8',
  });
  if (r.status !== 0) return { skipped: r.stderr.trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** RSS growth over `n` signatures after a warm-up of n/10, with the engine at concurrency 64. */
function soak(n, t) {
  const script = `
    const { Pkcs11Module } = require(${JSON.stringify(path.join(root, 'dist', 'lib'))});
    (async () => {
      const mod = await Pkcs11Module.load(process.argv[1]);
      const token = await mod.openToken({ tokenLabel: process.argv[2] }, { pin: process.argv[3] });
      const [pair] = await token.findKeyPairs({ id: Buffer.from('bench-p-256') });
      const msg = Buffer.alloc(256, 0x5a);
      const run = async (total) => { let left = total; await Promise.all(Array.from({ length: 64 }, async () => { while (left-- > 0) await token.sign(pair, { type: 'ECDSA', hash: 'SHA-256' }, msg); })); };
      await run(Math.round(${n} / 10)); global.gc && global.gc();
      const before = process.memoryUsage().rss; const t0 = Date.now();
      await run(${n}); global.gc && global.gc();
      console.log(JSON.stringify({ signatures: ${n}, rssBeforeMb: before / 2 ** 20, rssAfterMb: process.memoryUsage().rss / 2 ** 20, seconds: (Date.now() - t0) / 1000 }));
      await mod.close();
    })();`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script, t.module, t.label, t.pin], {
    env: t.env,
    encoding: 'utf8',
  });
  return r.status === 0 ? JSON.parse(r.stdout.trim()) : { skipped: r.stderr.trim() };
}

function main() {
  const o = options();
  for (const k of o.keys) if (!KEYS[k]) throw new Error(`unknown key ${k}; known: ${Object.keys(KEYS).join(', ')}`);
  if (!fs.existsSync(path.join(root, 'dist', 'lib', 'index.js')))
    throw new Error('dist/ is missing: run npm run build first');
  const t = target();
  ensureKeys(t, [...new Set([...o.keys, ...(o.soak ? ['p-256'] : [])])]);
  const raw = rawSign();
  // The key manager's store (km-jwt): SQLite in a directory of this run; its key sets live on the token.
  t.storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-bench-store-'));
  t.dsn = `sqlite://${path.join(t.storeDir, 'keys.sqlite')}`;
  t.secret = crypto.randomBytes(24).toString('base64url');
  const list = configs(o);
  const results = [];
  const started = Date.now();
  for (let rep = 1; rep <= o.reps; rep++) {
    const order = shuffle(list);
    order.forEach((c, i) => {
      process.stderr.write(
        `\r[bench] repetition ${rep}/${o.reps}: ${i + 1}/${order.length} ${c.kind} ${c.key} ${c.conc ? `c${c.conc}` : `${c.threads}T`}          `,
      );
      results.push({ rep, ...c, ...measure(c, o, t, raw) });
    });
  }
  process.stderr.write(`\n[bench] ${results.length} measurements in ${Math.round((Date.now() - started) / 1000)} s\n`);
  const soaked = o.soak ? soak(o.soak, t) : undefined;
  if (t.dir) fs.rmSync(t.dir, { recursive: true, force: true });
  fs.rmSync(t.storeDir, { recursive: true, force: true });
  const machine = {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    module: t.module,
  };
  const markdown = table(results, o, machine, soaked);
  const written = keep({
    out: o.out,
    name: 'bench',
    title: `Signing benchmark: ${t.dir ? 'SoftHSM2' : t.module}`,
    markdown,
    json: { options: o, machine, results, soak: soaked },
  });
  process.stdout.write(markdown);
  say(`[bench] wrote ${written.markdown} and ${written.json}`);
  if (process.argv.includes('--network')) {
    // A page given to --out is this report's; the network bench then keeps its own in bench/results/.
    const argv = process.argv.slice(2);
    const at = argv.indexOf('--out');
    if (at >= 0 && outTarget(argv[at + 1]).file) argv.splice(at, 2);
    require('./network').main(argv);
  }
}

try {
  main();
} catch (e) {
  say(`bench: ${e.message}`);
  process.exit(1);
}
