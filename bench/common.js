'use strict';
// What the bench scripts share: a command-line option reader and a throwaway SoftHSM2 token.
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
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '0000', '--pin', '1234'], { env, stdio: 'ignore' });
  return { module: SOFTHSM_MODULE, label, pin: '1234', dir, conf, env };
}

module.exports = { arg, makeSoftHsmToken, SOFTHSM_MODULE };
