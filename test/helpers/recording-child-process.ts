// node:child_process's spawn, spawnSync and execFileSync for the tests, recording for the
// secret-leak check (secret-leak-recorder.ts) what each child prints: its pino JSON lines as log
// records, the rest as CLI output. The PIN and SECRETS_SYSTEM of the environment a child is given
// are registered as secrets. Arguments and results are node:child_process's own.
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { record, recordError, registerEnvSecrets, registerSecret, type Where, where } from './secret-leak-recorder';

const isPinoLine = (line: string) => {
  if (!line.startsWith('{')) return false;
  try {
    const o = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return (typeof o.level === 'number' || typeof o.level === 'string') && 'msg' in o; // level by name with LOG_FORMAT
  } catch {
    return false;
  }
};

/** Whole lines a child printed on `stream`: each pino line a log record, the others one cli record. */
function recordOutput(source: string, stream: string, data: unknown, at: Where): void {
  if (data === null || data === undefined) return;
  const lines = (Buffer.isBuffer(data) ? data.toString('utf8') : String(data)).split('\n');
  for (const line of lines.filter(isPinoLine)) record('log', `${source} (${stream}, pino)`, line, at);
  const rest = lines.filter((l) => !isPinoLine(l)).join('\n');
  record('cli', `${source} (${stream})`, rest.trim(), at);
}

type Options = { env?: Record<string, string | undefined>; cwd?: string | URL } | undefined;
const optionsOf = (args: unknown[]): Options => {
  const o = Array.isArray(args[1]) ? args[2] : args[1];
  return o && typeof o === 'object' ? (o as Options) : undefined;
};
/** `node main.js keys list`: the command and its arguments, paths shortened to their last part. */
const commandLine = (args: unknown[]) =>
  [args[0], ...(Array.isArray(args[1]) ? args[1] : [])]
    .map((a) => (String(a).includes('/') ? path.basename(String(a)) : String(a)))
    .join(' ');

type AnyFn = (...args: unknown[]) => unknown;

export const spawnSync = ((...args: unknown[]) => {
  registerEnvSecrets(optionsOf(args)?.env, 'given to a child process');
  const r = (cp.spawnSync as unknown as AnyFn)(...args) as cp.SpawnSyncReturns<string | Buffer>;
  const at = where();
  recordOutput(commandLine(args), 'stdout', r.stdout, at);
  recordOutput(commandLine(args), 'stderr', r.stderr, at);
  if (r.error) recordError(r.error, commandLine(args), at);
  return r;
}) as typeof cp.spawnSync;

export const execFileSync = ((...args: unknown[]) => {
  registerEnvSecrets(optionsOf(args)?.env, 'given to a child process');
  const at = where();
  try {
    const stdout = (cp.execFileSync as unknown as AnyFn)(...args);
    recordOutput(commandLine(args), 'stdout', stdout, at);
    return stdout;
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: unknown; stderr?: unknown };
    recordOutput(commandLine(args), 'stdout', stdout, at);
    recordOutput(commandLine(args), 'stderr', stderr, at);
    recordError(e, commandLine(args), at);
    throw e;
  }
}) as typeof cp.execFileSync;

/**
 * Records the child's piped output as it arrives, a whole line at a time (so that a secret is
 * never cut in two), and the rest when the streams close: nothing waits for the child to end.
 */
export const spawn = ((...args: unknown[]) => {
  const options = optionsOf(args);
  registerEnvSecrets(options?.env, 'given to a child process');
  const child = (cp.spawn as unknown as AnyFn)(...args) as cp.ChildProcess;
  const at = where();
  const source = commandLine(args);
  for (const [name, stream] of [
    ['stdout', child.stdout],
    ['stderr', child.stderr],
  ] as const) {
    let partial = '';
    stream?.on('data', (chunk: Buffer | string) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      if (lines.length > 0) recordOutput(source, name, lines.join('\n'), at);
    });
    stream?.on('close', () => recordOutput(source, name, partial, at));
  }
  child.on('error', (e) => recordError(e, source, at));
  const argv = Array.isArray(args[1]) ? (args[1] as unknown[]) : [];
  if (argv.includes('serve') && argv.includes('--dev')) {
    child.on('exit', () => registerDevSecrets(options?.cwd ? String(options.cwd) : process.cwd()));
  }
  return child;
}) as typeof cp.spawn;

/** `hsm-jwks serve --dev` makes a secret and a PIN under <cwd>/data (lib/cli/dev-defaults.ts). */
function registerDevSecrets(cwd: string): void {
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined);
  registerSecret('secret', 'the development SECRETS_SYSTEM that serve --dev made', read(`${cwd}/data/dev-secret`));
  registerSecret('pin', 'the development PIN that serve --dev made', read(`${cwd}/data/softhsm/pin`));
}
