#!/usr/bin/env node
'use strict';
// The network HSM benchmark: SoftHSM2 behind the network HSM simulator (test/netsim), one device
// profile (latency / capacity) at a time, ES256 (P-256). Per profile:
//   device limit  the raw C loop (bench/native/raw_sign) with `capacity` threads
//   hsm-jwks      km.signJwt(set, claims) on a key manager with default settings (the service's
//                 path, measure.js kind km-jwt) at 2× and 4× capacity, and token.sign (defaults)
//                 at the same concurrencies
//   pkcs11js      C_SignInit + C_SignAsync (its default promise API) at 2× capacity
// Warm-up, --reps repetitions in a new shuffled order each, one process per measurement, medians.
// Progress on stderr; the Markdown table on stdout and, with the raw figures, in bench/results/
// (or --out DIR); `--out FILE.md` keeps it as a page with the command line, date and machine in its
// header (docs/benchmarks/network.md; bench/report.js keep()).
//   node bench/network.js [--profiles 0.5/16,2/32,20/128] [--seconds 1] [--warmup 0.5] [--reps 3]
//                         [--call-latency-us 0] [--quick] [--out DIR|FILE.md]
// A profile is <latency ms>/<capacity>. The token is always a fresh SoftHSM2 one.
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { buildNetsim, buildRawSign, makeSoftHsmToken, shuffle } = require('./common');
const { KEYS } = require('./keys');
const { keep } = require('./report');

const root = path.join(__dirname, '..');
const say = (m) => process.stderr.write(`${m}\n`);
const KEY = 'p-256';
const SET = 'bench-network';

function options(argv) {
  const get = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const quick = argv.includes('--quick');
  const profiles = get('--profiles', quick ? '2/8' : '0.5/16,2/32,20/128')
    .split(',')
    .map((p) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+)\s*$/.exec(p);
      if (!m || !(Number(m[1]) > 0) || !(Number(m[2]) >= 1))
        throw new Error(`--profiles: "${p}" is not <latency ms>/<capacity>, e.g. 2/32`);
      return { name: `${m[1]}/${m[2]}`, latencyUs: Math.round(Number(m[1]) * 1000), capacity: Number(m[2]) };
    });
  return {
    quick,
    profiles,
    seconds: Number(get('--seconds', quick ? '0.3' : '1')),
    warmup: Number(get('--warmup', quick ? '0.1' : '0.5')),
    reps: Number(get('--reps', quick ? '1' : '3')),
    callLatencyUs: Number(get('--call-latency-us', '0')),
    out: get('--out', undefined),
  };
}

/** The measurements of one profile. */
function configs(o) {
  const list = [];
  for (const p of o.profiles) {
    const c = p.capacity;
    list.push({ profile: p.name, kind: 'raw', threads: c });
    for (const conc of [2 * c, 4 * c])
      list.push({ profile: p.name, kind: 'km-jwt', conc }, { profile: p.name, kind: 'hsm-sign', conc });
    list.push({ profile: p.name, kind: 'p11js-promise', conc: 2 * c });
  }
  return list;
}

/** The P-256 key of the raw loop and pkcs11js, and the key manager's ES256 set, made on the real module. */
function setup(t) {
  const script = `
    const lib = require(${JSON.stringify(path.join(root, 'dist', 'lib'))});
    const key = require(${JSON.stringify(path.join(__dirname, 'keys'))}).KEYS[${JSON.stringify(KEY)}];
    const [module, label, pin, dsn, secret, set] = process.argv.slice(1);
    (async () => {
      const mod = await lib.Pkcs11Module.load(module);
      const token = await mod.openToken({ tokenLabel: label }, { pin });
      await token.generateKeyPair(key.spec, { label: 'hsm-jwks-bench', id: Buffer.from(key.id) });
      await mod.close();
      const env = { HSM_ENABLED: 'true', HSM_LIBRARY: module, HSM_TOKEN_LABEL: label, HSM_PIN: pin, DSN: dsn, SECRETS_SYSTEM: secret, LOG_LEVEL: 'error' };
      const km = await lib.createKeyManager(lib.loadConfig(env));
      await km.generateAndPersistKeySet(set, undefined, key.alg, 'sig');
      await km.close();
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  execFileSync(process.execPath, ['-e', script, t.module, t.label, t.pin, t.dsn, t.secret, SET], {
    env: t.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** One measurement in a process of its own, the simulator set to the profile; with the device's counters. */
function measure(c, o, t) {
  const p = o.profiles.find((x) => x.name === c.profile);
  const stats = path.join(t.dir, `netsim-${process.pid}-${Date.now()}.jsonl`);
  const env = {
    ...t.env,
    NETSIM_REAL_MODULE: t.module,
    NETSIM_LATENCY_US: String(p.latencyUs),
    NETSIM_CAPACITY: String(p.capacity),
    NETSIM_CALL_LATENCY_US: String(o.callLatencyUs),
    NETSIM_STATS_FILE: stats,
  };
  let r;
  if (c.kind === 'raw') {
    if (!t.raw) return { skipped: 'no raw C baseline' };
    const k = KEYS[KEY];
    r = spawnSync(
      t.raw,
      [
        t.netsim,
        t.label,
        t.pin,
        Buffer.from(k.id).toString('hex'),
        k.raw[0],
        String(k.raw[1]),
        String(c.threads),
        String(o.seconds),
      ],
      { env, encoding: 'utf8' },
    );
  } else {
    const args = {
      kind: c.kind,
      key: KEY,
      conc: c.conc,
      seconds: o.seconds,
      warmup: o.warmup,
      module: t.netsim,
      label: t.label,
      pin: t.pin,
      dsn: t.dsn,
      secret: t.secret,
      set: SET,
    };
    r = spawnSync(process.execPath, [path.join(__dirname, 'measure.js'), JSON.stringify(args)], {
      env,
      encoding: 'utf8',
    });
  }
  let device;
  try {
    device = JSON.parse(fs.readFileSync(stats, 'utf8').trim().split('\n').pop());
  } catch {
    device = undefined; // no C_Finalize (the process failed)
  }
  fs.rmSync(stats, { force: true });
  if (r.status !== 0) return { skipped: (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  return {
    rate: out.rate,
    elDelayP99Ms: out.elDelayP99Ms,
    cpuCores: out.cpuCores,
    rssAfterMb: out.rssAfterMb,
    peakInFlight: device?.peakInFlight,
    waited: device?.waited,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? undefined
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) =>
  n === undefined || n === null || Number.isNaN(n)
    ? '–'
    : n >= 10000
      ? `${(n / 1000).toFixed(1)}k`
      : `${Math.round(n)}`;
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '–');
const id = (c) => `${c.profile}|${c.kind}|${c.kind === 'raw' ? `${c.threads}T` : `c${c.conc}`}`;

/** Medians (and ranges) per configuration. */
function summarize(results) {
  const groups = new Map();
  for (const r of results) {
    if (r.skipped) continue;
    if (!groups.has(id(r))) groups.set(id(r), []);
    groups.get(id(r)).push(r);
  }
  const out = new Map();
  for (const [k, rs] of groups) {
    const of = (f) => median(rs.map(f).filter((x) => typeof x === 'number'));
    const rates = rs.map((r) => r.rate);
    out.set(k, {
      rate: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      peak: of((r) => r.peakInFlight),
      el: of((r) => r.elDelayP99Ms),
      cpu: of((r) => r.cpuCores),
      rss: of((r) => r.rssAfterMb),
    });
  }
  return out;
}

const LABEL = {
  raw: 'raw C loop (device limit)',
  'km-jwt': 'hsm-jwks km.signJwt, defaults',
  'hsm-sign': 'hsm-jwks token.sign, defaults',
  'p11js-promise': 'pkcs11js C_SignInit + C_SignAsync',
};

function table(results, o, machine) {
  const m = summarize(results);
  const lines = [];
  lines.push(
    `Machine: ${machine.cpus} × ${machine.model}, ${machine.memoryGb} GiB, Node ${machine.node}; SoftHSM2 behind the network HSM simulator (test/netsim), ES256 (P-256).`,
  );
  lines.push(
    `${o.reps} repetitions × ${o.seconds} s windows (warm-up ${o.warmup} s), configurations of every profile shuffled in each repetition, one process per measurement; medians. ` +
      `Profile = C_Sign latency (ms) / device capacity (signatures at once); other device calls ${o.callLatencyUs} µs. hsm-jwks with default settings (createKeyManager from loadConfig: HSM_POOL_SIZE 4, default signing engine); pkcs11js with one session per caller and the default libuv pool (UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset: 4'}).`,
  );
  lines.push('');
  lines.push(
    '| profile | capacity ÷ latency | device limit: raw C, capacity threads | hsm-jwks km.signJwt, c = 2×cap | × limit | km.signJwt, c = 4×cap | × limit | token.sign, c = 2×cap | token.sign, c = 4×cap | pkcs11js promise, c = 2×cap | hsm-jwks ÷ pkcs11js (c = 2×cap) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const p of o.profiles) {
    const c = p.capacity;
    const get = (kind, par) => m.get(`${p.name}|${kind}|${par}`)?.rate;
    const limit = get('raw', `${c}T`);
    const jwt2 = get('km-jwt', `c${2 * c}`);
    const jwt4 = get('km-jwt', `c${4 * c}`);
    const p11 = get('p11js-promise', `c${2 * c}`);
    const theory = (c * 1e6) / p.latencyUs;
    lines.push(
      `| ${p.latencyUs / 1000} ms / ${c} | ${fmt(theory)} | ${fmt(limit)} | ${fmt(jwt2)} | ${ratio(jwt2, limit)} | ${fmt(jwt4)} | ${ratio(jwt4, limit)} | ${fmt(get('hsm-sign', `c${2 * c}`))} | ${fmt(get('hsm-sign', `c${4 * c}`))} | ${fmt(p11)} | ${ratio(jwt2, p11)} |`,
    );
  }
  lines.push(
    '',
    'Signatures per second. Details (peak = most signatures the simulated device held at once during the process):',
    '',
  );
  lines.push(
    '| profile | implementation | conc | ops/s (median) | [min–max] | × limit | peak at device | event-loop p99 ms | CPU cores | RSS MB |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---:|',
  );
  for (const p of o.profiles) {
    const limit = m.get(`${p.name}|raw|${p.capacity}T`)?.rate;
    for (const c of configs({ profiles: [p] })) {
      const v = m.get(id(c));
      if (!v) continue;
      const par = c.kind === 'raw' ? `${c.threads}T` : `c${c.conc}`;
      const opt = (x, d) => (x === undefined ? '' : x.toFixed(d));
      lines.push(
        `| ${p.latencyUs / 1000} ms / ${p.capacity} | ${LABEL[c.kind]} | ${par} | ${fmt(v.rate)} | ${fmt(v.min)}–${fmt(v.max)} | ${c.kind === 'raw' ? '' : ratio(v.rate, limit)} | ${opt(v.peak, 0)} | ${opt(v.el, 1)} | ${opt(v.cpu, 2)} | ${opt(v.rss, 0)} |`,
      );
    }
  }
  const skipped = results.filter((r) => r.skipped);
  if (skipped.length)
    lines.push('', `Skipped: ${[...new Set(skipped.map((r) => `${r.profile} ${r.kind}: ${r.skipped}`))].join('; ')}`);
  return `${lines.join('\n')}\n`;
}

function main(argv = process.argv.slice(2)) {
  const o = options(argv);
  if (!fs.existsSync(path.join(root, 'dist', 'lib', 'index.js')))
    throw new Error('dist/ is missing: run npm run build:ts first');
  const netsim = buildNetsim(say);
  if (!netsim || !fs.existsSync(netsim))
    throw new Error('the network HSM simulator is missing: npm run build:test-tools builds it');
  const t = {
    ...makeSoftHsmToken({ prefix: 'hsm-jwks-netbench-', label: 'netbench' }),
    netsim,
    raw: buildRawSign(say),
  };
  t.dsn = `sqlite://${path.join(t.dir, 'keys.sqlite')}`;
  t.secret = crypto.randomBytes(24).toString('base64url');
  try {
    say(`[network] fresh SoftHSM2 token "netbench" in ${t.dir}; profiles ${o.profiles.map((p) => p.name).join(', ')}`);
    setup(t);
    const list = configs(o);
    const results = [];
    const started = Date.now();
    for (let rep = 1; rep <= o.reps; rep++) {
      const order = shuffle(list);
      order.forEach((c, i) => {
        process.stderr.write(
          `\r[network] repetition ${rep}/${o.reps}: ${i + 1}/${order.length} ${c.profile} ${c.kind} ${c.conc ? `c${c.conc}` : `${c.threads}T`}          `,
        );
        results.push({ rep, ...c, ...measure(c, o, t) });
      });
    }
    process.stderr.write(
      `\n[network] ${results.length} measurements in ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    const machine = {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      module: `${netsim} → ${t.module}`,
    };
    const markdown = table(results, o, machine);
    const written = keep({
      out: o.out,
      name: 'network',
      title: 'Network HSMs, simulated: signing against the device limit',
      markdown,
      json: { options: o, machine, results },
      argv: [process.argv[0], path.join(__dirname, 'network.js'), ...argv],
    });
    process.stdout.write(markdown);
    say(`[network] wrote ${written.markdown} and ${written.json}`);
    return { results, markdown };
  } finally {
    fs.rmSync(t.dir, { recursive: true, force: true });
  }
}

module.exports = { main, options, table };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    say(`bench/network: ${e.message}`);
    process.exit(1);
  }
}
