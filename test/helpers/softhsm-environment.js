'use strict';
// Jest test environment: gives every test file a fresh SoftHSM2 token directory. SoftHSM reads
// SOFTHSM2_CONF from the real process environment in C_Initialize, and jest hands tests a copy of
// process.env, so the variable is set here, outside the sandbox, before the file's tests run.
// Tests therefore never touch /var/lib/softhsm, and files run in parallel in separate workers.
// For the leak check (leak-collector.ts, global-teardown.ts) it also records, while the file runs,
// everything this worker writes to stdout and stderr (pino included) or to console, and every error
// a test or hook fails with, and lists the file with its test counts in the run's collection directory.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { TestEnvironment } = require('jest-environment-node');

const LEAK_DIR_ENV = 'HSM_JWKS_LEAK_DIR';

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
    this.testConsole = context.console;
    this.counts = { passed: 0, failed: 0, skipped: 0 };
    this.restore = [];
  }

  record(cat, source, text) {
    const dir = process.env[LEAK_DIR_ENV];
    if (!dir || !text) return;
    const line = JSON.stringify({ cat, file: this.testPath, source, text });
    fs.appendFileSync(path.join(dir, `records-${process.pid}.jsonl`), `${line}\n`);
  }

  async setup() {
    await super.setup();
    // Line by line, so that a secret is never split between two records.
    const tee = (source) => {
      let pending = '';
      const push = (chunk) => {
        if (typeof chunk === 'string') pending += chunk;
        else if (ArrayBuffer.isView(chunk))
          pending += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const line of lines) this.record('log', source, line);
      };
      this.restore.push(() => this.record('log', source, pending));
      return push;
    };
    for (const [name, fd] of [
      ['stdout', 1],
      ['stderr', 2],
    ]) {
      const stream = process[name];
      const write = stream.write;
      const push = tee(name);
      stream.write = function (chunk, ...rest) {
        try {
          push(chunk);
        } catch {
          // never break the write itself
        }
        return write.call(this, chunk, ...rest);
      };
      this.restore.push(() => (stream.write = write));
      // pino.destination(2) (SonicBoom) writes to the file descriptor, not through the stream.
      const fdPush = tee(`fd ${fd}`);
      for (const fn of ['writeSync', 'write']) {
        const original = fs[fn];
        fs[fn] = function (target, data, ...rest) {
          if (target === fd && data !== undefined && typeof data !== 'number') {
            try {
              fdPush(data);
            } catch {
              // never break the write itself
            }
          }
          return original.call(this, target, data, ...rest);
        };
        for (const symbol of Object.getOwnPropertySymbols(original)) fs[fn][symbol] = original[symbol]; // promisify
        this.restore.push(() => (fs[fn] = original));
      }
    }
  }

  handleTestEvent(event) {
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      // Assertion failures quote expected values (test data); what they received was recorded
      // when it reached expect (leak-setup.ts) or a helper. Anything else thrown is recorded here.
      const e = event.error;
      if (!(e && typeof e === 'object' && 'matcherResult' in e)) {
        let props = '';
        try {
          props = JSON.stringify(e, e && typeof e === 'object' ? Object.getOwnPropertyNames(e) : undefined);
        } catch {
          // circular or bigint: inspect below still shows it
        }
        this.record('error', event.name, `${util.inspect(e, { depth: 8, breakLength: Infinity })}\n${props}`);
      }
    } else if (event.name === 'test_done') {
      this.counts[event.test.errors.length > 0 ? 'failed' : 'passed'] += 1;
    } else if (event.name === 'test_skip' || event.name === 'test_todo') {
      this.counts.skipped += 1;
    }
  }

  async teardown() {
    // Output of children the file started and did not wait for (leak-collector.ts spawn).
    const pending = this.global.__leakPendingChildren?.() ?? [];
    await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const undo of this.restore.reverse()) undo();
    // What the file wrote to console (jest buffers it, with the call site, for its report).
    for (const { type, message } of this.testConsole?.getBuffer?.() ?? [])
      this.record('log', `console.${type}`, message);
    const dir = process.env[LEAK_DIR_ENV];
    if (dir)
      fs.appendFileSync(
        path.join(dir, `files-${process.pid}.jsonl`),
        `${JSON.stringify({ file: this.testPath, ...this.counts })}\n`,
      );
    fs.rmSync(this.softhsmDir, { recursive: true, force: true });
    await super.teardown();
  }
}

module.exports = SoftHsmEnvironment;
