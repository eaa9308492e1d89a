'use strict';
// Jest test environment: gives every test file a fresh SoftHSM2 token directory. SoftHSM reads
// SOFTHSM2_CONF from the real process environment in C_Initialize, and jest hands tests a copy of
// process.env, so the variable is set here, outside the sandbox, before the file's tests run.
// Tests therefore never touch /var/lib/softhsm, and files run in parallel in separate workers.
// While the file runs, what the process writes to stdout and stderr is recorded for the secret-leak
// check (secret-leak-worker-output.js).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');
const { recordWorkerOutput } = require('./secret-leak-worker-output');

class SoftHsmEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.softhsmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-test-'));
    fs.mkdirSync(path.join(this.softhsmDir, 'tokens'));
    const conf = path.join(this.softhsmDir, 'softhsm2.conf');
    fs.writeFileSync(
      conf,
      [
        `directories.tokendir = ${path.join(this.softhsmDir, 'tokens')}`,
        'objectstore.backend = file',
        'log.level = ERROR',
        'slots.removable = false',
        'slots.mechanisms = ALL',
        'library.reset_on_fork = false',
        '',
      ].join('\n'),
    );
    process.env.SOFTHSM2_CONF = conf;
    this.global.process.env.SOFTHSM2_CONF = conf;
    // The fault-injecting module (test/fault-module) reads its control file from here, per call.
    const control = path.join(this.softhsmDir, 'fault-control');
    process.env.FAULT_CONTROL = control;
    this.global.process.env.FAULT_CONTROL = control;
    // ...and appends every C_Login and C_Initialize to this file.
    const log = path.join(this.softhsmDir, 'fault-calls.log');
    process.env.FAULT_LOG = log;
    this.global.process.env.FAULT_LOG = log;
    this.testPath = context.testPath;
  }

  async setup() {
    await super.setup();
    this.stopRecordingOutput = recordWorkerOutput(this.testPath);
  }

  async teardown() {
    this.stopRecordingOutput?.();
    fs.rmSync(this.softhsmDir, { recursive: true, force: true });
    await super.teardown();
  }
}

module.exports = SoftHsmEnvironment;
