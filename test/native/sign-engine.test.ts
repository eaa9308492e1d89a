// The signing engine: batching changes nothing a caller can observe. Every result belongs to its
// own request, an error fails only its request, close() refuses what is still queued and leaves
// no thread behind, and a process using the engine exits by itself.
import { constants as C, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Pkcs11Module, type KeyPair, type SignMechanism, type Token } from '../../lib';
import { publicKeyObject } from '../helpers/keys';
import { spawnSync } from '../helpers/leak-collector';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

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
  token = await mod.openToken({ tokenLabel: 'engine' }, { pin: USER_PIN, poolSize: 2, engine: { workers: 2, batchSize: 16 } });
});

afterAll(async () => {
  await mod?.close();
});

test('20,000 concurrent signs over 3 key types: every result is its own, one failing request fails alone', async () => {
  const keys: Array<[KeyPair, SignMechanism]> = [
    [await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'e', id: Buffer.from('p256') }), { type: 'ECDSA', hash: 'SHA-256' }],
    [await token.generateKeyPair({ type: 'ed25519' }, { label: 'e', id: Buffer.from('ed') }), { type: 'EdDSA' }],
    [await token.generateKeyPair({ type: 'rsa', bits: 2048 }, { label: 'e', id: Buffer.from('rsa') }), { type: 'RSA-PKCS1', hash: 'SHA-256' }],
  ];
  // A KeyPair object whose key is destroyed behind its back: its requests reach the token and fail
  // (SoftHSM answers CKR_OBJECT_HANDLE_INVALID).
  await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'e', id: Buffer.from('doomed') });
  const [doomed] = await token.findKeyPairs({ id: Buffer.from('doomed') });
  const [other] = await token.findKeyPairs({ id: Buffer.from('doomed') });
  await token.destroyKeyPair(other!);

  const requests = Array.from({ length: 20_000 }, (_, i) => {
    const data = Buffer.from(`request-${i}`);
    if (i % 1000 === 999) return { i, data, pair: doomed!, m: keys[0]![1], result: token.sign(doomed!, keys[0]![1], data) };
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
  expect(failures).toEqual(Array.from({ length: 20 }, (_, k) => `${k * 1000 + 999}:ERR_PKCS11_OBJECT_HANDLE_INVALID`));
  expect(verified).toBe(20_000 - 20);
  expect(token.engineStats()).toMatchObject({ workers: 2, batchSize: 16, queued: 0, outstanding: 0 });
  expect(token.engineStats()!.completed).toBeGreaterThanOrEqual(20_000);
});

test('close() with signs queued rejects them (ERR_CLOSED), lets running ones finish, and joins its threads', async () => {
  const before = threads();
  const t = await mod.openToken({ tokenLabel: 'engine' }, { pin: USER_PIN, poolSize: 1, engine: { workers: 2, batchSize: 4 } });
  expect(threads()).toBe(before + 2);
  const pair = await t.generateKeyPair({ type: 'rsa', bits: 4096 }, { label: 'slow', id: Buffer.from('slow') });
  const data = Buffer.from('queued');
  const outcomes = Array.from({ length: 400 }, () => t.sign(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data).then((sig) => (ok(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data, sig) ? 'ok' : 'bad'), (e: { code: string }) => e.code));
  await new Promise((r) => setTimeout(r, 20));
  await t.close();
  const results = await Promise.all(outcomes);
  expect(results.filter((r) => r !== 'ok' && r !== 'ERR_CLOSED')).toEqual([]);
  expect(results.filter((r) => r === 'ERR_CLOSED').length).toBeGreaterThan(0);
  expect(results.filter((r) => r === 'ok').length).toBeGreaterThan(0);
  expect(threads()).toBe(before);
  await expect(t.sign(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
});

test('a process using the engine exits by itself, whether it closes everything or not', async () => {
  await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'exit', id: Buffer.from('exit-key') });
  const script = path.join(__dirname, '..', 'fixtures', 'engine-exit.js');
  for (const mode of ['close', 'leave']) {
    const r = spawnSync(process.execPath, [script, SOFTHSM_MODULE, 'engine', USER_PIN, mode], { env: process.env, encoding: 'utf8', timeout: 60_000 });
    expect({ mode, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ mode, status: 0, signal: null, stderr: '' });
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
    expect(ok(pair!, { type: 'ECDSA', hash: 'SHA-256' }, data, await t.sign(pair!, { type: 'ECDSA', hash: 'SHA-256' }, data))).toBe(true);
    expect(t.engineStats()).toBeUndefined();
  } finally {
    await t.close();
  }
  await expect(mod.openToken({ tokenLabel: 'engine' }, { engine: { batchSize: 0 } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
});

test('signSync: the same signature on the JS thread, only when asked for at open', async () => {
  const t = await mod.openToken({ tokenLabel: 'engine' }, { pin: USER_PIN, signSync: true });
  const [pair] = await t.findKeyPairs({ id: Buffer.from('p256') });
  const m = { type: 'ECDSA', hash: 'SHA-256' } as const;
  for (let i = 0; i < 100; i++) {
    const data = Buffer.from(`sync-${i}`);
    expect(ok(pair!, m, data, t.signSync(pair!, m, data))).toBe(true);
  }
  expect(() => t.signSync(pair!, { type: 'EdDSA' }, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  await t.close();
  expect(() => t.signSync(pair!, m, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  expect(() => token.signSync(pair!, m, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_SIGN_SYNC_DISABLED' }));
});
