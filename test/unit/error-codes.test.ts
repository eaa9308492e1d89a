// The one list of error codes (lib/errors.ts ERROR_CODES, from which ErrorCode is derived) and the
// docs agree: every code the package throws is documented in README.md (its two error tables) or
// in docs/*.md, and every ERR_ code the docs name is one the package throws (ERR_PKCS11_<CKR name>
// stands for every failed PKCS#11 call).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ERROR_CODES, isErrorCode } from '../../lib/errors';

const root = path.join(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const docs = fs
  .readdirSync(path.join(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ file: `docs/${f}`, text: fs.readFileSync(path.join(root, 'docs', f), 'utf8') }));

/** The table rows under a README heading (up to the next heading). */
function table(heading: string): string {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`README.md has no "${heading}"`);
  const rows: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,6} /.test(line)) break;
    if (line.startsWith('|')) rows.push(line);
  }
  if (rows.length < 3) throw new Error(`no table under "${heading}"`);
  return rows.join('\n');
}

const TABLES = [table('### Errors'), table('### Error codes of these layers')].join('\n');
const CODE = /\bERR_[A-Z0-9_]+/g;
const PKCS11_PATTERN = 'ERR_PKCS11_'; // as in `ERR_PKCS11_<CKR name>`
const mentions = (text: string, code: string) => new RegExp(`\\b${code}\\b`).test(text);

test('ERROR_CODES: each code once, each of the ERR_ form, none a PKCS#11 one (those are ERR_PKCS11_<CKR name>)', () => {
  expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  for (const code of ERROR_CODES) {
    expect(code).toMatch(/^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    expect(code.startsWith('ERR_PKCS11_')).toBe(false);
  }
  expect(isErrorCode('ERR_PKCS11_PIN_INCORRECT')).toBe(true);
  expect(isErrorCode('ERR_HSM_CLOSED')).toBe(false); // the raw binding's, never the package's
});

test('every code is documented: in a README error table or in docs/', () => {
  const undocumented = ERROR_CODES.filter(
    (code) => !mentions(TABLES, code) && !docs.some((d) => mentions(d.text, code)),
  );
  expect(undocumented).toEqual([]);
  expect(TABLES).toContain('`ERR_PKCS11_<CKR name>`');
});

test('every ERR_ code the README and docs/ write is one the package throws', () => {
  const unknown: string[] = [];
  for (const { file, text } of [{ file: 'README.md', text: readme }, ...docs]) {
    for (const [code] of text.matchAll(CODE)) {
      if (code === PKCS11_PATTERN || isErrorCode(code)) continue;
      unknown.push(`${file}: ${code}`);
    }
  }
  expect(unknown).toEqual([]);
});

test('the README tables list the codes of the PKCS#11 layer in "### Errors", with the class that carries each', () => {
  const errors = table('### Errors');
  for (const [code, cls] of [
    ['ERR_CLOSED', 'ClosedError'],
    ['ERR_SESSION_BUSY', 'SessionBusyError'],
    ['ERR_MODULE_REINITIALIZED', 'ModuleReinitializedError'],
    ['ERR_MODULE_NOT_OWNER', 'ModuleNotOwnedError'],
    ['ERR_MODULE_BUSY', 'ModuleBusyError'],
    ['ERR_QUEUE_FULL', 'QueueFullError'],
    ['ERR_ADDON_FAILURE', 'AddonFailureError'],
  ] as const) {
    const row = errors.split('\n').find((r) => mentions(r, code));
    expect({ code, row: row?.includes(`\`${cls}\``) }).toEqual({ code, row: true });
  }
});

test('store, jose, keys, config, server and cli take the vocabulary from lib/errors.ts; from lib/pkcs11/errors.ts only PKCS#11 classes', () => {
  const vocabulary = ['HsmJwksError', 'ClosedError', 'invalidArgType', 'invalidArgValue', 'fromNative', 'call'];
  const files = ['store', 'jose', 'keys', 'server', 'cli']
    .flatMap((dir) => fs.readdirSync(path.join(root, 'lib', dir)).map((f) => `lib/${dir}/${f}`))
    .concat(['lib/config.ts'])
    .filter((f) => f.endsWith('.ts'));
  const wrong: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const [, names] of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'[./]*pkcs11\/errors'/g)) {
      for (const name of names!
        .split(',')
        .map((n) => n.replace(/^\s*type\s+/, '').trim())
        .filter(Boolean)) {
        if (vocabulary.includes(name)) wrong.push(`${file}: ${name}`);
      }
    }
  }
  expect(wrong).toEqual([]);
});
