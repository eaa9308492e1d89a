'use strict';
// What the bench scripts share: a command-line option reader, a throwaway SoftHSM2 token, and the
// native helpers built with CMake (the raw C baseline, the network HSM simulator).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** The value after `--name` on the command line, or `fallback`. */
const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);

/**
 * A SoftHSM2 token in a new directory under `dir` (or a fresh temporary one named after `prefix`),
 * with user PIN 1234. `env` points SOFTHSM2_CONF at it, for child processes and for this one.
 */
function makeSoftHsmToken({ prefix = 'hsm-jwks-bench-', dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix)), label }) {
  fs.mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(
    conf,
    `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '0000', '--pin', '1234'], {
    env,
    stdio: 'ignore',
  });
  return { module: SOFTHSM_MODULE, label, pin: '1234', dir, conf, env };
}

const root = path.join(__dirname, '..');

/**
 * Configures and builds the CMake project in `source` into build/<name> (incremental: a no-op when
 * up to date); returns the path of `artifact` there, or undefined (with the reason said) on failure.
 */
function cmakeBuild(source, name, artifact, say = (m) => process.stderr.write(`${m}\n`)) {
  const build = path.join(root, 'build', name);
  try {
    execFileSync('cmake', ['-S', source, '-B', build, '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'ignore' });
    execFileSync('cmake', ['--build', build], { stdio: 'ignore' });
    return path.join(build, artifact);
  } catch (e) {
    say(`[bench] ${path.relative(root, source)} cannot be built (${e.message.split('\n')[0]})`);
    return undefined;
  }
}

/** The raw C baseline (bench/native/raw_sign.cc) in build/bench. */
const buildRawSign = (say) => cmakeBuild(path.join(__dirname, 'native'), 'bench', 'raw_sign', say);

/** The network HSM simulator (test/netsim) in build/netsim, as npm run build:test-tools builds it. */
const buildNetsim = (say) => cmakeBuild(path.join(root, 'test', 'netsim'), 'netsim', 'libnetsim_pkcs11.so', say);

/** The list in a random order (measurements interleaved, so drift hits every configuration alike). */
function shuffle(list) {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

module.exports = { arg, makeSoftHsmToken, buildRawSign, buildNetsim, shuffle, SOFTHSM_MODULE };
