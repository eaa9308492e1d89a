// p11-kit-proxy in front of SoftHSM2: the conformance pass through the proxy, decided by the
// token's mechanism list, and what the proxy changes (slot IDs, C_GetInfo). The proxy reads its
// module files at C_Initialize; as root only /etc/pkcs11/modules (and the package directory) count,
// so this file writes its own module file there, disables the package modules for the proxy, and
// removes both right after C_Initialize. See docs/vendors.md.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Pkcs11Module, type MechanismInfo, type SlotInfo, type Token } from '../../lib';
import {
  allowedMechanismsPass,
  conformancePass,
  dataObjectPass,
  SOFTHSM2_OBJECTS,
  SPECS,
} from '../helpers/conformance';
import { spawnSync } from '../helpers/recording-child-process';
import { rawSession } from '../helpers/raw';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const PROXY = [
  '/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so',
  '/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so',
  '/usr/lib64/p11-kit-proxy.so',
].find((p) => fs.existsSync(p));
const SYSTEM_MODULES = '/etc/pkcs11/modules';
const PACKAGE_MODULES = '/usr/share/p11-kit/modules';
const absent = !PROXY
  ? 'p11-kit-proxy.so is not installed (apt-get install p11-kit-modules)'
  : process.getuid?.() !== 0
    ? `not root: p11-kit would read the user's ~/.config/pkcs11, and ${SYSTEM_MODULES} needs root (CI runs as root)`
    : '';
if (absent) console.log(`skipping the p11-kit-proxy tests: ${absent}`);
const describeProxy = absent ? describe.skip : describe;

const LABEL = 'via-proxy';
const MARK = `# hsm-jwks test/native/vendor-p11kit.test.ts, pid ${process.pid}`;

/** Writes this file's module config: SoftHSM for this program only, package modules off in the proxy. */
function writeProxyConfig(): string[] {
  fs.mkdirSync(SYSTEM_MODULES, { recursive: true });
  for (const f of fs.readdirSync(SYSTEM_MODULES)) {
    // files of an earlier run of this test that was killed before its cleanup
    const pid = /^# hsm-jwks test\/native\/vendor-p11kit\.test\.ts, pid (\d+)$/m.exec(
      fs.readFileSync(path.join(SYSTEM_MODULES, f), 'utf8'),
    )?.[1];
    if (pid && !isAlive(Number(pid))) fs.rmSync(path.join(SYSTEM_MODULES, f), { force: true });
  }
  // enable-in matches the program name (argv[0]), not "p11-kit-proxy": pkcs11-tool & co never see it.
  const programs = [...new Set([process.argv0, process.execPath].filter(Boolean).map((p) => path.basename(p)))].join(
    ', ',
  );
  // p11-kit loads a library once, under whichever of its configs it meets first (hash order, so it
  // varies from process to process): a second config for SoftHSM next to the package's disabled one
  // made the proxy show no slots now and then. So when the package ships a SoftHSM config, this file
  // overrides that one (same name) instead of adding its own.
  const own = fs.existsSync(path.join(PACKAGE_MODULES, 'softhsm2.module'))
    ? 'softhsm2.module'
    : `hsm-jwks-test-${process.pid}.module`;
  const files: Array<[string, string]> = [[own, `module: ${SOFTHSM_MODULE}\ncritical: yes\nenable-in: ${programs}\n`]];
  for (const f of fs.readdirSync(PACKAGE_MODULES)) {
    // A same-named file here merges with the package one (earlier files win per key); leave an
    // existing one alone: it belongs to the administrator or to a live run of this test.
    // disable-in, like enable-in, names the program (node), not the proxy: with "p11-kit-proxy" here
    // OpenSC's module was loaded into the test process, and its thread crashed the jest worker
    // after the proxy unloaded it (seen in CI: SIGSEGV inside opensc-pkcs11.so, a later file failing).
    if (f.endsWith('.module') && f !== own && !fs.existsSync(path.join(SYSTEM_MODULES, f)))
      files.push([f, `disable-in: ${programs}\n`]);
  }
  return files.map(([name, body]) => {
    const file = path.join(SYSTEM_MODULES, name);
    fs.writeFileSync(file, `${MARK}\n${body}`, { flag: 'wx' });
    return file;
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const tokenView = (s: SlotInfo) =>
  s.token && {
    label: s.token.label,
    serial: s.token.serialNumber,
    manufacturer: s.token.manufacturerID,
    model: s.token.model,
  };
const byType = (a: MechanismInfo, b: MechanismInfo) => a.type - b.type;

describeProxy('p11-kit-proxy in front of SoftHSM2', () => {
  const direct = { slots: [] as SlotInfo[], mechanisms: [] as MechanismInfo[], manufacturer: '' };
  let written: string[] = [];
  let otherProgram = '';
  let proxy: Pkcs11Module;
  let token: Token;
  let mechs: Map<number, MechanismInfo>;

  beforeAll(async () => {
    softHsm().initToken(LABEL);
    // SoftHSM on its own first (finalized again before the proxy loads it).
    const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
    try {
      direct.slots = await mod.slots();
      direct.manufacturer = (await mod.info()).manufacturerID;
      const t = await mod.openToken({ tokenLabel: LABEL }, { pin: USER_PIN, engine: false });
      direct.mechanisms = (await t.mechanisms()).sort(byType);
    } finally {
      await mod.close();
    }
    written = writeProxyConfig();
    try {
      const listing = spawnSync('pkcs11-tool', ['--module', PROXY!, '-L'], { encoding: 'utf8' }); // exits 1 on "No slots."
      otherProgram = `${listing.stdout}${listing.stderr}`;
      proxy = await Pkcs11Module.load(PROXY!);
    } finally {
      for (const f of written) fs.rmSync(f, { force: true }); // read at C_Initialize: not needed any more
    }
    token = await proxy.openToken({ tokenLabel: LABEL }, { pin: USER_PIN, poolSize: 2 });
    mechs = new Map((await token.mechanisms()).map((m) => [m.type, m]));
  });

  afterAll(async () => {
    for (const f of written) fs.rmSync(f, { force: true });
    await proxy?.close();
  });

  test('the module files are gone after C_Initialize; only this program saw the token', async () => {
    expect(written.filter((f) => fs.existsSync(f))).toEqual([]);
    // "No slots", or only the system's own p11-kit modules (p11-kit-trust once ca-certificates is installed).
    expect(otherProgram).toMatch(/No slots|Available slots/);
    expect(otherProgram).not.toContain(LABEL);
    expect(otherProgram).not.toMatch(/SoftHSM/);
    expect((await proxy.slots()).map(tokenView)).toEqual(direct.slots.map(tokenView));
  });

  test('C_GetInfo names the proxy, never the vendor; no C_GetInterface (p11-kit 0.24)', async () => {
    expect(direct.manufacturer).toBe('SoftHSM');
    expect(await proxy.info()).toMatchObject({
      manufacturerID: 'PKCS#11 Kit',
      libraryDescription: 'PKCS#11 Kit Proxy Module',
      cryptokiVersion: { major: 2, minor: 40 },
    });
    expect(proxy.describe()).toMatchObject({ viaGetInterface: false, ownsInitialization: true });
    expect([token.manufacturerID, token.model]).toEqual(['SoftHSM project', 'SoftHSM v2']);
  });

  test('slot IDs are renumbered from 0x11; the slot descriptions still name SoftHSM IDs', async () => {
    const slots = await proxy.slots();
    expect(slots.map((s) => s.slot)).toEqual(direct.slots.map((_, i) => 0x11n + BigInt(i)));
    expect(slots.map((s) => s.description)).toEqual(direct.slots.map((s) => s.description));
    const directSlot = direct.slots.find((s) => s.token?.label === LABEL)!.slot;
    expect(token.slot).not.toBe(directSlot);
    expect(slots.find((s) => s.slot === token.slot)?.description).toBe(`SoftHSM slot ID 0x${directSlot.toString(16)}`);
  });

  test('the mechanism list passes through unchanged', async () => {
    expect((await token.mechanisms()).sort(byType)).toEqual(direct.mechanisms);
  });

  test.each(SPECS)(
    '%s: generated, found, signed with every listed mechanism, verified by node:crypto',
    async (name, spec) => {
      await conformancePass(token, mechs, name, spec, {
        vendor: 'p11-kit-proxy/SoftHSM2',
        label: LABEL,
        idPrefix: 'proxy-',
      });
    },
  );

  test("object capabilities are SoftHSM2's: data objects (CKA_VALUE read-only), CKA_ALLOWED_MECHANISMS kept and enforced", async () => {
    const raw = await rawSession(token.slot, { module: PROXY! });
    try {
      const target = { vendor: 'p11-kit-proxy/SoftHSM2', label: LABEL, idPrefix: 'proxy-' };
      await dataObjectPass(token, raw, SOFTHSM2_OBJECTS, target);
      await allowedMechanismsPass(token, raw, mechs, SOFTHSM2_OBJECTS, target);
    } finally {
      await raw.close();
    }
  });
});
