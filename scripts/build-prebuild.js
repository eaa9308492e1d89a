#!/usr/bin/env node
// Makes prebuilds/<platform>-<arch>/hsm-jwks.node (what the package ships and node-gyp-build finds)
// with prebuildify, but only when it is missing or older than a native source: prebuildify's
// compile is a clean `cmake-js rebuild` (about 50 s here), and `npm test` runs this every time.
// `--force` rebuilds anyway.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const { staleBecause } = require('./prebuild-staleness');

const root = path.join(__dirname, '..');
const target = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'hsm-jwks.node');
const sources = ['native', 'CMakeLists.txt', 'scripts/prebuild-compile.js'];

const reason = staleBecause(root, target, sources);
if (reason === undefined) {
  console.log(`hsm-jwks: ${path.relative(root, target)} is up to date`);
  process.exit(0);
}
console.log(`hsm-jwks: building ${path.relative(root, target)} (${reason})`);
const prebuildify = require.resolve('prebuildify/bin.js');
const args = [prebuildify, '--napi', '--strip', '--node-gyp', path.join(__dirname, 'prebuild-compile.js')];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status === null ? 1 : result.status);
