'use strict';
// Turns the measurements of bench/run.js into Markdown: medians, ratios, and the targets of the
// throughput issue, each met or not with its measured ratio. And keeps any bench's report (run.js,
// network.js, readiness.js): `keep()` below, for their `--out`.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');

const LABEL = {
  raw: 'raw C: C_SignInit+C_Sign loop, 1 session/thread',
  'hsm-sign': 'hsm-jwks token.sign (signing engine)',
  'hsm-sign-sync': 'hsm-jwks token.signSync (JS thread)',
  'hsm-sign-nodeepbind': "hsm-jwks token.sign, module loaded without RTLD_DEEPBIND (Node's OpenSSL)",
  'km-jwt': "hsm-jwks km.signJwt(set, claims): key manager, the service's path",
  'hsm-jwt': 'hsm-jwks signJwt over a held Signer (header, claims, base64url, sign)',
  'p11js-sync': 'pkcs11js sync C_SignInit+C_Sign',
  'p11js-promise': 'pkcs11js C_SignInit + C_SignAsync (promise)',
  'node-crypto': 'node:crypto sign, software key (context)',
  jose: 'jose SignJWT, software key (context)',
};

/** Row order in a key's table: the raw loop, then the service's path next to it, then the rest. */
const ORDER = [
  'raw',
  'km-jwt',
  'hsm-jwt',
  'hsm-sign',
  'hsm-sign-sync',
  'hsm-sign-nodeepbind',
  'p11js-promise',
  'p11js-sync',
  'node-crypto',
  'jose',
];
const rank = (kind) => (ORDER.includes(kind) ? ORDER.indexOf(kind) : ORDER.length);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) =>
  n === undefined || n === null || Number.isNaN(n)
    ? '–'
    : n >= 10000
      ? `${(n / 1000).toFixed(1)}k`
      : `${Math.round(n)}`;
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '–');

/** Median figures per configuration. */
function summarize(results) {
  const groups = new Map();
  for (const r of results) {
    if (r.skipped) continue;
    const id = `${r.key}|${r.kind}|${r.kind === 'raw' ? `${r.threads}T` : `c${r.conc}`}`;
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push(r);
  }
  const out = new Map();
  for (const [id, rs] of groups) {
    const rates = rs.map((r) => r.rate);
    out.set(id, {
      rate: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      el:
        rs[0].elDelayP99Ms === undefined || rs[0].elDelayP99Ms === null ? null : median(rs.map((r) => r.elDelayP99Ms)),
      cpu: rs[0].cpuCores === undefined ? null : median(rs.map((r) => r.cpuCores)),
      rss: rs[0].rssAfterMb === undefined ? null : median(rs.map((r) => r.rssAfterMb)),
    });
  }
  return out;
}

function table(results, o, machine, soak) {
  const m = summarize(results);
  const get = (key, kind, par) => m.get(`${key}|${kind}|${par}`);
  const lines = [];
  lines.push(
    `Machine: ${machine.cpus} × ${machine.model}, ${machine.memoryGb} GiB, Node ${machine.node}; module ${machine.module}.`,
  );
  lines.push(
    `${o.reps} repetitions × ${o.seconds} s windows (warm-up ${o.warmup} s), configurations shuffled in each repetition, one process per measurement; medians, [min–max].`,
  );
  lines.push(
    'Ratio to raw C: concurrency 1 against 1 thread, higher against 2 threads. Ratio to pkcs11js: against its promise API at the same concurrency.',
  );
  lines.push('');
  for (const key of o.keys) {
    lines.push(
      `### ${key}`,
      '',
      '| implementation | conc | ops/s (median) | [min–max] | × raw C | × pkcs11js | event-loop p99 ms | CPU cores | RSS MB |',
      '|---|---:|---:|---|---:|---:|---:|---:|---:|',
    );
    const raw1 = get(key, 'raw', '1T')?.rate;
    const raw2 = get(key, 'raw', '2T')?.rate;
    const rows = [...m.entries()]
      .filter(([id]) => id.startsWith(`${key}|`))
      .sort(([a], [b]) => rank(a.split('|')[1]) - rank(b.split('|')[1]) || a.localeCompare(b, 'en', { numeric: true }));
    for (const [id, v] of rows) {
      const [, kind, par] = id.split('|');
      const conc = par.startsWith('c') ? Number(par.slice(1)) : Number(par.slice(0, -1));
      const vsRaw = kind === 'raw' ? '' : ratio(v.rate, conc === 1 ? raw1 : raw2);
      const p11 =
        (kind.startsWith('hsm-') || kind === 'km-jwt') && kind !== 'hsm-sign-sync' && kind !== 'hsm-sign-nodeepbind'
          ? get(key, 'p11js-promise', par)?.rate
          : kind === 'hsm-sign-sync'
            ? get(key, 'p11js-sync', 'c1')?.rate
            : undefined;
      lines.push(
        `| ${LABEL[kind]} | ${par} | ${fmt(v.rate)} | ${fmt(v.min)}–${fmt(v.max)} | ${vsRaw} | ${p11 ? ratio(v.rate, p11) : ''} | ${v.el === null ? '' : v.el.toFixed(1)} | ${v.cpu === null ? '' : v.cpu.toFixed(2)} | ${v.rss === null ? '' : Math.round(v.rss)} |`,
      );
    }
    lines.push('');
  }
  lines.push(...targets(get, soak), '');
  const skipped = results.filter((r) => r.skipped);
  if (skipped.length)
    lines.push(`Skipped: ${[...new Set(skipped.map((r) => `${r.kind} ${r.key}: ${r.skipped}`))].join('; ')}`, '');
  return `${lines.join('\n')}\n`;
}

/** The issue's targets, from the medians. */
function targets(get, soak) {
  const best = (key, kind, pars) => Math.max(...pars.map((p) => get(key, kind, p)?.rate ?? 0));
  const raw2 = (key) => get(key, 'raw', '2T')?.rate;
  const rows = [];
  const add = (what, value, goal, met) =>
    rows.push(`| ${what} | ${value} | ${goal} | ${value === '–' ? 'not measured' : met ? 'met' : 'not met'} |`);
  const r = (a, b) => (a && b ? a / b : undefined);
  const show = (x) => (x === undefined ? '–' : x.toFixed(2));
  const p256 = r(best('p-256', 'hsm-sign', ['c16', 'c64']), raw2('p-256'));
  add('`sign` P-256, c ≥ 16, × raw C 2T', show(p256), '≥ 0.95', p256 >= 0.95);
  const nodeep = r(get('p-256', 'hsm-sign-nodeepbind', 'c64')?.rate, raw2('p-256'));
  if (nodeep !== undefined) {
    rows.push(
      `| (the same, module loaded with deepBind: false, c64: Node's OpenSSL, not the raw loop's) | ${show(nodeep)} | | for information |`,
    );
  }
  // The service's path (km-jwt) when measured; --quick measures only signJwt over a held Signer.
  const kmJwt = get('p-256', 'km-jwt', 'c64')?.rate;
  const jwt = r(kmJwt ?? get('p-256', 'hsm-jwt', 'c64')?.rate, raw2('p-256'));
  add(`\`${kmJwt ? 'km.signJwt' : 'signJwt (held Signer)'}\` ES256, c64, × raw C 2T`, show(jwt), '≥ 0.90', jwt >= 0.9);
  const vsP11 = Math.min(
    ...['c16', 'c64'].map(
      (p) => r(get('p-256', 'hsm-sign', p)?.rate, get('p-256', 'p11js-promise', p)?.rate) ?? Infinity,
    ),
  );
  add(
    '`sign` P-256 × pkcs11js promise, c16 and c64 (the lower)',
    Number.isFinite(vsP11) ? vsP11.toFixed(2) : '–',
    '≥ 1.4',
    vsP11 >= 1.4,
  );
  const p521 = r(best('p-521', 'hsm-sign', ['c16', 'c64']), raw2('p-521'));
  add('`sign` P-521, c ≥ 16, × raw C 2T', show(p521), '≥ 0.95', p521 >= 0.95);
  for (const key of ['rsa-2048', 'rsa-4096', 'ed25519']) {
    const x = r(best(key, 'hsm-sign', ['c16', 'c64']), raw2(key));
    add(`\`sign\` ${key}, c ≥ 16, × raw C 2T`, show(x), '≥ 0.97', x >= 0.97);
  }
  const lone = r(
    Math.max(get('p-256', 'hsm-sign', 'c1')?.rate ?? 0, get('p-256', 'hsm-sign-sync', 'c1')?.rate ?? 0),
    get('p-256', 'raw', '1T')?.rate,
  );
  add(
    'one caller awaiting each signature, P-256 (best of sign c1 and signSync) × raw C 1T',
    show(lone),
    '≥ 0.80',
    lone >= 0.8,
  );
  const el = get('p-256', 'hsm-sign', 'c64')?.el;
  add(
    'event-loop delay p99 while signing P-256 at c64 (ms)',
    el === undefined || el === null ? '–' : el.toFixed(1),
    '≤ 10',
    el <= 10,
  );
  const growth = soak && !soak.skipped ? soak.rssAfterMb - soak.rssBeforeMb : undefined;
  add(
    `RSS growth over ${soak?.signatures ?? '1,000,000'} signatures after warm-up (MB)`,
    growth === undefined ? '–' : growth.toFixed(1),
    '≤ 20',
    growth <= 20,
  );
  return ['### Targets', '', '| measure | measured | target | |', '|---|---:|---:|---|', ...rows];
}

/** The machine in one line: cores, CPU model, Node version. */
function machineLine() {
  const cpus = os.cpus();
  return `${cpus.length} cores, ${cpus[0]?.model?.trim() ?? 'unknown CPU'}, Node ${process.version}`;
}

/** How this process was started, as a command to run again from the same directory. */
function commandLine(argv = process.argv) {
  const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  const script = path.relative(process.cwd(), argv[1] ?? '') || argv[1];
  return ['node', script, ...argv.slice(2)].map(quote).join(' ');
}

/**
 * Where `--out` sends a report. A value ending in `.md` is a page (docs/benchmarks/softhsm.md, say):
 * the Markdown goes there under a header, the raw figures to bench/results/. Any other value is a
 * directory that gets both, named <name>-<time>.{md,json} (bench/results/ by default).
 */
function outTarget(value, results = path.join(root, 'bench', 'results')) {
  if (value === undefined) return { dir: results };
  const resolved = path.resolve(value);
  return resolved.endsWith('.md') ? { dir: results, file: resolved } : { dir: resolved };
}

/** The header of a kept page: what it measures, the command that wrote it, when, and on what. */
function header(title, { argv = process.argv, date = new Date(), machine = machineLine(), withMachine = true } = {}) {
  return [
    `# ${title}`,
    '',
    `Written by \`${commandLine(argv)}\` on ${date.toISOString()}; run it again to regenerate this page (do not edit it by hand).`,
    '',
    ...(withMachine ? [`Machine: ${machine}.`, ''] : []),
    '',
  ].join('\n');
}

/**
 * Keeps a bench's report: `out` is the `--out` value (undefined: bench/results/, or `results`).
 * Returns the paths written. With a page as `out`, the page gets `header(title)` then the Markdown.
 */
function keep({ out, name, title, markdown, json, argv = process.argv, date = new Date(), results }) {
  const target = outTarget(out, results);
  const stamp = date.toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(target.dir, { recursive: true });
  const jsonPath = path.join(target.dir, `${name}-${stamp}.json`);
  fs.writeFileSync(jsonPath, JSON.stringify(json, null, 2));
  const mdPath = target.file ?? path.join(target.dir, `${name}-${stamp}.md`);
  fs.mkdirSync(path.dirname(mdPath), { recursive: true });
  // A report that names its machine itself (run.js, network.js) does not get a second line for it.
  const withMachine = !/^Machine: /m.test(markdown);
  fs.writeFileSync(mdPath, target.file ? header(title, { argv, date, withMachine }) + markdown : markdown);
  return { markdown: mdPath, json: jsonPath };
}

module.exports = { table, summarize, keep, header, outTarget, commandLine, machineLine };
