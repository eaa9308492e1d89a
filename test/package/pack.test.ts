// The published package works without a compiler: `npm pack`, install the tarball into an empty
// project with --ignore-scripts, load it and sign (the prebuild is used). Its install script uses
// the prebuild when it matches and otherwise compiles with cmake-js, never node-gyp.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { execFileSync } from '../helpers/leak-collector';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const root = path.join(__dirname, '..', '..');
const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'hsm-jwks.node');
let work: string;
let project: string;
let installed: string;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function consumerSign(): { verified: boolean; entry: string } {
  const out = run(process.execPath, ['consumer-sign.js', SOFTHSM_MODULE, 'packed', USER_PIN], project);
  return JSON.parse(out.trim().split('\n').pop()!);
}

beforeAll(() => {
  if (!fs.existsSync(prebuild)) {
    throw new Error(
      `${path.relative(root, prebuild)} is missing: run \`npm run build\` (npm test does) before this test`,
    );
  }
  softHsm().initToken('packed');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-pack-'));
  project = path.join(work, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
  );
  // The consumer's script lives in the consumer project, so require('hsm-jwks') finds the install.
  fs.copyFileSync(path.join(root, 'test', 'fixtures', 'consumer-sign.js'), path.join(project, 'consumer-sign.js'));
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop()!;
  run(
    'npm',
    ['install', path.join(work, tarball), '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    project,
  );
  installed = path.join(project, 'node_modules', 'hsm-jwks');
}, 240_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the prebuild, the typings and the sources, not the build tree', () => {
  expect(fs.existsSync(path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`, 'hsm-jwks.node'))).toBe(
    true,
  );
  expect(fs.existsSync(path.join(installed, 'dist', 'lib', 'index.d.ts'))).toBe(true);
  expect(fs.existsSync(path.join(installed, 'dist', 'binding.d.ts'))).toBe(true);
  expect(fs.existsSync(path.join(installed, 'native', 'cryptoki.h'))).toBe(true);
  expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  expect(fs.existsSync(path.join(installed, 'test'))).toBe(false);
});

test('installed with --ignore-scripts (no compiler), it loads the prebuild and signs', () => {
  expect(consumerSign()).toEqual({ verified: true, entry: path.join(installed, 'dist', 'lib', 'index.js') });
});

test('the published typings resolve and type-check in a consumer project', () => {
  fs.copyFileSync(path.join(root, 'test', 'fixtures', 'consumer-types.ts'), path.join(project, 'consumer-types.ts'));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--module', 'commonjs', '--target', 'es2022', '--skipLibCheck', 'false'];
  const types = ['--typeRoots', path.join(root, 'node_modules', '@types'), '--types', 'node'];
  expect(() => run(process.execPath, [tsc, ...flags, ...types, 'consumer-types.ts'], project)).not.toThrow();
});

test('the published typings also type-check with node16 resolution (the exports map)', () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = [
    '--noEmit',
    '--strict',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
  ];
  const types = ['--typeRoots', path.join(root, 'node_modules', '@types'), '--types', 'node'];
  expect(() => run(process.execPath, [tsc, ...flags, ...types, 'consumer-types.ts'], project)).not.toThrow();
});

test('CommonJS and ES module consumers load the package and its oidc-provider subpath', () => {
  fs.writeFileSync(
    path.join(project, 'load.cjs'),
    "const h = require('hsm-jwks'); const o = require('hsm-jwks/oidc-provider');\n" +
      'console.log(JSON.stringify([typeof h.createKeyManager, typeof h.Pkcs11Module, typeof o.providerKeys]));\n',
  );
  fs.writeFileSync(
    path.join(project, 'load.mjs'),
    "import { createKeyManager, Pkcs11Module } from 'hsm-jwks';\nimport { providerKeys } from 'hsm-jwks/oidc-provider';\n" +
      'console.log(JSON.stringify([typeof createKeyManager, typeof Pkcs11Module, typeof providerKeys]));\n',
  );
  const expected = JSON.stringify(['function', 'function', 'function']);
  expect(run(process.execPath, ['load.cjs'], project).trim()).toBe(expected);
  expect(run(process.execPath, ['load.mjs'], project).trim()).toBe(expected);
  // Only what the exports map names is reachable.
  expect(() => run(process.execPath, ['-e', "require('hsm-jwks/dist/lib/keys/key-ring')"], project)).toThrow(
    /ERR_PACKAGE_PATH_NOT_EXPORTED/,
  );
});

test('the install script uses the matching prebuild', () => {
  expect(run(process.execPath, ['scripts/install.js'], installed)).toMatch(/using prebuilds\/.*hsm-jwks\.node/);
  expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
});

test('without a matching prebuild the install script compiles with cmake-js', () => {
  fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true });
  expect(run(process.execPath, ['scripts/install.js'], installed)).toMatch(/compiling with cmake-js/);
  expect(fs.existsSync(path.join(installed, 'build', 'Release', 'hsm_jwks.node'))).toBe(true);
  expect(consumerSign().verified).toBe(true);
}, 240_000);
