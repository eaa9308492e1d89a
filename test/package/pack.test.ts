// The published package works without a compiler: `npm pack`, install the tarball into an empty
// project with --ignore-scripts, load it and sign (the prebuild is used). Its install script uses
// the prebuild when it matches and otherwise compiles with cmake-js, never node-gyp.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { execFileSync } from '../helpers/recording-child-process';
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

const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPES = ['--typeRoots', path.join(root, 'node_modules', '@types'), '--types', 'node'];
/** The compiler options of a consumer project by module resolution: `typesVersions` (node10) or `exports`. */
const RESOLUTION: Record<'node10' | 'nodenext' | 'bundler', string[]> = {
  // esModuleInterop as `tsc --init` sets it: `hsm-jwks/server`'s typings reach fastify's and pino's, which need it.
  node10: ['--module', 'commonjs', '--esModuleInterop', '--skipLibCheck', 'false'],
  nodenext: ['--module', 'nodenext', '--moduleResolution', 'nodenext'],
  bundler: ['--module', 'esnext', '--moduleResolution', 'bundler'],
};

/** tsc on fixtures copied into the consumer project; its diagnostics when it fails. */
function typeCheck(resolution: keyof typeof RESOLUTION, ...fixtures: string[]): string {
  for (const f of fixtures) fs.copyFileSync(path.join(root, 'test', 'fixtures', f), path.join(project, f));
  const flags = ['--noEmit', '--strict', '--target', 'es2022', ...RESOLUTION[resolution], ...TYPES];
  try {
    run(process.execPath, [tsc, ...flags, ...fixtures], project);
    return '';
  } catch (e) {
    return `${(e as { stdout?: string }).stdout ?? ''}${(e as Error).message}`;
  }
}

test('the published typings resolve and type-check in a consumer project', () => {
  expect(typeCheck('node10', 'consumer-types.ts')).toBe('');
});

test('the published typings also type-check with node16 resolution (the exports map)', () => {
  expect(typeCheck('nodenext', 'consumer-types.ts')).toBe('');
});

// The type-level test of the package (as jose's test-d): every subpath's typings, the key manager's
// parts, and what must not compile (each `@ts-expect-error` must still error).
test.each(['node10', 'nodenext', 'bundler'] as const)(
  'every subpath type-checks, and what must not compile does not (%s resolution)',
  (resolution) => {
    expect(typeCheck(resolution, 'consumer-types-subpaths.ts')).toBe('');
  },
);

test.each(['nodenext', 'bundler'] as const)(
  'what the exports map does not name does not resolve for the type checker (%s)',
  (resolution) => {
    expect(typeCheck(resolution, 'consumer-types-exports.ts')).toBe('');
  },
);

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

/** One export of each subpath, and one its classes share with the root entry (null: none). */
const SUBPATHS = {
  pkcs11: ['Pkcs11Module', 'Pkcs11Module'],
  jose: ['hsmSigner', 'JoseError'],
  store: ['openKeyStore', 'StoreError'],
  keys: ['createKeyManager', 'KeyManagerError'],
  server: ['startService', null],
  'oidc-provider': ['watchProviderKeys', null],
} as const;

test('every subpath loads from CommonJS and ES modules, with the same classes as the root entry', () => {
  const entries = Object.entries(SUBPATHS);
  const report = (load: (spec: string) => string) =>
    `const root = ${load('hsm-jwks')};\nconst out = {};\n` +
    entries
      .map(
        ([sub, [fn, shared]], i) =>
          `const m${i} = ${load(`hsm-jwks/${sub}`)};\n` +
          `out[${JSON.stringify(sub)}] = [typeof m${i}.${fn}, ${shared ? `m${i}.${shared} === root.${shared}` : 'null'}, Object.keys(m${i}).length > 0];\n`,
      )
      .join('') +
    'console.log(JSON.stringify(out));\n';
  fs.writeFileSync(
    path.join(project, 'subpaths.cjs'),
    report((spec) => `require(${JSON.stringify(spec)})`),
  );
  fs.writeFileSync(
    path.join(project, 'subpaths.mjs'),
    report((spec) => `await import(${JSON.stringify(spec)})`),
  );
  const expected = Object.fromEntries(
    entries.map(([sub, [, shared]]) => [sub, ['function', shared ? true : null, true]]),
  );
  expect(JSON.parse(run(process.execPath, ['subpaths.cjs'], project))).toEqual(expected);
  expect(JSON.parse(run(process.execPath, ['subpaths.mjs'], project))).toEqual(expected);
  // Named imports of every subpath from an ES module (Node finds CommonJS exports by static analysis).
  fs.writeFileSync(
    path.join(project, 'named.mjs'),
    entries.map(([sub, [fn]], i) => `import { ${fn} as f${i} } from 'hsm-jwks/${sub}';\n`).join('') +
      `console.log(JSON.stringify([${entries.map((_, i) => `typeof f${i}`).join(', ')}]));\n`,
  );
  expect(JSON.parse(run(process.execPath, ['named.mjs'], project))).toEqual(entries.map(() => 'function'));
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
