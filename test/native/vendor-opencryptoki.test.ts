// openCryptoki 3.8.1 software token (swtok), a second vendor with other limits: cryptoki 2.20, RSA
// only (no EC, no EdDSA), no CKM_SHAxxx_RSA_PKCS (RS256 goes through CKM_RSA_PKCS over a host
// DigestInfo), PINs of 4-8 characters, and 3 wrong user PINs lock the PIN. It needs its daemon
// pkcsslotd and fixed paths under /var and /run, hence root: scripts/opencryptoki-token.sh starts
// the daemon with a fresh token, and this file stops the daemon again if it started it.
// One process at a time: several processes on the swtok at once sometimes see no token (docs/vendors.md).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { constants, Pkcs11Module, type MechanismInfo, type Token } from '../../lib';
import {
  allowedMechanismsPass,
  conformancePass,
  dataObjectPass,
  SPECS,
  type CkmName,
  type ObjectCapabilities,
} from '../helpers/conformance';
import { execFileSync } from '../helpers/recording-child-process';
import { rawSession } from '../helpers/raw';

const OCK = [
  '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so',
  '/usr/lib/aarch64-linux-gnu/pkcs11/libopencryptoki.so',
].find((p) => fs.existsSync(p));
const SLOTD = '/usr/sbin/pkcsslotd';
const SCRIPT = path.join(__dirname, '../../scripts/opencryptoki-token.sh');
const absent = !OCK
  ? 'libopencryptoki.so is not installed (apt-get install opencryptoki)'
  : !fs.existsSync(SLOTD)
    ? `${SLOTD} (the openCryptoki daemon) is missing`
    : process.getuid?.() !== 0
      ? 'not root: pkcsslotd and the swtok use fixed paths under /var and /run (CI runs as root)'
      : '';
if (absent) console.log(`skipping the openCryptoki tests: ${absent}`);
const describeOck = absent ? describe.skip : describe;

const LABEL = 'hsm-jwks-ock';
const PIN = '1234';
const WRONG_PIN = '4321';
const { CKM, CKF_TOKEN } = constants;
/** Measured on openCryptoki 3.8.1 (docs/vendors.md). */
const OCK_OBJECTS: ObjectCapabilities = {
  dataObjects: 'accepted',
  dataValueWritable: 'accepted',
  allowedMechanisms: { refused: 'CKR_ATTRIBUTE_TYPE_INVALID' },
};

describeOck('openCryptoki 3.8.1 swtok', () => {
  let startedDaemon = false;
  let mod: Pkcs11Module;
  let token: Token;
  let mechs: Map<number, MechanismInfo>;
  const has = (n: CkmName) => mechs.has(CKM[n]);

  beforeAll(async () => {
    const out = execFileSync('bash', [SCRIPT, 'start'], {
      env: { ...process.env, OCK_LABEL: LABEL, OCK_USER_PIN: PIN },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    startedDaemon = /^started \d+$/m.test(out);
    mod = await Pkcs11Module.load(OCK!);
    token = await mod.openToken({ tokenLabel: LABEL }, { pin: PIN, poolSize: 2 });
    mechs = new Map((await token.mechanisms()).map((m) => [m.type, m]));
  });

  afterAll(async () => {
    await mod?.close();
    if (startedDaemon) execFileSync('bash', [SCRIPT, 'stop'], { stdio: 'ignore' });
  });

  test('cryptoki 2.20 through C_GetFunctionList; the swtok is slot 3 and takes PINs of 4 to 8 characters', async () => {
    expect(await mod.info()).toMatchObject({ manufacturerID: 'IBM', cryptokiVersion: { major: 2, minor: 20 } });
    expect(mod.describe()).toMatchObject({ viaGetInterface: false, functionListVersion: { major: 2 } });
    expect([token.slot, token.manufacturerID, token.model]).toEqual([3n, 'IBM Corp.', 'IBM SoftTok']);
    const info = (await mod.slots()).find((s) => s.slot === 3n)?.token;
    expect([info?.minPinLen, info?.maxPinLen]).toEqual([4, 8]);
  });

  test('no CKM_SHAxxx_RSA_PKCS: RSASSA-PKCS1-v1_5 is CKM_RSA_PKCS over a host DigestInfo', () => {
    expect([has('SHA256_RSA_PKCS'), has('SHA384_RSA_PKCS'), has('SHA512_RSA_PKCS'), has('RSA_PKCS')]).toEqual([
      false,
      false,
      false,
      true,
    ]);
    // the signatures themselves are checked by the conformance pass below (RSA-PKCS1 with every hash)
  });

  test.each(SPECS)(
    '%s: generated, found, signed with every listed mechanism, verified by node:crypto',
    async (name, spec) => {
      const { skipped } = await conformancePass(token, mechs, name, spec, {
        vendor: 'openCryptoki swtok',
        label: LABEL,
        idPrefix: 'ock-',
      });
      // Only a key type whose CKM_xxx_KEY_PAIR_GEN is missing may be skipped: a listed one is
      // generated in every size, and its keys sign with every mechanism (RS through CKM_RSA_PKCS).
      expect(skipped.filter((s) => s.step !== 'keygen' || !s.missing)).toEqual([]);
    },
  );

  test('object capabilities: data objects with a writable CKA_VALUE; CKA_ALLOWED_MECHANISMS refused (CKR_ATTRIBUTE_TYPE_INVALID)', async () => {
    const raw = await rawSession(token.slot, { module: OCK!, pin: PIN });
    try {
      const target = { vendor: 'openCryptoki swtok', label: LABEL, idPrefix: 'ock-' };
      await dataObjectPass(token, raw, OCK_OBJECTS, target);
      await allowedMechanismsPass(token, raw, mechs, OCK_OBJECTS, target);
    } finally {
      await raw.close(); // its session held the login too: the PIN test below needs it gone
    }
  });

  // Last: it locks the user PIN (the next scripts/opencryptoki-token.sh start makes a fresh token).
  test('a wrong PIN fails once per try, counting down; the third locks the PIN, even against the right one', async () => {
    await token.close(); // the login is per process: log out first, or C_Login says USER_ALREADY_LOGGED_IN
    const PIN_FLAGS = CKF_TOKEN.USER_PIN_COUNT_LOW | CKF_TOKEN.USER_PIN_FINAL_TRY | CKF_TOKEN.USER_PIN_LOCKED;
    const flags = async () => (await mod.slots()).find((s) => s.slot === 3n)!.token!.flags & PIN_FLAGS;
    const open = (pin: string) => mod.openToken({ tokenLabel: LABEL }, { pin, engine: false }).then((t) => t.close());
    await expect(open(WRONG_PIN)).rejects.toMatchObject({ code: 'ERR_PKCS11_PIN_INCORRECT', fn: 'C_Login' });
    expect(await flags()).toBe(CKF_TOKEN.USER_PIN_COUNT_LOW);
    await expect(open(PIN)).resolves.toBeUndefined(); // a right PIN resets the count
    expect(await flags()).toBe(0);
    await expect(open(WRONG_PIN)).rejects.toMatchObject({ code: 'ERR_PKCS11_PIN_INCORRECT' });
    await expect(open(WRONG_PIN)).rejects.toMatchObject({ code: 'ERR_PKCS11_PIN_INCORRECT' });
    expect(await flags()).toBe(CKF_TOKEN.USER_PIN_FINAL_TRY);
    await expect(open(WRONG_PIN)).rejects.toMatchObject({ code: 'ERR_PKCS11_PIN_INCORRECT' });
    expect(await flags()).toBe(CKF_TOKEN.USER_PIN_LOCKED);
    await expect(open(PIN)).rejects.toMatchObject({ code: 'ERR_PKCS11_PIN_LOCKED', fn: 'C_Login' });
  });
});
