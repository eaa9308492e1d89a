// The one list of error codes (lib/errors.ts ERROR_CODES, from which ErrorCode is derived) and the
// docs agree: every code the package throws is in an error table of a docs page (docs/*.md: one
// table per layer, each code with its meaning), and every ERR_ code the README and the docs write
// is one the package throws (ERR_PKCS11_<CKR name> stands for every failed PKCS#11 call).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ERROR_CODES, isErrorCode } from '../../lib/errors';
import { docsPages, page, root, section, tableRows } from './docs-text';

const topics = docsPages();
const everything = [page('README.md'), ...docsPages(true)];
const CODE = /\bERR_[A-Z0-9_]+/g;
const PKCS11_PATTERN = 'ERR_PKCS11_'; // as in `ERR_PKCS11_<CKR name>`
const mentions = (text: string, code: string) => new RegExp(`\\b${code}\\b`).test(text);

/** Table rows of the topic pages that name a code in their first cell, with the page. */
const codeRows = topics.flatMap(({ file, text }) =>
  tableRows(text)
    .filter((cells) => /`ERR_/.test(cells[0] ?? ''))
    .map((cells) => ({ file, cells })),
);

test('ERROR_CODES: each code once, each of the ERR_ form, none a PKCS#11 one (those are ERR_PKCS11_<CKR name>)', () => {
  expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  for (const code of ERROR_CODES) {
    expect(code).toMatch(/^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    expect(code.startsWith('ERR_PKCS11_')).toBe(false);
  }
  expect(isErrorCode('ERR_PKCS11_PIN_INCORRECT')).toBe(true);
  expect(isErrorCode('ERR_HSM_CLOSED')).toBe(false); // the raw binding's, never the package's
});

test('every code is in an error table of a docs page, with its meaning', () => {
  const undocumented = ERROR_CODES.filter(
    (code) => !codeRows.some(({ cells }) => mentions(cells[0]!, code) && (cells.at(-1) ?? '').length > 0),
  );
  expect(undocumented).toEqual([]);
  expect(
    codeRows.some(({ file, cells }) => file === 'docs/pkcs11.md' && cells[0]!.startsWith('`ERR_PKCS11_<CKR name>`')),
  ).toBe(true);
});

test('every ERR_ code the README and the docs write is one the package throws', () => {
  const unknown: string[] = [];
  for (const { file, text } of everything) {
    for (const [code] of text.matchAll(CODE)) {
      if (code === PKCS11_PATTERN || isErrorCode(code)) continue;
      unknown.push(`${file}: ${code}`);
    }
  }
  expect(unknown).toEqual([]);
});

test('the PKCS#11 layer\'s table (docs/pkcs11.md, "## Errors") names the class that carries each code', () => {
  const rows = tableRows(section(page('docs/pkcs11.md').text, '## Errors'));
  for (const [code, cls] of [
    ['ERR_CLOSED', 'ClosedError'],
    ['ERR_SESSION_BUSY', 'SessionBusyError'],
    ['ERR_MODULE_REINITIALIZED', 'ModuleReinitializedError'],
    ['ERR_MODULE_NOT_OWNER', 'ModuleNotOwnedError'],
    ['ERR_MODULE_BUSY', 'ModuleBusyError'],
    ['ERR_QUEUE_FULL', 'QueueFullError'],
    ['ERR_ADDON_FAILURE', 'AddonFailureError'],
  ] as const) {
    const row = rows.find((cells) => mentions(cells[0]!, code));
    expect({ code, cls: row?.[1]?.includes(`\`${cls}\``) }).toEqual({ code, cls: true });
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
