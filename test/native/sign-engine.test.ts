// The signing engine: batching changes nothing a caller can observe. Every result belongs to its
// own request, an error fails only its request, close() refuses what is still queued and leaves
// no thread behind, and a process using the engine exits by itself.
import { constants as C, createHash, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { Pkcs11Module, type KeyPair, type SignMechanism, type Token } from '../../lib';
import { CKF_SESSION, CKM } from '../../lib/pkcs11/constants';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import type { NativeModule, NativeSignEngine } from '../../binding';
import { publicKeyObject } from '../helpers/keys';
import { spawnSync } from '../helpers/recording-child-process';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';
import { handlesOf } from '../helpers/handles';

let mod: Pkcs11Module;
let token: Token;

const threads = () => Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);

function ok(pair: KeyPair, m: SignMechanism, data: Buffer, sig: Buffer): boolean {
  const key = publicKeyObject(pair);
  if (m.type === 'EdDSA') return verify(null, data, key, sig);
  if (m.type === 'ECDSA') return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  return verify('sha256', data, { key, padding: C.RSA_PKCS1_PADDING }, sig);
}

beforeAll(async () => {
  softHsm().initToken('engine');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken(
    { tokenLabel: 'engine' },
    { pin: USER_PIN, poolSize: 2, engine: { workers: 2, batchSize: 16 } },
  );
});

afterAll(async () => {
  await mod?.close();
});

test('20,000 concurrent signs over 3 key types: every result is its own, one failing request fails alone', async () => {
  const keys: Array<[KeyPair, SignMechanism]> = [
    [
      await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'e', id: Buffer.from('p256') }),
      { type: 'ECDSA', hash: 'SHA-256' },
    ],
    [await token.generateKeyPair({ type: 'ed25519' }, { label: 'e', id: Buffer.from('ed') }), { type: 'EdDSA' }],
    [
      await token.generateKeyPair({ type: 'rsa', bits: 2048 }, { label: 'e', id: Buffer.from('rsa') }),
      { type: 'RSA-PKCS1', hash: 'SHA-256' },
    ],
  ];
  // A KeyPair object whose key is destroyed behind its back: its requests reach the token, which
  // answers CKR_OBJECT_HANDLE_INVALID; the key is looked for again by CKA_ID, and is not there:
  // ERR_KEY_GONE.
  await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'e', id: Buffer.from('doomed') });
  const [doomed] = await token.findKeyPairs({ id: Buffer.from('doomed') });
  const [other] = await token.findKeyPairs({ id: Buffer.from('doomed') });
  await token.destroyKeyPair(other!);

  const requests = Array.from({ length: 20_000 }, (_, i) => {
    const data = Buffer.from(`request-${i}`);
    if (i % 1000 === 999)
      return { i, data, pair: doomed!, m: keys[0]![1], result: token.sign(doomed!, keys[0]![1], data) };
    const [pair, m] = keys[i % 3]!;
    return { i, data, pair, m, result: token.sign(pair, m, data) };
  });
  const settled = await Promise.allSettled(requests.map((r) => r.result));
  let verified = 0;
  const failures: string[] = [];
  settled.forEach((s, i) => {
    const r = requests[i]!;
    if (s.status === 'fulfilled') {
      if (ok(r.pair, r.m, r.data, s.value)) verified++;
    } else {
      failures.push(`${r.i}:${(s.reason as { code: string }).code}`);
    }
  });
  expect(failures).toEqual(Array.from({ length: 20 }, (_, k) => `${k * 1000 + 999}:ERR_KEY_GONE`));
  expect(verified).toBe(20_000 - 20);
  expect(token.engineStats()).toMatchObject({ workers: 2, batchSize: 16, queued: 0, outstanding: 0 });
  expect(token.engineStats()!.completed).toBeGreaterThanOrEqual(20_000);
});

test('close() with signs queued rejects them (ERR_CLOSED), lets running ones finish, and joins its threads', async () => {
  const before = threads();
  const t = await mod.openToken(
    { tokenLabel: 'engine' },
    { pin: USER_PIN, poolSize: 1, engine: { workers: 2, batchSize: 4 } },
  );
  expect(threads()).toBe(before + 2);
  const pair = await t.generateKeyPair({ type: 'rsa', bits: 4096 }, { label: 'slow', id: Buffer.from('slow') });
  const data = Buffer.from('queued');
  const outcomes = Array.from({ length: 400 }, () =>
    t.sign(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data).then(
      (sig) => (ok(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data, sig) ? 'ok' : 'bad'),
      (e: { code: string }) => e.code,
    ),
  );
  await new Promise((r) => setTimeout(r, 20));
  await t.close();
  const results = await Promise.all(outcomes);
  expect(results.filter((r) => r !== 'ok' && r !== 'ERR_CLOSED')).toEqual([]);
  expect(results.filter((r) => r === 'ERR_CLOSED').length).toBeGreaterThan(0);
  expect(results.filter((r) => r === 'ok').length).toBeGreaterThan(0);
  expect(threads()).toBe(before);
  await expect(t.sign(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data)).rejects.toMatchObject({
    code: 'ERR_CLOSED',
  });
});

test('a process using the engine exits by itself, whether it closes everything or not', async () => {
  await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'exit', id: Buffer.from('exit-key') });
  const script = path.join(__dirname, '..', 'fixtures', 'engine-exit.js');
  for (const mode of ['close', 'leave']) {
    const r = spawnSync(process.execPath, [script, SOFTHSM_MODULE, 'engine', USER_PIN, mode], {
      env: process.env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ mode, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({
      mode,
      status: 0,
      signal: null,
      stderr: '',
    });
    const out = JSON.parse(r.stdout);
    expect(out.signed).toBe(200);
    if (mode === 'close') expect(out.ok + out.closed).toBe(500);
  }
});

test('engine: false signs through the session pool, with the same results', async () => {
  const t = await mod.openToken({ tokenLabel: 'engine' }, { pin: USER_PIN, engine: false });
  try {
    const [pair] = await t.findKeyPairs({ id: Buffer.from('p256') });
    const data = Buffer.from('pool');
    expect(
      ok(
        pair!,
        { type: 'ECDSA', hash: 'SHA-256' },
        data,
        await t.sign(pair!, { type: 'ECDSA', hash: 'SHA-256' }, data),
      ),
    ).toBe(true);
    expect(t.engineStats()).toBeUndefined();
  } finally {
    await t.close();
  }
  await expect(mod.openToken({ tokenLabel: 'engine' }, { engine: { batchSize: 0 } })).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
  });
});

test('signSync: the same signature on the JS thread, only when asked for at open', async () => {
  const t = await mod.openToken({ tokenLabel: 'engine' }, { pin: USER_PIN, signSync: true });
  const [pair] = await t.findKeyPairs({ id: Buffer.from('p256') });
  const m = { type: 'ECDSA', hash: 'SHA-256' } as const;
  for (let i = 0; i < 100; i++) {
    const data = Buffer.from(`sync-${i}`);
    expect(ok(pair!, m, data, t.signSync(pair!, m, data))).toBe(true);
  }
  expect(() => t.signSync(pair!, { type: 'EdDSA' }, Buffer.from('x'))).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
  await t.close();
  expect(() => t.signSync(pair!, m, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  expect(() => token.signSync(pair!, m, Buffer.from('x'))).toThrow(
    expect.objectContaining({ code: 'ERR_SIGN_SYNC_DISABLED' }),
  );
});

// The mechanism under the adaptive controller (lib/): the limit, adding and retiring workers, and
// the figures it reads. Straight on the addon, with sessions of its own.
describe('the native engine: limit, workers and latency figures', () => {
  let native: NativeModule;
  let slot: bigint;
  let pair: KeyPair;
  const SIG = 64; // P-256, raw r||s
  const message = (i: number) => Buffer.from(`native-${i}`);
  const valid = (i: number, sig: Buffer) =>
    verify('sha256', message(i), { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig);
  const signOne = (engine: NativeSignEngine, i: number, length = SIG) =>
    engine
      .sign(handlesOf(pair).privateKey, CKM.ECDSA, createHash('sha256').update(message(i)).digest(), length)
      .then((sig) => valid(i, sig));
  const signAll = (engine: NativeSignEngine, from: number, n: number) =>
    Promise.all(Array.from({ length: n }, (_, k) => signOne(engine, from + k)));
  const allTrue = (n: number) => Array<boolean>(n).fill(true);
  const busy = expect.objectContaining({ name: 'SessionBusyError', code: 'ERR_SESSION_BUSY' });
  // Sessions of the token `token` is logged in to: logged in as well (login state is per token).
  const open = (n: number) =>
    Promise.all(Array.from({ length: n }, () => native.openSession(slot, CKF_SESSION.RW_SESSION)));
  const closeAll = async (sessions: bigint[]) => {
    for (const s of sessions) await native.closeSession(s);
  };
  const tick = () => new Promise((r) => setImmediate(r));

  beforeAll(async () => {
    pair = await token.generateKeyPair(
      { type: 'ec', curve: 'P-256' },
      { label: 'native', id: Buffer.from('native-p256') },
    );
    native = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() });
    slot = (await native.getSlots(true)).find((s) => s.token?.label === 'engine')!.slot;
  });

  afterAll(async () => {
    await native?.close();
  });

  test('setLimit(1) with 4 workers: never more than one inside a batch, and every request completes', async () => {
    const sessions = await open(4);
    const engine = native.createSignEngine(sessions, { batchSize: 8 });
    expect(engine.stats()).toMatchObject({ workers: 4, limit: 4, running: 0 });
    // Samples stats() on every turn of the event loop until `work` settles: the most running seen.
    const peakRunning = async (work: Promise<boolean[]>) => {
      let settled = false;
      void work.finally(() => (settled = true)).catch(() => undefined);
      let peak = 0;
      while (!settled) {
        peak = Math.max(peak, engine.stats().running);
        await tick();
      }
      return peak;
    };

    engine.setLimit(1);
    expect(engine.stats()).toMatchObject({ workers: 4, limit: 1 });
    const limited = signAll(engine, 0, 3000);
    expect(await peakRunning(limited)).toBe(1);
    expect(await limited).toEqual(allTrue(3000));

    // The same load with the limit raised again spreads over several workers.
    engine.setLimit(4);
    const open4 = signAll(engine, 3000, 3000);
    expect(await peakRunning(open4)).toBeGreaterThan(1);
    expect(await open4).toEqual(allTrue(3000));
    expect(engine.stats()).toMatchObject({ completed: 6000, outstanding: 0, running: 0 });
    await engine.close();
    await closeAll(sessions);
  });

  test('addSessions adds one worker thread per session, claimed like the first ones; the limit stays', async () => {
    const [first, ...more] = await open(3);
    const before = threads();
    const engine = native.createSignEngine([first!]);
    expect(threads()).toBe(before + 1);
    engine.addSessions(more);
    expect(threads()).toBe(before + 3);
    expect(engine.stats()).toMatchObject({ workers: 3, limit: 1 });
    // Claimed: no other call may use them, and they cannot be added twice.
    expect(() => native.closeSession(more[0]!)).toThrow(busy);
    expect(() => engine.addSessions([more[1]!])).toThrow(busy);
    engine.setLimit(3);
    expect(await signAll(engine, 0, 600)).toEqual(allTrue(600));
    await engine.close();
    expect(threads()).toBe(before);
    await closeAll([first!, ...more]); // released by close()
  });

  test('retireWorkers: workers leave after their batch, never below the limit, and their sessions come back released', async () => {
    const sessions = await open(4);
    const before = threads();
    const engine = native.createSignEngine(sessions, { batchSize: 4 });
    expect(await engine.retireWorkers(2)).toEqual([]); // limit = workers = 4: none may go

    engine.setLimit(2);
    const inflight = signAll(engine, 0, 1000);
    const retired = await engine.retireWorkers(3); // at most 4 - 2, with requests in flight
    expect(retired).toHaveLength(2);
    expect(sessions).toEqual(expect.arrayContaining(retired));
    expect(engine.stats()).toMatchObject({ workers: 2, limit: 2 });
    expect(threads()).toBe(before + 2);
    await closeAll(retired); // no longer claimed: the caller closes them
    expect(await inflight).toEqual(allTrue(1000)); // nothing lost on the way out
    expect(await signAll(engine, 1000, 200)).toEqual(allTrue(200));

    engine.setLimit(1);
    const last = await engine.retireWorkers(1024);
    expect(last).toHaveLength(1); // one worker always stays
    expect(engine.stats()).toMatchObject({ workers: 1, limit: 1 });
    expect(await signAll(engine, 1200, 100)).toEqual(allTrue(100));
    const remaining = sessions.filter((s) => !retired.includes(s) && !last.includes(s));
    expect(() => native.closeSession(remaining[0]!)).toThrow(busy);
    await engine.close();
    expect(threads()).toBe(before);
    await closeAll([...last, ...remaining]);
  });

  test('the latency figures count each C_SignInit+C_Sign, one per request, in microseconds', async () => {
    const sessions = await open(2);
    const engine = native.createSignEngine(sessions, { batchSize: 16 });
    expect(engine.stats()).toMatchObject({ signLatencyUsSum: 0, signLatencyCount: 0 });
    const t0 = performance.now();
    expect(await signAll(engine, 0, 500)).toEqual(allTrue(500));
    const wallUs = (performance.now() - t0) * 1000;
    const s = engine.stats();
    expect(s.signLatencyCount).toBe(500);
    expect(s.batches).toBeLessThanOrEqual(500);
    expect(s.signLatencyUsSum).toBeGreaterThan(0);
    // Two workers cannot have spent more than twice the wall time in C_Sign: the unit is right.
    expect(s.signLatencyUsSum).toBeLessThanOrEqual(2 * wallUs);
    // A request that fails in the module was measured as well; one refused before it is not.
    await expect(engine.sign(0x7fff_fff0n, CKM.ECDSA, Buffer.alloc(32), SIG)).rejects.toMatchObject({
      fn: 'C_SignInit',
    });
    expect(engine.stats().signLatencyCount).toBe(501);
    await engine.close();
    await closeAll(sessions);
  });

  test('CKR_BUFFER_TOO_SMALL is treated alike on all three paths: the signature comes back, and the session stays usable', async () => {
    const [session, s1] = await open(2);
    const digest = (i: number) => createHash('sha256').update(message(i)).digest();
    // A signatureLength of 8 for a 64-byte signature: C_Sign answers CKR_BUFFER_TOO_SMALL and
    // keeps the operation active; it is finished into a buffer of the right size.
    const viaSign = await native.sign(session!, handlesOf(pair).privateKey, { type: CKM.ECDSA }, digest(1), 8);
    expect(valid(1, viaSign)).toBe(true);
    const viaSync = native.signSync(session!, handlesOf(pair).privateKey, CKM.ECDSA, digest(2), 8);
    expect(valid(2, viaSync)).toBe(true);
    // The session has no operation left active: a normal signature on it works.
    expect(valid(3, native.signSync(session!, handlesOf(pair).privateKey, CKM.ECDSA, digest(3), SIG))).toBe(true);
    const engine = native.createSignEngine([s1!]);
    expect(
      await Promise.all([signOne(engine, 4, 8), signOne(engine, 5), signOne(engine, 6, 8), signOne(engine, 7)]),
    ).toEqual(allTrue(4));
    await engine.close();
    await closeAll([session!, s1!]);
  });

  test('bad arguments are typed errors with codes; a failed createSignEngine claims nothing', async () => {
    const sessions = await open(3);
    const type = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const value = expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    const closed = expect.objectContaining({ name: 'ClosedError', code: 'ERR_CLOSED' });
    expect(() => native.createSignEngine('s' as never)).toThrow(type);
    expect(() => native.createSignEngine([])).toThrow(value);
    expect(() => native.createSignEngine(Array.from({ length: 1025 }, (_, i) => BigInt(i + 1)))).toThrow(value);
    expect(() => native.createSignEngine([sessions[0]!, sessions[0]!])).toThrow(value);
    expect(() => native.createSignEngine([1n << 70n])).toThrow(value);
    expect(() => native.createSignEngine(sessions, { limit: 0 })).toThrow(value);
    expect(() => native.createSignEngine(sessions, { limit: 4 })).toThrow(value);
    expect(() => native.createSignEngine(sessions, { limit: '2' as never })).toThrow(type);
    expect(() => native.createSignEngine(sessions, 'fast' as never)).toThrow(type);

    const engine = native.createSignEngine([sessions[0]!], { limit: 1 });
    // One of these is the engine's: the others must not stay claimed by the refused engine.
    expect(() => native.createSignEngine([sessions[1]!, sessions[0]!])).toThrow(busy);
    expect(() => engine.addSessions([sessions[2]!, sessions[0]!])).toThrow(busy);
    await native.getSessionInfo(sessions[1]!);
    await native.getSessionInfo(sessions[2]!);

    expect(() => engine.setLimit(0)).toThrow(value);
    expect(() => engine.setLimit(2)).toThrow(value); // more than the workers
    expect(() => engine.setLimit(1.5)).toThrow(value);
    expect(() => engine.setLimit(NaN)).toThrow(value);
    expect(() => engine.setLimit(1n as never)).toThrow(type);
    expect(() => engine.setLimit(undefined as never)).toThrow(type);
    expect(() => engine.addSessions('x' as never)).toThrow(type);
    expect(() => engine.addSessions([])).toThrow(value);
    expect(() => engine.addSessions([2 as never])).toThrow(type);
    expect(() => engine.addSessions([1n << 70n])).toThrow(value);
    expect(() => engine.retireWorkers(0)).toThrow(value);
    expect(() => engine.retireWorkers(1025)).toThrow(value);
    expect(() => engine.retireWorkers('1' as never)).toThrow(type);
    expect(() => engine.sign(1n << 70n, CKM.ECDSA, Buffer.alloc(32), SIG)).toThrow(value);
    expect(() => engine.sign(handlesOf(pair).privateKey, CKM.ECDSA, Buffer.alloc(32), 0)).toThrow(value);
    expect(engine.stats()).toMatchObject({ workers: 1, limit: 1, outstanding: 0 });

    await engine.close();
    expect(() => engine.setLimit(1)).toThrow(closed);
    expect(() => engine.addSessions([sessions[1]!])).toThrow(closed);
    expect(() => engine.retireWorkers(1)).toThrow(closed);
    expect(() => engine.close()).toThrow(closed);
    await closeAll(sessions);
  });

  test('close() then dropping the engine: collected before close() settles, it still settles and releases the sessions', () => {
    // A child process with --expose-gc (jest's workers have no gc()). Under `npm run test:asan` it
    // inherits the sanitizer: touching the collected object after close() aborts it.
    const script = path.join(__dirname, 'fixtures', 'engine-close-gc.js');
    const r = spawnSync(process.execPath, ['--expose-gc', script, SOFTHSM_MODULE, 'engine'], {
      env: process.env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(JSON.parse(r.stdout)).toEqual({ rounds: 20, unexpected: [] });
  });
});
