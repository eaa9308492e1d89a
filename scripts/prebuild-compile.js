#!/usr/bin/env node
// prebuildify only knows how to drive node-gyp: it runs `<this script> rebuild --target=… --release`.
// We build with cmake-js instead (Node-API only, against node-api-headers: nothing is downloaded),
// into build/Release where prebuildify picks the .node file up.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const debug = process.argv.includes('--debug');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'rebuild', '--log-level', 'warn', ...(debug ? ['--debug'] : [])];
const result = spawnSync(process.execPath, args, { cwd: path.join(__dirname, '..'), stdio: 'inherit' });
process.exit(result.status === null ? 1 : result.status);
