// The secret-leak check (docs/reliability.md#secrets), recording side: what the tests see is
// appended to the run's collection directory, and so is every secret the tests hand to the code
// under test. test/reporters/secret-leak-reporter.js makes the directory (HSM_JWKS_LEAK_DIR) when
// the run starts and searches the records for the secrets when it ends.
//
// Two files per worker process, one JSON object a line:
//   records-<pid>.jsonl  {cat, file, test?, source, text}: something a test saw
//   secrets-<pid>.jsonl  {kind, label, value}: a PIN or SECRETS_SYSTEM value to search for
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';

export const LEAK_DIR_ENV = 'HSM_JWKS_LEAK_DIR';
export type Category = 'log' | 'error' | 'cli' | 'http';

export interface LeakRecord {
  cat: Category;
  file: string;
  test?: string;
  source: string;
  text: string;
}
export interface SecretRecord {
  kind: 'pin' | 'secret';
  label: string;
  value: string;
}
/** The test file and test a record belongs to. */
export type Where = Pick<LeakRecord, 'file' | 'test'>;

function append(kind: 'records' | 'secrets', line: LeakRecord | SecretRecord): void {
  const dir = process.env[LEAK_DIR_ENV];
  if (!dir) return; // not under jest with the reporter: nothing to record into
  fs.appendFileSync(path.join(dir, `${kind}-${process.pid}.jsonl`), `${JSON.stringify(line)}\n`);
}

/** The test running now, as jest tells it. */
export function where(): Where {
  const { testPath, currentTestName } = typeof expect === 'undefined' ? {} : expect.getState();
  return { file: testPath ?? '(no test file)', ...(currentTestName ? { test: currentTestName } : {}) };
}

export function record(cat: Category, source: string, text: string, at: Where = where()): void {
  if (text) append('records', { cat, ...at, source, text });
}

/** The message, stack, every property and the cause chain of a thrown value. */
export function recordError(e: unknown, source: string, at: Where = where()): void {
  record(
    'error',
    source,
    `${inspect(e, { depth: 8, breakLength: Infinity })}\n${JSON.stringify(allProperties(e))}`,
    at,
  );
}

/** Own properties, enumerable or not, all the way down (inspect skips the non-enumerable ones). */
function allProperties(v: unknown, seen = new Set<unknown>(), depth = 0): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return `[function ${v.name}]`;
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v) || depth > 8) return '[seen]';
  seen.add(v);
  if (ArrayBuffer.isView(v)) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return v.map((x) => allProperties(x, seen, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(v)) {
    try {
      out[k] = allProperties((v as Record<string, unknown>)[k], seen, depth + 1);
    } catch (e) {
      out[k] = `[getter threw ${String(e)}]`;
    }
  }
  return out;
}

/** A value the reporter searches every record for. Blank values are ignored. */
export function registerSecret(kind: SecretRecord['kind'], label: string, value: unknown): void {
  if (typeof value === 'string' && value.trim()) append('secrets', { kind, label, value: value.trim() });
}

/** HSM_PIN, HSM_URI's pin-value and every SECRETS_SYSTEM entry of an environment handed to the code under test. */
export function registerEnvSecrets(env: Record<string, string | undefined> | undefined, origin: string): void {
  if (!env) return;
  registerSecret('pin', `HSM_PIN ${origin}`, env.HSM_PIN);
  const pinValue = /[?&]pin-value=([^&#]*)/i.exec(env.HSM_URI ?? '')?.[1];
  if (pinValue) {
    registerSecret('pin', `the pin-value of HSM_URI ${origin} (as written)`, pinValue);
    try {
      registerSecret('pin', `the pin-value of HSM_URI ${origin}`, decodeURIComponent(pinValue));
    } catch {
      // not percent-decodable: the URI is refused before any PIN is used
    }
  }
  for (const s of (env.SECRETS_SYSTEM ?? '').split(',')) registerSecret('secret', `SECRETS_SYSTEM ${origin}`, s);
}
