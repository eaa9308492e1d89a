// The secret-leak check itself: a secret in a record (as is or encoded) is flagged with the secret
// masked, a clean collection is not, one too empty cannot vouch for the run, and in this very run
// what a test sees does reach the collection.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';
import { LEAK_DIR_ENV, type LeakRecord, type SecretRecord } from '../helpers/secret-leak-recorder';
import SecretLeakReporter from '../reporters/secret-leak-reporter';

// Planted values of this test only: no helper exports or registers them.
const PIN = '8642';
const SECRET = 'planted-secret-for-the-detector';
const SECRETS: SecretRecord[] = [
  { kind: 'pin', label: 'the planted PIN', value: PIN },
  { kind: 'secret', label: 'the planted secret', value: SECRET },
];
const root = path.join(__dirname, '..', '..');

/** A file's result as jest gives it to reporters: all tests passed. */
const passed = (file: string): SecretLeakReporter.FileResult => ({
  testFilePath: path.join(root, file),
  numPassingTests: 1,
  numFailingTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
  testResults: [],
});

/** checkRun on cli records of `texts` and what the reporter records of `results`, with `secrets` registered. */
function check(texts: string[], results: SecretLeakReporter.FileResult[] = [], secrets = SECRETS) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-leak-unit-'));
  const line = (r: object) => `${JSON.stringify(r)}\n`;
  const file = path.join(root, 'test/x.test.ts');
  const records: object[] = [
    ...texts.map((text): LeakRecord => ({ cat: 'cli', file, source: `node main.js --pin ${PIN}`, text })),
    ...results.flatMap(SecretLeakReporter.recordsOf),
  ];
  fs.writeFileSync(path.join(dir, 'records-1.jsonl'), records.map(line).join(''));
  fs.writeFileSync(path.join(dir, 'secrets-1.jsonl'), secrets.map(line).join(''));
  try {
    return SecretLeakReporter.checkRun(dir, results, root);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a clean collection passes, and numbers that merely contain the PIN are not the PIN', () => {
  const r = check([
    '{"level":40,"msg":"done in 18642 ms"}',
    'rate 0.8642 and 8642.5 per second, port 38642, id 86421',
    'ok',
  ]);
  expect(r.problems).toEqual([]);
  expect(r.summary).toMatch(
    /^secret-leak check: 3 records .* searched for 2 secrets \(1 PINs, 1 SECRETS_SYSTEM values.*none found$/,
  );
});

test.each([
  ['the PIN as is', `C_Login failed for pin "${PIN}"`],
  ['the secret as is', `opening the store with ${SECRET} failed`],
  ['the secret inside a longer word', `x${SECRET}y`],
  ['the PIN as hex', `template ${Buffer.from(PIN).toString('hex')}`],
  ['the PIN as Buffer inspect', `<Buffer 00 ${Buffer.from(PIN).toString('hex').match(/../g)!.join(' ')}>`],
  ['the secret as base64', `{"k":"${Buffer.from(SECRET).toString('base64')}"}`],
  ['the secret as base64url', `k=${Buffer.from(SECRET).toString('base64url')}`],
  ['the PIN as a JSON byte list', `{"type":"Buffer","data":[${[...Buffer.from(PIN)].join(',')}]}`],
])('%s is flagged, masked', (_what, leaky) => {
  const r = check(['clean', leaky]);
  expect(r.problems).toHaveLength(1);
  expect(r.problems[0]).toMatch(
    /^LEAK of .* in a cli record of test\/x\.test\.ts from node main\.js --pin «the planted PIN»/,
  );
  for (const s of [PIN, SECRET]) expect(r.problems[0]).not.toContain(s);
  expect(r.summary).toMatch(/1 problem\(s\)$/);
});

test('what jest reports (a test failure, console output) is searched too', () => {
  const failed: SecretLeakReporter.FileResult = {
    ...passed('test/y.test.ts'),
    console: [{ type: 'log', message: 'clean' }],
    testResults: [
      { fullName: 'y fails', failureMessages: ['Error: boom'], failureDetails: [{ message: 'boom', pinOf: PIN }] },
    ],
  };
  expect(check([], [failed]).problems).toEqual([
    expect.stringMatching(
      /^LEAK of a PIN \(the planted PIN, as is\) in an error record of test\/y\.test\.ts \[y fails\]/,
    ),
  ]);
  const logged = { ...passed('test/y.test.ts'), console: [{ type: 'warn', message: `pin=${PIN}` }] };
  expect(check([], [logged]).problems).toEqual([
    expect.stringContaining('in a log record of test/y.test.ts from console.warn'),
  ]);
});

test('a run whose records cannot vouch for it fails', () => {
  expect(check(['clean'], [passed('test/integration/service.test.ts')]).problems).toEqual([
    expect.stringContaining('test/integration/service.test.ts passed all its tests but recorded no http record'),
  ]);
  expect(check([], [passed('test/unit/curves.test.ts')]).problems).toEqual([
    expect.stringContaining('nothing was recorded'),
  ]);
  expect(check(['clean'], [passed('test/unit/curves.test.ts')], []).problems).toEqual([
    expect.stringContaining('no secret to search for'),
  ]);
});

test('in this run, errors handed to expect and child output reach the collection', () => {
  const dir = process.env[LEAK_DIR_ENV];
  expect(dir && fs.existsSync(dir)).toBeTruthy();
  const marker = `leak-check-self-test-${process.pid}-${Date.now()}`;
  expect(new RangeError(`${marker}-expect`)).toBeInstanceOf(RangeError);
  expect(() => {
    throw new TypeError(`${marker}-throw`);
  }).toThrow(TypeError);
  const child = spawnSync(process.execPath, ['-e', `console.log(${JSON.stringify(`${marker}-child`)})`], {
    encoding: 'utf8',
  });
  expect(child.status).toBe(0);
  const records = fs
    .readFileSync(path.join(dir!, `records-${process.pid}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LeakRecord);
  const recorded = (text: string) => records.find((r) => r.text.includes(text));
  const test = 'in this run, errors handed to expect and child output reach the collection';
  expect(recorded(`${marker}-expect`)).toMatchObject({ cat: 'error', file: __filename, test, source: 'expect(error)' });
  expect(recorded(`${marker}-throw`)).toMatchObject({ cat: 'error', test, source: 'expect(fn).toThrow' });
  expect(recorded(`${marker}-child`)).toMatchObject({ cat: 'cli', file: __filename, test });
});

test('in this run, a rejection handed to expect reaches the collection', async () => {
  const marker = `leak-check-self-test-rejects-${process.pid}-${Date.now()}`;
  await expect(Promise.reject(new Error(marker))).rejects.toThrow(marker);
  await expect(async () => {
    throw new Error(`${marker}-fn`);
  }).rejects.toThrow(marker);
  const text = fs.readFileSync(path.join(process.env[LEAK_DIR_ENV]!, `records-${process.pid}.jsonl`), 'utf8');
  expect(text).toContain(`"source":"expect(promise).rejects"`);
  expect(text).toContain(`${marker}-fn`);
});
