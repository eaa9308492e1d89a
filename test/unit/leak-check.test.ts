// The leak check itself: a collection holding a secret (as is or encoded) is flagged with the secret
// masked, a clean one is not, an empty one cannot vouch for the run, and in this very run what a
// test sees does reach the collection.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { checkCollection, type Secret } from '../helpers/leak-check';
import { LEAK_DIR_ENV, spawnSync, type LeakRecord } from '../helpers/leak-collector';

// Planted values of this test only: no helper exports or registers them.
const PIN = '8642';
const SECRET = 'planted-secret-for-the-detector';
const secrets: Secret[] = [
  { kind: 'pin', label: 'the planted PIN', value: PIN },
  { kind: 'secret', label: 'the planted secret', value: SECRET },
];
const root = path.join(__dirname, '..', '..');

function collection(texts: string[], ran: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-leak-unit-'));
  const records = texts.map(
    (text): LeakRecord => ({
      cat: 'cli',
      file: path.join(root, 'test/x.test.ts'),
      source: `node main.js --pin ${PIN}`,
      text,
    }),
  );
  fs.writeFileSync(path.join(dir, 'records-1.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  fs.writeFileSync(
    path.join(dir, 'files-1.jsonl'),
    ran
      .map((file) => `${JSON.stringify({ file: path.join(root, file), passed: 1, failed: 0, skipped: 0 })}\n`)
      .join(''),
  );
  return dir;
}

function check(texts: string[], ran?: string[], searched: Secret[] = secrets) {
  const dir = collection(texts, ran);
  try {
    return checkCollection(dir, searched, root);
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
    /^leak check: 3 records .* searched for 2 secrets \(1 PINs, 1 SECRETS_SYSTEM values.*none found$/,
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

test('a file that ran but recorded nothing of what it always records cannot vouch for the run', () => {
  expect(check(['clean'], ['test/integration/service.test.ts']).problems).toEqual([
    expect.stringContaining('test/integration/service.test.ts passed all its tests but recorded no http record'),
  ]);
  expect(check([], ['test/unit/curves.test.ts']).problems).toEqual([expect.stringContaining('nothing was recorded')]);
  expect(check(['clean'], [], []).problems).toEqual([expect.stringContaining('no secret to search for')]);
});

test('in this run, errors handed to expect and child output reach the collection', () => {
  const dir = process.env[LEAK_DIR_ENV];
  expect(dir && fs.existsSync(dir)).toBeTruthy();
  const marker = `leak-check-self-test-${process.pid}-${Date.now()}`;
  expect(new RangeError(marker)).toBeInstanceOf(RangeError);
  expect(
    spawnSync(process.execPath, ['-e', `console.log(${JSON.stringify(`${marker}-child`)})`], { encoding: 'utf8' })
      .status,
  ).toBe(0);
  const records = fs
    .readFileSync(path.join(dir!, `records-${process.pid}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LeakRecord);
  expect(records.find((r) => r.cat === 'error' && r.text.includes(marker))).toMatchObject({
    file: __filename,
    source: 'expect(error)',
  });
  expect(records.find((r) => r.cat === 'cli' && r.text.includes(`${marker}-child`))).toMatchObject({
    file: __filename,
  });
});
