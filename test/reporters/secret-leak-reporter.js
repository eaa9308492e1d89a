'use strict';
// Jest reporter: the secret-leak check (docs/reliability.md#secrets). When the run starts it makes
// the collection directory the tests record into (test/helpers/secret-leak-recorder.ts); as each
// test file ends it adds what jest reports of it (test failures, console output); when the run ends
// it searches every record for every registered PIN and SECRETS_SYSTEM value (secret-finder.js),
// prints one summary line and fails the run on a hit, or when the records are too few to vouch for it.
// HSM_JWKS_KEEP_LEAK_COLLECTION=1 keeps the directory after a clean run (it is always kept after a failed one).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { inspect } = require('node:util');

const { MIN_SECRET_LENGTH, findSecret, maskSecrets } = require('./secret-finder');

const LEAK_DIR_ENV = 'HSM_JWKS_LEAK_DIR';
const CATEGORIES = ['log', 'error', 'cli', 'http'];

/**
 * What these test files record whenever all of their tests run and pass. If one records nothing
 * of such a category, its output no longer reaches the check (a spawn or fetch that bypasses the
 * recording helpers, a broken setup file) and a clean search would prove nothing.
 */
const ALWAYS_RECORDED = {
  'test/integration/cli.test.ts': ['cli'],
  'test/integration/start.test.ts': ['cli', 'log', 'http'],
  'test/integration/durability.test.ts': ['cli', 'http'],
  'test/integration/service.test.ts': ['http'],
  'test/integration/store.test.ts': ['error'],
  'test/unit/config.test.ts': ['error'],
  'test/bench/soak-faults.test.ts': ['cli', 'log'],
  'test/package/pack.test.ts': ['cli'],
  'test/native/vendor-p11kit.test.ts': ['cli'],
  'test/unit/secret-leak-check.test.ts': ['error', 'cli'],
};

function readJsonl(dir, prefix) {
  if (!dir || !fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.jsonl'))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    );
}

/** An error as jest hands it to reporters: its inspection and every own property. */
function describeError(e) {
  let props = '';
  try {
    props = JSON.stringify(e, e && typeof e === 'object' ? Object.getOwnPropertyNames(e) : undefined);
  } catch {
    // circular or a bigint: the inspection still shows it
  }
  return `${inspect(e, { depth: 8, breakLength: Infinity })}\n${props}`;
}

/** Records of jest's result for one test file: console output, and failures other than failed assertions. */
function recordsOf(result) {
  const file = result.testFilePath;
  const records = (result.console ?? []).map(({ type, message }) => ({
    cat: 'log',
    file,
    source: `console.${type}`,
    text: message,
  }));
  if (result.testExecError)
    records.push({ cat: 'error', file, source: 'test file failed to run', text: describeError(result.testExecError) });
  for (const test of result.testResults) {
    test.failureMessages.forEach((message, i) => {
      const detail = test.failureDetails[i];
      // A failed assertion prints the test's own expected values (test data); what it received
      // reached the records when it was handed to expect (secret-leak-setup.ts).
      if (detail && typeof detail === 'object' && 'matcherResult' in detail) return;
      const text = `${message}\n${describeError(detail)}`;
      records.push({ cat: 'error', file, test: test.fullName, source: 'test failure', text });
    });
  }
  return records;
}

/** The check itself: {summary, problems}; no problems means a clean run. */
function checkRun(dir, testResults, rootDir) {
  const relative = (f) => (path.isAbsolute(f) ? path.relative(rootDir, f) : f);
  const secrets = new Map();
  for (const s of readJsonl(dir, 'secrets-'))
    if (s.value.length >= MIN_SECRET_LENGTH && !secrets.has(s.value)) secrets.set(s.value, s);
  const all = [...secrets.values()];
  const mask = (text) => maskSecrets(text, all);
  const records = readJsonl(dir, 'records-');

  const problems = [];
  const perCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  const seen = new Set();
  let bytes = 0;
  for (const r of records) {
    perCategory[r.cat] += 1;
    bytes += Buffer.byteLength(r.text);
    seen.add(`${relative(r.file)}\0${r.cat}`);
    for (const secret of all) {
      const hit = findSecret(r.text, secret.value);
      if (!hit) continue;
      const excerpt = r.text.slice(Math.max(0, hit.index - 160), hit.index + hit.length + 160);
      problems.push(
        `LEAK of ${secret.kind === 'pin' ? 'a PIN' : 'a SECRETS_SYSTEM value'} (${secret.label}, ${hit.form}) in ${r.cat === 'error' ? 'an' : 'a'} ${r.cat} record of ${relative(r.file)}` +
          `${r.test ? ` [${mask(r.test)}]` : ''} from ${mask(r.source)}:\n    …${mask(excerpt).replace(/\n/g, '\\n')}…`,
      );
    }
  }

  const ran = testResults.filter((f) => f.numPassingTests + f.numFailingTests > 0);
  if (ran.length > 0 && records.length === 0)
    problems.push(`${ran.length} test files ran but nothing was recorded in ${dir}: the check would pass vacuously`);
  if (ran.length > 0 && secrets.size === 0)
    problems.push(
      'no secret to search for (did test/helpers/secret-leak-setup.ts run?): the check would pass vacuously',
    );
  for (const f of ran) {
    // A filtered run (-t) need not reach every recording path, and a failed test fails the run anyway.
    if (f.numFailingTests > 0 || f.numPendingTests > 0 || f.numTodoTests > 0) continue;
    const file = relative(f.testFilePath);
    for (const cat of ALWAYS_RECORDED[file] ?? []) {
      if (!seen.has(`${file}\0${cat}`))
        problems.push(
          `${file} passed all its tests but recorded no ${cat} record: its output no longer reaches the secret-leak check`,
        );
    }
  }

  const pins = all.filter((s) => s.kind === 'pin').length;
  const summary =
    `secret-leak check: ${records.length} records (${(bytes / 1024).toFixed(0)} KiB; ${CATEGORIES.map((c) => `${c} ${perCategory[c]}`).join(', ')}) ` +
    `from ${ran.length} test files searched for ${secrets.size} secrets (${pins} PINs, ${secrets.size - pins} SECRETS_SYSTEM values; ` +
    `as is, hex, base64, byte list): ${problems.length === 0 ? 'none found' : `${problems.length} problem(s)`}`;
  return { summary, problems };
}

class SecretLeakReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunStart() {
    this.error = undefined;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-leak-check-'));
    // Jest starts the processes that run the tests after onRunStart; they inherit the variable.
    process.env[LEAK_DIR_ENV] = this.dir;
  }

  onTestResult(_test, testResult) {
    // Now: jest drops the console output of a result once the reporters have seen it.
    const lines = recordsOf(testResult).map((r) => `${JSON.stringify(r)}\n`);
    fs.appendFileSync(path.join(this.dir, 'records-jest-results.jsonl'), lines.join(''));
  }

  onRunComplete(_contexts, results) {
    const { summary, problems } = checkRun(this.dir, results.testResults, this.rootDir);
    process.stderr.write(`\n${summary}\n`);
    if (problems.length > 0) {
      this.error = new Error(
        `secret-leak check failed (the records are kept in ${this.dir}):\n  ${problems.join('\n  ')}`,
      );
      process.stderr.write(`${this.error.message}\n`);
    } else if (process.env.HSM_JWKS_KEEP_LEAK_COLLECTION) {
      process.stderr.write(`(the records are kept in ${this.dir})\n`);
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Jest fails the run (exit code 1) when a reporter returns an error here. */
  getLastError() {
    return this.error;
  }
}

module.exports = SecretLeakReporter;
module.exports.checkRun = checkRun;
module.exports.recordsOf = recordsOf;
