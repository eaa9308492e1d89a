#!/usr/bin/env node
// Cross-builds prebuilds/linux-arm64/hsm-jwks.node (what node-gyp-build finds on linux-arm64) on an
// x64 Debian host with g++-aarch64-linux-gnu and cmake/aarch64-linux-gnu.cmake, in build-arm64/
// (build/ and the x64 prebuild are left alone). Like build-prebuild.js it does nothing when the file
// is newer than every native source; `--force` rebuilds anyway. prebuildify is not used: it takes
// the addon from build/Release, the x64 build's directory; the file gets the name it would give a
// --napi build (`<package name>.node`, no tags), stripped like its --strip does.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { staleBecause } = require('./prebuild-staleness');

const TRIPLE = 'aarch64-linux-gnu';
const EM_AARCH64 = 183;
const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build-arm64');
const toolchain = path.join(root, 'cmake', `${TRIPLE}.cmake`);
const target = path.join(root, 'prebuilds', 'linux-arm64', 'hsm-jwks.node');
const sources = ['native', 'CMakeLists.txt', `cmake/${TRIPLE}.cmake`, 'scripts/build-prebuild-arm64.js'];

function fail(message) {
  console.error(`hsm-jwks: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return result;
}

/** ELF class, byte order and machine of `file`: a 64-bit little-endian AArch64 object or a failure. */
function checkAarch64Elf(file) {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) fail(`${file} is not an ELF file`);
  if (header[4] !== 2 || header[5] !== 1) fail(`${file} is not a 64-bit little-endian ELF file`);
  const machine = header.readUInt16LE(18);
  if (machine !== EM_AARCH64) fail(`${file} is for ELF machine ${machine}, not AArch64 (${EM_AARCH64})`);
}

/** The highest version the file needs of each versioned library (GLIBC_2.34, GLIBCXX_3.4.30, ...). */
function requiredVersions(file) {
  const dump = run(`${TRIPLE}-objdump`, ['-T', file], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const highest = new Map();
  for (const [, name, version] of dump.stdout.matchAll(/\b(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9.]+)\b/g)) {
    const known = highest.get(name);
    const newer = known === undefined || known.localeCompare(version, 'en', { numeric: true }) < 0;
    if (newer) highest.set(name, version);
  }
  return [...highest].map(([name, version]) => `${name}_${version}`).join(' ');
}

const reason = staleBecause(root, target, sources);
if (reason === undefined) {
  console.log(`hsm-jwks: ${path.relative(root, target)} is up to date`);
  process.exit(0);
}
console.log(`hsm-jwks: cross-building ${path.relative(root, target)} (${reason})`);
const started = process.hrtime.bigint();
if (spawnSync(`${TRIPLE}-g++`, ['--version'], { stdio: 'ignore' }).status !== 0) {
  fail(`${TRIPLE}-g++ not found: apt-get install g++-${TRIPLE} (scripts/test-arm64.sh installs it)`);
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
// A clean build, as prebuildify's is; the directory ignores itself so that git and biome skip it.
fs.rmSync(buildDir, { recursive: true, force: true });
fs.mkdirSync(buildDir);
fs.writeFileSync(path.join(buildDir, '.gitignore'), '# scripts/build-prebuild-arm64.js\n*\n');
run(process.execPath, [
  cmakeJs,
  'build',
  '--out',
  buildDir,
  '--arch',
  'arm64',
  `--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`,
  '--log-level',
  'warn',
]);
const built = path.join(buildDir, 'Release', 'hsm_jwks.node');
if (!fs.existsSync(built)) fail(`cmake-js made no ${path.relative(root, built)}`);
checkAarch64Elf(built);

// Strip into a temporary file beside the target, then rename: node-gyp-build never sees half a file.
fs.mkdirSync(path.dirname(target), { recursive: true });
const partial = `${target}.partial`;
run(`${TRIPLE}-strip`, ['--strip-all', '-o', partial, built]);
checkAarch64Elf(partial);
fs.renameSync(partial, target);

const bytes = fs.readFileSync(target);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(
  `hsm-jwks: ${path.relative(root, target)}: AArch64 ELF, ${bytes.length} bytes, built in ${seconds.toFixed(1)} s`,
);
console.log(`hsm-jwks: sha256 ${crypto.createHash('sha256').update(bytes).digest('hex')}`);
console.log(`hsm-jwks: needs ${requiredVersions(target)}`);
