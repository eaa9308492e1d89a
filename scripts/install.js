#!/usr/bin/env node
// Install step: use a prebuild that matches this platform (prebuilds/<platform>-<arch>/, found by
// node-gyp-build), or a local build; otherwise compile with cmake-js (never node-gyp, which is what
// node-gyp-build's own install fallback would run).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

function existingBinary() {
  try {
    return require('node-gyp-build').path(root);
  } catch {
    return undefined;
  }
}

const found = existingBinary();
if (found) {
  console.log(`hsm-jwks: using ${path.relative(root, found)}`);
  process.exit(0);
}
console.log(
  `hsm-jwks: no prebuild for ${process.platform}-${process.arch}; compiling with cmake-js (needs cmake and a C++17 compiler)`,
);
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('hsm-jwks: cmake-js is not installed, cannot compile the native addon');
  process.exit(1);
}
const result = spawnSync(process.execPath, [cmakeJs, 'rebuild', '--log-level', 'warn'], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status === null ? 1 : result.status);
