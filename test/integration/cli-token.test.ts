// Tokens made without a PIN on any command line: `hsm-jwks token init`, `serve --dev` and
// scripts/dev-token.sh, run as child processes (the built dist/lib/cli/main.js) against SoftHSM2.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { registerSecret } from '../helpers/secret-leak-recorder';
import { spawn, spawnSync } from '../helpers/recording-child-process';
import { CLI, cliHarness } from '../helpers/cli';

const harness = cliHarness('first-secret-of-the-cli-token-tests', 'hsm-jwks-cli-token-');
const { env, cli } = harness;
let dir: string;
beforeAll(() => {
  dir = harness.dir();
});

test('token init: a token with random PINs in 0600 files, none on a command line or in the output', () => {
  const files = { pin: path.join(dir, 'tk', 'pin'), so: path.join(dir, 'tk', 'so-pin') };
  const args = ['token', 'init', '--label', 'made-by-cli', '--pin-file', files.pin, '--so-pin-file', files.so];
  const made = cli(args);
  expect(made.code).toBe(0);
  expect(made.json()).toMatchObject({ label: 'made-by-cli', existing: false, created: [files.so, files.pin] });
  for (const f of [files.pin, files.so]) {
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(made.stdout + made.stderr).not.toContain(fs.readFileSync(f, 'utf8').trim());
  }
  expect(cli(args).json()).toMatchObject({ label: 'made-by-cli', existing: true, created: [] });
  // The service's configuration takes the PIN file.
  const use = {
    HSM_TOKEN_LABEL: 'made-by-cli',
    HSM_PIN: '',
    HSM_PIN_FILE: files.pin,
    DSN: `sqlite://${path.join(dir, 'token-init.sqlite')}`,
  };
  expect(cli(['keys', 'create', 'on-made', '--alg', 'ES256', '--kid', 'm1'], use).code).toBe(0);
  // Reset with the kept SO PIN: the token is empty again.
  const reset = cli([...args, '--reset']);
  expect(reset.code).toBe(0);
  expect(reset.json()).toMatchObject({ existing: false, serialNumber: made.json().serialNumber, created: [] });
  expect(cli(['keys', 'get', 'on-made'], use).code).toBe(1);
  expect(cli(['keys', 'list'], use).code).toBe(0); // the same user PIN opens it
  const wrongSo = path.join(dir, 'tk', 'wrong-so-pin');
  fs.writeFileSync(wrongSo, 'not-the-so-pin\n', { mode: 0o600 });
  const refused = cli([
    'token',
    'init',
    '--label',
    'made-by-cli',
    '--pin-file',
    files.pin,
    '--so-pin-file',
    wrongSo,
    '--reset',
  ]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('ERR_PKCS11_PIN_INCORRECT');
  // Resetting a label no token has: the error names the tokens that are there.
  const absent = cli([
    'token',
    'init',
    '--label',
    'no-such',
    '--pin-file',
    files.pin,
    '--so-pin-file',
    files.so,
    '--reset',
  ]);
  expect(absent.code).toBe(1);
  expect(absent.stderr).toContain('ERR_TOKEN_NOT_FOUND');
  expect(absent.stderr).toContain('"made-by-cli" (serial');
  expect(cli(['token', 'init', '--label', 'x', '--pin-file', files.pin]).code).toBe(2); // no --so-pin-file
  expect(
    cli(['token', 'init', '--label', 'x', '--pin-file', files.pin, '--so-pin-file', path.join(dir, 'none'), '--reset'])
      .code,
  ).toBe(2);
});

test('serve --dev initialises its token through the module: no PIN on any command line, the SO PIN kept 0600', async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-dev-'));
  const noTools = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-path-')); // no softhsm2-util on PATH
  const start = async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--dev'], {
      cwd,
      env: { PATH: noTools, SERVE_PUBLIC_PORT: '0', SERVE_ADMIN_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "serving" line within 60 s:\n${stderr}`)), 60_000);
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('serving http')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${stderr}`)));
    });
    return { child, stderr: () => stderr };
  };
  try {
    const first = await start();
    const pinFile = path.join(cwd, 'data', 'softhsm', 'pin');
    const soPinFile = path.join(cwd, 'data', 'softhsm', 'so-pin');
    for (const f of [pinFile, soPinFile]) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const pins = [pinFile, soPinFile].map((f) => fs.readFileSync(f, 'utf8').trim());
    expect(pins[0]).not.toBe(pins[1]);
    registerSecret('pin', 'the development user PIN of this test', pins[0]);
    registerSecret('pin', 'the development SO PIN of this test', pins[1]);
    // Every process's command line, while the service runs.
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmdline = '';
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // gone
      }
      for (const pin of pins) expect(cmdline.includes(pin)).toBe(false);
    }
    expect(first.stderr()).toMatch(/development SoftHSM2 token .*hsm-jwks-dev.*initialised now/);
    const stopped = new Promise((resolve) => first.child.on('exit', resolve));
    first.child.kill('SIGTERM');
    await stopped;
    // Started again: the same token, the same PINs.
    const second = await start();
    expect(second.stderr()).toMatch(/development SoftHSM2 token .*hsm-jwks-dev.*existing/);
    expect([pinFile, soPinFile].map((f) => fs.readFileSync(f, 'utf8').trim())).toEqual(pins);
    for (const out of [first.stderr(), second.stderr()]) for (const pin of pins) expect(out).not.toContain(pin);
    const again = new Promise((resolve) => second.child.on('exit', resolve));
    second.child.kill('SIGTERM');
    await again;
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
    fs.rmSync(noTools, { recursive: true, force: true });
  }
}, 120_000);

test('scripts/dev-token.sh: a token with PINs in 0600 files, nothing on a command line, an environment that works', () => {
  const devDir = path.join(dir, 'dev-token');
  const script = path.join(__dirname, '..', '..', 'scripts', 'dev-token.sh');
  const run = () =>
    spawnSync('bash', ['-c', `eval "$(bash '${script}')" && '${process.execPath}' '${CLI}' keys list`], {
      env: {
        ...env(),
        HSM_DEV_DIR: devDir,
        HSM_TOKEN_LABEL: '',
        HSM_PIN: '',
        DSN: `sqlite://${path.join(dir, 'dev-token.sqlite')}`,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const first = run();
  expect(first.status).toBe(0);
  expect(first.stdout.trim()).toBe('[]');
  for (const f of ['pin', 'so-pin']) {
    expect(fs.statSync(path.join(devDir, f)).mode & 0o777).toBe(0o600);
    registerSecret('pin', `dev-token.sh's ${f}`, fs.readFileSync(path.join(devDir, f), 'utf8').trim());
  }
  expect(fs.readFileSync(script, 'utf8')).not.toMatch(/softhsm2-util[^\n]*--pin/);
  expect(run().status).toBe(0); // idempotent: the same token
});
