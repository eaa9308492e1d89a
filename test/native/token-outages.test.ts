// Outages as an attacker or an unlucky operator makes them: the PIN changed under a serving token
// and the device gone once (one C_Login, never a stream of them: HSMs lock the PIN after a few), the
// login forgotten with a changed PIN, the token deleted under load and re-created. Each ends in a
// typed 503-class error while it lasts (never "not found") and in working signatures afterwards.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type KeyPair, Pkcs11Module, type RecoveryEvent, type Token } from '../../lib';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const FAULT = path.join(__dirname, '..', '..', 'build', 'fault-module', 'libfault_pkcs11.so');
const ES256 = { type: 'ECDSA', hash: 'SHA-256' } as const;
const data = Buffer.from('outage');
const control = (text: string) => fs.writeFileSync(process.env.FAULT_CONTROL!, text);
const logFile = process.env.FAULT_LOG!; // the fault module appends every C_Login here (softhsm-environment.js)
const logins = () =>
  fs.existsSync(logFile)
    ? fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('C_Login'))
    : [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  if (!fs.existsSync(FAULT)) throw new Error(`${FAULT} is missing: run npm run build:test-tools (npm test does)`);
});
beforeEach(() => {
  control('');
  fs.rmSync(logFile, { force: true });
});

/** Changes the user PIN on the token itself (as an operator would, outside this process). */
function changePin(label: string, from: string, to: string): void {
  softHsm().pkcs11Tool(['--token-label', label, '--login', '--pin', from, '--change-pin', '--new-pin', to]);
}

/** `n` loops signing for `ms`; returns the error codes seen and the signatures made. */
async function load(token: Token, pair: KeyPair, ms: number, n = 8): Promise<{ codes: Set<string>; ok: number }> {
  const codes = new Set<string>();
  let ok = 0;
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (Date.now() < until) {
        try {
          await token.sign(pair, ES256, data);
          ok++;
        } catch (e) {
          codes.add((e as { code: string }).code);
          await sleep(1);
        }
      }
    }),
  );
  return { codes, ok };
}

describe('a PIN that failed is not sent again', () => {
  test('PIN changed while serving, then the device gone once: one C_Login, ERR_LOGIN_REFUSED until an operator acts', async () => {
    softHsm().initToken('pin-gone');
    const events: RecoveryEvent[] = [];
    const mod = await Pkcs11Module.load(FAULT);
    try {
      const token = await mod.openToken(
        { tokenLabel: 'pin-gone' },
        { pin: USER_PIN, recovery: { backoffMs: 10, onEvent: (e) => events.push(e) } },
      );
      const pair = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'k', id: Buffer.from('k') });
      changePin('pin-gone', USER_PIN, '98765');
      fs.rmSync(logFile, { force: true });
      control('device_gone\n');
      await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_(TOKEN_UNAVAILABLE|PKCS11_DEVICE_REMOVED)$/),
      });
      control('');
      // Load from eight loops for two seconds, past the background reconnection's period.
      const { codes, ok } = await load(token, pair, 2000);
      expect(ok).toBe(0);
      expect(codes).toContain('ERR_LOGIN_REFUSED');
      expect(logins()).toEqual(['C_Login 0xa0']); // exactly one, refused with CKR_PIN_INCORRECT
      expect(token.health()).toMatchObject({ state: 'login-refused', cause: 'CKR_PIN_INCORRECT' });
      expect(events.filter((e) => e.kind === 'login-refused')).toHaveLength(1);

      // The operator restores the PIN on the token and asks for one more try.
      changePin('pin-gone', '98765', USER_PIN);
      await token.resumeLogins();
      expect(token.health().state).toBe('ready');
      await expect(token.sign(pair, ES256, data)).resolves.toBeInstanceOf(Buffer);
      expect(logins()).toEqual(['C_Login 0xa0', 'C_Login 0x0']);
    } finally {
      control('');
      await mod.close();
    }
  });

  test('a forgotten login with a changed PIN: one C_Login; resumeLogins with the new PIN signs again', async () => {
    softHsm().initToken('pin-relogin');
    const mod = await Pkcs11Module.load(FAULT);
    try {
      const token = await mod.openToken({ tokenLabel: 'pin-relogin' }, { pin: USER_PIN, engine: false, poolSize: 2 });
      const pair = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'k', id: Buffer.from('k') });
      changePin('pin-relogin', USER_PIN, '55555');
      fs.rmSync(logFile, { force: true });
      // The token forgets the login (CKR_USER_NOT_LOGGED_IN) and refuses the PIN it was opened with.
      control('C_SignInit=0x101\nC_Login=0xa0\n');
      const { codes } = await load(token, pair, 500, 4);
      control('');
      expect([...codes].sort()).toEqual(['ERR_LOGIN_REFUSED']);
      expect(logins()).toHaveLength(1);
      // A wrong PIN from the operator is tried once and refused again.
      await expect(token.resumeLogins('11111')).rejects.toMatchObject({ code: 'ERR_LOGIN_REFUSED' });
      expect(logins()).toHaveLength(2);
      await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({ code: 'ERR_LOGIN_REFUSED' });
      expect(logins()).toHaveLength(2);
      await token.resumeLogins('55555');
      await expect(token.sign(pair, ES256, data)).resolves.toBeInstanceOf(Buffer);
      expect(logins()).toHaveLength(3);
    } finally {
      control('');
      await mod.close();
    }
  });
});

test('a token deleted under load and re-created: ERR_TOKEN_UNAVAILABLE while gone, signing again within 5 s of its return', async () => {
  const { pkcs11Tool } = softHsm();
  softHsm().initToken('comes-back');
  const events: RecoveryEvent[] = [];
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  try {
    const token = await mod.openToken(
      { tokenLabel: 'comes-back' },
      { pin: USER_PIN, recovery: { onEvent: (e) => events.push(e) } },
    );
    const pair = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'k', id: Buffer.from('k') });
    const firstSerial = token.serialNumber;
    const running = load(token, pair, 1500);
    await sleep(300);
    execFileSync('softhsm2-util', ['--delete-token', '--token', 'comes-back'], { env: process.env, stdio: 'ignore' });
    const { codes } = await running;
    expect(codes).toContain('ERR_TOKEN_UNAVAILABLE');
    for (const c of codes) expect(['ERR_TOKEN_UNAVAILABLE']).toContain(c); // never "gone" or "not found"
    expect(token.health().state).toBe('unavailable');
    await expect(token.findKeyPairs({})).rejects.toMatchObject({ code: 'ERR_TOKEN_UNAVAILABLE' });
    await expect(
      token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'k', id: Buffer.from('k2') }),
    ).rejects.toMatchObject({ code: 'ERR_TOKEN_UNAVAILABLE' });

    // The operator re-creates the token with the same label and a key (outside this process).
    softHsm().initToken('comes-back');
    pkcs11Tool([
      '--token-label',
      'comes-back',
      '--login',
      '--pin',
      USER_PIN,
      '--keypairgen',
      '--key-type',
      'EC:prime256v1',
      '--id',
      '6b',
      '--label',
      'k',
    ]);
    const back = Date.now();
    let found: KeyPair[] = [];
    while (Date.now() - back < 5000) {
      found = await token.findKeyPairs({ id: Buffer.from('k') }).catch(() => []);
      if (found.length) break;
      await sleep(50);
    }
    expect(found).toHaveLength(1);
    expect(Date.now() - back).toBeLessThan(5000);
    await expect(token.sign(found[0]!, ES256, data)).resolves.toBeInstanceOf(Buffer);
    expect(token.serialNumber).not.toBe(firstSerial);
    // The key of the old token is not the new token's key under the same id.
    await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({ code: 'ERR_KEY_GONE' });
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['token-unavailable', 'token-back']));
  } finally {
    await mod.close();
  }
});

test('probe() answers at once, asks the token at most once a second in the background, and sees a missing token', async () => {
  softHsm().initToken('probed');
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  try {
    const token = await mod.openToken({ tokenLabel: 'probed' }, { pin: USER_PIN });
    await sleep(1000);
    const before = token.health().lastAnswerAt;
    expect((await token.probe()).state).toBe('ready');
    await sleep(100);
    const first = token.health();
    expect(first.lastAnswerAt).toBeGreaterThan(before); // the background C_GetTokenInfo answered
    await token.probe();
    await sleep(100);
    expect(token.health().lastAnswerAt).toBe(first.lastAnswerAt); // not asked again within the second
    execFileSync('softhsm2-util', ['--delete-token', '--token', 'probed'], { env: process.env, stdio: 'ignore' });
    await sleep(1000);
    await token.probe();
    for (const until = Date.now() + 2000; token.health().state !== 'unavailable' && Date.now() < until; )
      await sleep(10);
    expect(token.health().state).toBe('unavailable');
  } finally {
    await mod.close();
  }
});

test('a KeyPair of another token is refused before any call; another Token object of the same token may use it', async () => {
  softHsm().initToken('foreign-a');
  softHsm().initToken('foreign-b');
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  try {
    const a = await mod.openToken({ tokenLabel: 'foreign-a' }, { pin: USER_PIN });
    const b = await mod.openToken({ tokenLabel: 'foreign-b' }, { pin: USER_PIN });
    const a2 = await mod.openToken({ tokenLabel: 'foreign-a' }, { pin: USER_PIN });
    const pair = await a.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'k', id: Buffer.from('k') });
    await expect(b.sign(pair, ES256, data)).rejects.toMatchObject({ code: 'ERR_KEY_FOREIGN' });
    await expect(b.destroyKeyPair(pair)).rejects.toMatchObject({ code: 'ERR_KEY_FOREIGN' });
    await expect(a.sign(pair, ES256, data)).resolves.toBeInstanceOf(Buffer);
    await expect(a2.sign(pair, ES256, data)).resolves.toBeInstanceOf(Buffer);
  } finally {
    await mod.close();
  }
});

test('engine options are checked before the login: a bad one costs no C_Login', async () => {
  softHsm().initToken('checked-first');
  const mod = await Pkcs11Module.load(FAULT);
  try {
    fs.rmSync(logFile, { force: true });
    for (const engine of [{ workers: 0 }, { maxWorkers: 1.5 }, { batchSize: 'x' }, 'fast'] as const) {
      await expect(
        mod.openToken({ tokenLabel: 'checked-first' }, { pin: USER_PIN, engine: engine as never }),
      ).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_INVALID_ARG_(TYPE|VALUE)$/),
      });
    }
    expect(logins()).toEqual([]);
  } finally {
    await mod.close();
  }
});
