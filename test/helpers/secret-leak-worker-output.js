'use strict';
// The secret-leak check (docs/reliability.md#secrets): what the process running a test file writes
// to its stdout and stderr while the file runs, recorded line by line (so that a secret is never
// cut in two) as log records of the file. softhsm-environment.js calls it around every file. The
// record format is secret-leak-recorder.ts's.
const fs = require('node:fs');
const path = require('node:path');

const LEAK_DIR_ENV = 'HSM_JWKS_LEAK_DIR';

/** Starts recording; returns the function that stops it (and records the last, unfinished line). */
function recordWorkerOutput(testPath) {
  const dir = process.env[LEAK_DIR_ENV];
  if (!dir) return () => {};
  const record = (source, text) => {
    if (text)
      fs.appendFileSync(
        path.join(dir, `records-${process.pid}.jsonl`),
        `${JSON.stringify({ cat: 'log', file: testPath, source, text })}\n`,
      );
  };
  const undo = [];
  const lineRecorder = (source) => {
    let partial = '';
    undo.push(() => record(source, partial));
    return (chunk) => {
      if (typeof chunk === 'string') partial += chunk;
      else if (ArrayBuffer.isView(chunk))
        partial += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const line of lines) record(source, line);
    };
  };
  const intercept = (object, method, recordIf) => {
    const original = object[method];
    object[method] = function (...args) {
      try {
        recordIf(args);
      } catch {
        // never break the write itself
      }
      return original.apply(this, args);
    };
    // util.promisify(fs.write) looks for a symbol on the function
    for (const symbol of Object.getOwnPropertySymbols(original)) object[method][symbol] = original[symbol];
    undo.push(() => (object[method] = original));
  };

  for (const [name, fd] of [
    ['stdout', 1],
    ['stderr', 2],
  ]) {
    const viaStream = lineRecorder(name);
    intercept(process[name], 'write', ([chunk]) => viaStream(chunk));
    // pino's destination (SonicBoom) writes to the file descriptor with fs.write/fs.writeSync,
    // never through process.stdout or process.stderr, and Node has no other way to see a write to a
    // descriptor: the two fs functions are wrapped while the file runs, for fds 1 and 2 only.
    const viaFd = lineRecorder(`fd ${fd}`);
    for (const method of ['write', 'writeSync']) {
      intercept(fs, method, ([target, data]) => {
        if (target === fd && data !== undefined && typeof data !== 'number') viaFd(data);
      });
    }
  }
  return () => {
    for (const step of undo.reverse()) step();
  };
}

module.exports = { recordWorkerOutput };
