// The checking half of the leak check: greps a collection directory (see leak-collector.ts) for
// secrets, as they are and encoded, and says whether the collection can vouch for the run at all.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CATEGORIES, type Category, type LeakRecord, type SecretRecord } from './leak-collector';

export type Secret = SecretRecord;

/**
 * What a test file records whenever all of its tests run: if one of them recorded nothing of a
 * category, its output no longer reaches the collection (a spawn or fetch that bypasses
 * leak-collector.ts, a broken setup file) and a clean grep would prove nothing.
 */
export const EXPECTED: Readonly<Record<string, readonly Category[]>> = {
  'test/integration/cli.test.ts': ['cli'],
  'test/integration/start.test.ts': ['cli', 'log', 'http'],
  'test/integration/durability.test.ts': ['cli', 'http'],
  'test/integration/service.test.ts': ['http'],
  'test/integration/store.test.ts': ['error'],
  'test/unit/config.test.ts': ['error'],
  'test/bench/soak-faults.test.ts': ['cli', 'log'],
  'test/package/pack.test.ts': ['cli'],
  'test/native/vendor-p11kit.test.ts': ['cli'],
  'test/unit/leak-check.test.ts': ['error', 'cli'],
};

/** Secrets shorter than this (no PIN or SECRETS_SYSTEM value is) are not searched for. */
export const MIN_SECRET_LENGTH = 4;

interface Form {
  name: string;
  needle: string;
  /** A hit counts only when no neighbour matches this (for short or encoded needles). */
  within?: RegExp;
  numeric?: boolean;
}

/** The secret as it is, and as hex, Buffer-inspect hex, base64, base64url and a JSON byte list. */
export function formsOf(value: string): Form[] {
  const bytes = Buffer.from(value, 'utf8');
  const hex = bytes.toString('hex');
  const base64 = bytes.toString('base64').replace(/=+$/, '');
  const forms: Form[] = [
    {
      name: 'as is',
      needle: value,
      ...(value.length < 8 ? { within: /[A-Za-z0-9]/, numeric: /^\d+$/.test(value) } : {}),
    },
    { name: 'hex', needle: hex, within: /[0-9a-fA-F]/ },
    { name: 'HEX', needle: hex.toUpperCase(), within: /[0-9a-fA-F]/ },
    { name: 'Buffer hex', needle: hex.match(/../g)!.join(' '), within: /[0-9a-fA-F]/ },
    { name: 'base64', needle: base64, within: /[A-Za-z0-9+/_-]/ },
    { name: 'byte list', needle: [...bytes].join(','), within: /[0-9]/ },
  ];
  const base64url = bytes.toString('base64url');
  if (base64url !== base64) forms.push({ name: 'base64url', needle: base64url, within: /[A-Za-z0-9+/_-]/ });
  return forms;
}

function standsAlone(text: string, at: number, form: Form): boolean {
  if (!form.within) return true;
  const before = text[at - 1] ?? '';
  const after = text[at + form.needle.length] ?? '';
  if (form.within.test(before) || form.within.test(after)) return false;
  // A numeric PIN inside a decimal number (0.1234, 1234.5) is a number, not the PIN.
  if (
    form.numeric &&
    ((before === '.' && /\d/.test(text[at - 2] ?? '')) ||
      (after === '.' && /\d/.test(text[at + form.needle.length + 1] ?? '')))
  )
    return false;
  return true;
}

function firstHit(text: string, form: Form): number {
  for (let i = text.indexOf(form.needle); i >= 0; i = text.indexOf(form.needle, i + 1))
    if (standsAlone(text, i, form)) return i;
  return -1;
}

function readJsonl<T>(dir: string, prefix: string): T[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.jsonl'))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T),
    );
}

export const registeredSecrets = (dir: string): Secret[] => readJsonl<Secret>(dir, 'secrets-');

export interface CheckResult {
  summary: string;
  /** Leaks (secret masked) and reasons the collection cannot vouch for the run. Empty: clean. */
  problems: string[];
}

export function checkCollection(dir: string, allSecrets: readonly Secret[], rootDir: string): CheckResult {
  const secrets = new Map<string, Secret>();
  for (const s of allSecrets) if (s.value.length >= MIN_SECRET_LENGTH && !secrets.has(s.value)) secrets.set(s.value, s);
  const forms = [...secrets.values()].map((s) => ({ secret: s, forms: formsOf(s.value) }));
  const needles = forms
    .flatMap(({ secret, forms: f }) => f.map((x) => ({ needle: x.needle, label: secret.label })))
    .sort((a, b) => b.needle.length - a.needle.length);
  const mask = (text: string) => needles.reduce((t, { needle, label }) => t.split(needle).join(`«${label}»`), text);

  const relative = (f: string) => (path.isAbsolute(f) ? path.relative(rootDir, f) : f);
  const records = readJsonl<LeakRecord>(dir, 'records-');
  const files = readJsonl<{ file: string; passed: number; failed: number; skipped: number }>(dir, 'files-');
  const problems: string[] = [];
  const perCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const seen = new Set<string>();
  let bytes = 0;

  for (const r of records) {
    perCategory[r.cat] += 1;
    bytes += Buffer.byteLength(r.text);
    seen.add(`${relative(r.file)}\0${r.cat}`);
    for (const { secret, forms: f } of forms) {
      for (const form of f) {
        const at = firstHit(r.text, form);
        if (at < 0) continue;
        const excerpt = r.text.slice(Math.max(0, at - 160), at + form.needle.length + 160);
        problems.push(
          `LEAK of ${secret.kind === 'pin' ? 'a PIN' : 'a SECRETS_SYSTEM value'} (${secret.label}, ${form.name}) in a ${r.cat} record of ${relative(r.file)}` +
            `${r.test ? ` [${mask(r.test)}]` : ''} from ${mask(r.source)}:\n    …${mask(excerpt).replace(/\n/g, '\\n')}…`,
        );
        break;
      }
    }
  }

  const ran = files.filter((f) => f.passed + f.failed > 0);
  if (ran.length > 0 && records.length === 0)
    problems.push(
      `${ran.length} test files ran but nothing was recorded in ${dir}: the leak check would pass vacuously`,
    );
  if (secrets.size === 0) problems.push('no secret to search for: the leak check would pass vacuously');
  for (const f of ran) {
    const file = relative(f.file);
    // A filtered run (-t) need not reach every recording path, and a failed test is reported anyway.
    if (f.skipped > 0 || f.failed > 0) continue;
    for (const cat of EXPECTED[file] ?? []) {
      if (!seen.has(`${file}\0${cat}`)) {
        problems.push(
          `${file} passed all its tests but recorded no ${cat} record: its output no longer reaches the leak check (route it through test/helpers/leak-collector.ts)`,
        );
      }
    }
  }

  const kinds = [...secrets.values()];
  const summary =
    `leak check: ${records.length} records (${(bytes / 1024).toFixed(0)} KiB; ${CATEGORIES.map((c) => `${c} ${perCategory[c]}`).join(', ')}) ` +
    `from ${ran.length} test files searched for ${secrets.size} secrets (${kinds.filter((s) => s.kind === 'pin').length} PINs, ` +
    `${kinds.filter((s) => s.kind === 'secret').length} SECRETS_SYSTEM values; as is, hex, base64, byte list): ` +
    `${problems.length === 0 ? 'none found' : `${problems.length} problem(s)`}`;
  return { summary, problems };
}
