// The recording half of the leak check (issue 6: the PIN and SECRETS_SYSTEM never appear in any
// log line, error, CLI output or HTTP response of the test run). Tests spawn processes and make
// HTTP requests through the wrappers here, which behave like the originals and also append what
// came back to the run's collection directory (made by global-setup.js, named by HSM_JWKS_LEAK_DIR);
// leak-setup.ts records errors and console output, softhsm-environment.js the worker's own
// stdout/stderr and test failures. global-teardown.ts greps it all for every secret registered here.
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';

export const LEAK_DIR_ENV = 'HSM_JWKS_LEAK_DIR';
export type Category = 'log' | 'error' | 'cli' | 'http';
export const CATEGORIES: readonly Category[] = ['log', 'error', 'cli', 'http'];

/** One line of records-<pid>.jsonl. */
export interface LeakRecord {
  cat: Category;
  file: string;
  test?: string;
  source: string;
  text: string;
}
/** One line of secrets-<pid>.jsonl: a value the tests handed to the code under test. */
export interface SecretRecord {
  kind: 'pin' | 'secret';
  label: string;
  value: string;
}

function append(kind: 'records' | 'secrets', line: object): void {
  const dir = process.env[LEAK_DIR_ENV];
  if (!dir) return; // outside a jest run (global-teardown.ts checks that records did arrive)
  fs.appendFileSync(path.join(dir, `${kind}-${process.pid}.jsonl`), `${JSON.stringify(line)}\n`);
}

function where(): { file: string; test?: string } {
  const state = (
    globalThis as { expect?: { getState?: () => { testPath?: string; currentTestName?: string } } }
  ).expect?.getState?.();
  return {
    file: state?.testPath ?? '(no test file)',
    ...(state?.currentTestName ? { test: state.currentTestName } : {}),
  };
}

export function record(cat: Category, source: string, text: string, at = where()): void {
  if (text) append('records', { cat, ...at, source, text } satisfies LeakRecord);
}

export function registerSecret(kind: SecretRecord['kind'], label: string, value: unknown): void {
  if (typeof value === 'string' && value.trim())
    append('secrets', { kind, label, value: value.trim() } satisfies SecretRecord);
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

/** Own properties (enumerable or not) all the way down, bytes as hex, bigints as text. */
function plain(v: unknown, seen = new Set<unknown>(), depth = 0): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return `[function ${v.name}]`;
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v) || depth > 8) return '[seen]';
  seen.add(v);
  if (ArrayBuffer.isView(v)) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return v.map((x) => plain(x, seen, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(v)) {
    try {
      out[k] = plain((v as Record<string, unknown>)[k], seen, depth + 1);
    } catch (e) {
      out[k] = `[getter threw ${String(e)}]`;
    }
  }
  return out;
}

/** message, stack, every property and the cause chain of a thrown value, as text. */
export function describeError(e: unknown): string {
  return `${inspect(e, { depth: 8, breakLength: Infinity })}\n${JSON.stringify(plain(e))}`;
}

export function recordError(e: unknown, source: string): void {
  record('error', source, describeError(e));
}

const isPinoLine = (line: string) => {
  if (!line.startsWith('{')) return false;
  try {
    const o = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return (typeof o.level === 'number' || typeof o.level === 'string') && 'msg' in o; // JSON log lines (level by name since LOG_FORMAT)
  } catch {
    return false;
  }
};

/** A child's stdout and stderr: its pino lines as log records, the rest as CLI output. */
function recordChild(source: string, streams: Array<[string, unknown]>, at = where()): void {
  for (const [name, data] of streams) {
    if (data === null || data === undefined) continue;
    const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    const lines = text.split('\n');
    for (const line of lines.filter(isPinoLine)) record('log', `${source} (${name}, pino)`, line, at);
    record(
      'cli',
      `${source} (${name})`,
      lines
        .filter((l) => !isPinoLine(l))
        .join('\n')
        .trim(),
      at,
    );
  }
}

type Options = { env?: Record<string, string | undefined>; cwd?: string | URL } | undefined;
const optionsOf = (args: unknown[]): Options => {
  const o = Array.isArray(args[1]) ? args[2] : args[1];
  return o && typeof o === 'object' ? (o as Options) : undefined;
};
const commandLine = (args: unknown[]) =>
  [
    path.basename(String(args[0])),
    ...(Array.isArray(args[1])
      ? (args[1] as unknown[]).map((a) => (String(a).includes('/') ? path.basename(String(a)) : String(a)))
      : []),
  ].join(' ');

/** Children still running: the environment waits for their output before the file ends. */
const pending = new Set<Promise<void>>();
export const pendingChildren = (): Promise<void>[] => [...pending];

/** `hsm-jwks serve --dev` makes a secret and a PIN under <cwd>/data (lib/cli/dev-defaults.ts). */
function registerDevSecrets(cwd: string): void {
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined);
  registerSecret(
    'secret',
    'the development SECRETS_SYSTEM that serve --dev made',
    read(path.join(cwd, 'data', 'dev-secret')),
  );
  registerSecret('pin', 'the development PIN that serve --dev made', read(path.join(cwd, 'data', 'softhsm', 'pin')));
}

type AnyFn = (...args: unknown[]) => unknown;

/** child_process.spawnSync, recording the child's output. */
export const spawnSync = ((...args: unknown[]) => {
  registerEnvSecrets(optionsOf(args)?.env, 'given to a child process');
  const r = (cp.spawnSync as unknown as AnyFn)(...args) as cp.SpawnSyncReturns<string | Buffer>;
  recordChild(commandLine(args), [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ]);
  if (r.error) recordError(r.error, commandLine(args));
  return r;
}) as typeof cp.spawnSync;

/** child_process.execFileSync, recording the child's output (and its error when it fails). */
export const execFileSync = ((...args: unknown[]) => {
  registerEnvSecrets(optionsOf(args)?.env, 'given to a child process');
  try {
    const out = (cp.execFileSync as unknown as AnyFn)(...args);
    recordChild(commandLine(args), [['stdout', out]]);
    return out;
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: unknown; stderr?: unknown };
    recordChild(commandLine(args), [
      ['stdout', stdout],
      ['stderr', stderr],
    ]);
    recordError(e, commandLine(args));
    throw e;
  }
}) as typeof cp.execFileSync;

/** child_process.spawn, recording the child's piped output when it closes. */
export const spawn = ((...args: unknown[]) => {
  const options = optionsOf(args);
  registerEnvSecrets(options?.env, 'given to a child process');
  const child = (cp.spawn as unknown as AnyFn)(...args) as cp.ChildProcess;
  const at = where();
  const source = commandLine(args);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer | string) => out.push(Buffer.from(c)));
  child.stderr?.on('data', (c: Buffer | string) => err.push(Buffer.from(c)));
  const argv = Array.isArray(args[1]) ? (args[1] as unknown[]) : [];
  if (argv.includes('serve') && argv.includes('--dev')) {
    child.on('exit', () => registerDevSecrets(options?.cwd ? String(options.cwd) : process.cwd()));
  }
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      recordChild(
        source,
        [
          ['stdout', Buffer.concat(out)],
          ['stderr', Buffer.concat(err)],
        ],
        at,
      );
      pending.delete(closed);
      resolve();
    };
    child.on('close', done);
    child.on('error', (e) => {
      recordError(e, source);
      if (child.pid === undefined) done();
    });
  });
  pending.add(closed);
  return child;
}) as typeof cp.spawn;

/** fetch, recording the status, headers and body of every response (the body stays readable). */
export async function fetch(...args: Parameters<typeof globalThis.fetch>): Promise<Response> {
  const [input, init] = args;
  const url = typeof input === 'object' && 'url' in input ? input.url : String(input);
  const source = `${init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')} ${url}`;
  const at = where();
  let r: Response;
  try {
    r = await globalThis.fetch(...args);
  } catch (e) {
    recordError(e, `fetch ${source}`);
    throw e;
  }
  let body: string;
  try {
    body = await r.clone().text();
  } catch (e) {
    body = `(body not readable: ${(e as Error).message})`;
  }
  const headers = [...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  record('http', `${source} -> ${r.status}`, `HTTP ${r.status} ${r.statusText}\n${headers}\n\n${body}`, at);
  return r;
}
