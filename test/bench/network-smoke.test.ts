// The network HSM simulator (test/netsim, built by npm run build:test-tools) in front of SoftHSM2,
// seen through the package's Pkcs11Module/Token API: C_Sign takes at least the latency, the device
// never holds more than its capacity, the session limit is reported and enforced; and
// bench/network.js --quick produces every measurement. Only lower bounds of time are asserted
// (they follow from the simulator's sleeps); no throughput figure is.
// The simulator reads its settings from the real process environment at C_Initialize, which a test
// cannot change (jest hands tests a copy of process.env): each check runs in a child process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';
import { softHsm, USER_PIN } from '../helpers/softhsm';

const root = path.join(__dirname, '..', '..');
const NETSIM = path.join(root, 'build', 'netsim', 'libnetsim_pkcs11.so');
const LABEL = 'netsim';

/** Runs `body` (the text of an async function of (lib, mod, token, arg)) in a child with the simulator set by `env`; returns what it returns. */
// biome-ignore lint/suspicious/noExplicitAny: the child's JSON answer; each test reads the fields its body returns.
function inChild(env: Record<string, string>, body: string, arg: unknown = null): any {
  const script = `
    const lib = require(${JSON.stringify(path.join(root, 'dist', 'lib'))});
    const [module, label, pin, arg] = process.argv.slice(1);
    (async () => {
      const mod = await lib.Pkcs11Module.load(module);
      try {
        const out = await (${body})(lib, mod, { label, pin }, JSON.parse(arg));
        process.stdout.write(JSON.stringify(out));
      } finally {
        await mod.close();
      }
    })().catch((e) => { console.error(e.code ?? '', e.message); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script, NETSIM, LABEL, USER_PIN, JSON.stringify(arg)], {
    env: { ...process.env, NETSIM_REAL_MODULE: '/usr/lib/softhsm/libsofthsm2.so', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  return JSON.parse(r.stdout);
}

let dir: string;
beforeAll(() => {
  if (!fs.existsSync(NETSIM)) throw new Error(`${NETSIM} is missing: run npm run build:test-tools (npm test does)`);
  softHsm().initToken(LABEL);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-netsim-'));
  // The key, made through the simulator (no latency on key generation by default).
  inChild(
    {},
    `async (lib, mod, t) => {
    const token = await mod.openToken({ tokenLabel: t.label }, { pin: t.pin });
    await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'netsim', id: Buffer.from('netsim') });
    return true;
  }`,
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('latency 20 ms, capacity 4: one signature takes the latency, 8 at once take two rounds, never more than 4 at the device', () => {
  const latencyMs = 20;
  const stats = path.join(dir, 'stats.jsonl');
  // Eight engine workers taking one signature each: eight signatures reach the simulator at once.
  const out = inChild(
    { NETSIM_LATENCY_US: String(latencyMs * 1000), NETSIM_CAPACITY: '4', NETSIM_STATS_FILE: stats },
    `async (lib, mod, t) => {
      const token = await mod.openToken({ tokenLabel: t.label }, { pin: t.pin, poolSize: 8, engine: { workers: 8, batchSize: 1 } });
      const [pair] = await token.findKeyPairs({ id: Buffer.from('netsim') });
      const sign = () => token.sign(pair, { type: 'ECDSA', hash: 'SHA-256' }, Buffer.from('network'));
      const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
      await sign(); // warm: handles resolved, engine started
      let t0 = process.hrtime.bigint();
      const one = (await sign()).length;
      const single = ms(t0);
      t0 = process.hrtime.bigint();
      const eight = await Promise.all(Array.from({ length: 8 }, sign));
      return { one, single, eight: ms(t0), lengths: eight.map((s) => s.length) };
    }`,
  );
  expect(out.one).toBe(64);
  expect(out.lengths).toEqual(Array(8).fill(64));
  // clock_nanosleep never wakes early; the margin covers the two clocks' rounding only.
  expect(out.single).toBeGreaterThanOrEqual(latencyMs - 0.5);
  expect(out.eight).toBeGreaterThanOrEqual(2 * latencyMs - 0.5);
  const device = JSON.parse(fs.readFileSync(stats, 'utf8').trim().split('\n').pop()!);
  expect(device).toMatchObject({ signatures: 10, capacity: 4, latencyUs: latencyMs * 1000 });
  expect(device.peakInFlight).toBeLessThanOrEqual(4);
  // Eight callers, four slots: some waited (eight workers would need to start 20 ms apart not to).
  expect(device.waited).toBeGreaterThan(0);
  console.log(
    `netsim 20 ms / 4: one signature ${out.single.toFixed(1)} ms, eight at once ${out.eight.toFixed(1)} ms, device ${JSON.stringify(device)}`,
  );
});

test('NETSIM_MAX_SESSIONS=3: reported by C_GetTokenInfo, a fourth session refused with CKR_SESSION_COUNT, freed on close', () => {
  const out = inChild(
    { NETSIM_MAX_SESSIONS: '3', NETSIM_LATENCY_US: '0' },
    `async (lib, mod, t) => {
      const info = (await mod.slots()).find((s) => s.token && s.token.label === t.label).token;
      const tokens = [];
      let refused;
      // Each Token holds at least its anchor session: at most three open.
      for (let i = 0; i < 6 && !refused; i++) {
        try {
          tokens.push(await mod.openToken({ tokenLabel: t.label }, { pin: t.pin, engine: false, poolSize: 1 }));
        } catch (e) {
          refused = e.ckr;
        }
      }
      const opened = tokens.length;
      for (const token of tokens) await token.close();
      const again = await mod.openToken({ tokenLabel: t.label }, { pin: t.pin, engine: false, poolSize: 1 });
      const [pair] = await again.findKeyPairs({ id: Buffer.from('netsim') });
      const signed = (await again.sign(pair, { type: 'ECDSA', hash: 'SHA-256' }, Buffer.from('x'))).length;
      return { max: info.maxSessionCount, maxRw: info.maxRwSessionCount, opened, refused, signed };
    }`,
  );
  expect(out).toMatchObject({ max: 3, maxRw: 3, refused: 'CKR_SESSION_COUNT', signed: 64 });
  expect(out.opened).toBeGreaterThanOrEqual(1);
  expect(out.opened).toBeLessThanOrEqual(3);
});

test('bench/network.js --quick measures every implementation behind the simulator and writes the report', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-network-smoke-'));
  try {
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'bench', 'network.js'), '--quick', '--profiles', '2/4', '--out', out],
      {
        env: process.env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toContain('| 2 ms / 4 |');
    const files = fs.readdirSync(out);
    expect(files.filter((f) => f.endsWith('.md'))).toHaveLength(1);
    const json = JSON.parse(fs.readFileSync(path.join(out, files.find((f) => f.endsWith('.json'))!), 'utf8'));
    const kinds = new Set(
      json.results.filter((x: { rate?: number }) => (x.rate ?? 0) > 0).map((x: { kind: string }) => x.kind),
    );
    expect([...kinds].sort()).toEqual(['hsm-sign', 'km-jwt', 'p11js-promise', 'raw']);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
