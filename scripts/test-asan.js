#!/usr/bin/env node
// Runs the native test suite against the AddressSanitizer + UBSan build of the addon
// (build-asan/Release/hsm_jwks.node, made by `npm run build:asan`). ASan must be the first
// library loaded, so node runs with LD_PRELOAD; RTLD_DEEPBIND is incompatible with ASan, so the
// modules load without it. Leak detection is off (Node itself is not leak-clean at exit); any
// memory error or undefined behaviour in the addon aborts the run.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const asan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
const ubsan = execFileSync('gcc', ['-print-file-name=libubsan.so'], { encoding: 'utf8' }).trim();
const env = {
  ...process.env,
  LD_PRELOAD: `${asan} ${ubsan}`,
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  HSM_JWKS_ADDON_PATH: path.join(root, 'build-asan', 'Release', 'hsm_jwks.node'),
  HSM_JWKS_DEEPBIND: '0',
};
// Left out: deepbind (it loads with RTLD_DEEPBIND on purpose) and the packed tarball (it installs
// and loads the regular build). Child processes the tests start (node scripts against the addon)
// inherit this environment, so they run under the sanitizers too.
// Arguments replace the default selection (`node scripts/test-asan.js test/native/sign-engine.test.ts
// -t close` runs one test), for checking one fix without the whole run.
const ignore = ['deepbind', 'package', 'bench'];
const selection = process.argv.length > 2 ? process.argv.slice(2) : ['test/native', 'test/unit'];
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const r = spawnSync(process.execPath, [jest, ...selection, '--testPathIgnorePatterns', ...ignore], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
