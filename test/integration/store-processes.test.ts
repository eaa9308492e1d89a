// The store across real processes (store-child/child.js, which requires the TypeScript sources
// through store-child/register-ts.js): the lock excludes other processes and a holder killed with
// SIGKILL loses it (SQLite: when its lease expires; PostgreSQL: when its session ends); a write by
// another process reaches a watcher within freshnessMs; a watching process exits on its own.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawn } from '../helpers/recording-child-process';
import { type Backend, describeBackends } from './store-backends';
import { caught, expectStoreError, SECRET_OLD } from './store-helpers';

const CHILD_DIR = path.join(__dirname, 'store-child');
const TTL_MS = 2000;

interface Child {
  child: ChildProcess;
  /** Resolves when the child printed `line`. */
  printed(line: string): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number; stderr: string }>;
}

function child(mode: string, ...args: string[]): Child {
  const c = spawn(
    process.execPath,
    ['--require', path.join(CHILD_DIR, 'register-ts.js'), path.join(CHILD_DIR, 'child.js'), mode, ...args],
    {
      env: { PATH: process.env.PATH, SECRETS_SYSTEM: SECRET_OLD },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  const waiting: Array<{ line: string; resolve: () => void }> = [];
  c.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiting) if (out.split('\n').includes(w.line)) w.resolve();
  });
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number; stderr: string }>(
    (resolve) => c.on('exit', (code, signal) => resolve({ code, signal, at: Date.now(), stderr: err })),
  );
  return {
    child: c,
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        if (out.split('\n').includes(line)) return resolve();
        waiting.push({ line, resolve });
        void exited.then((e) =>
          reject(new Error(`the child exited (${e.code ?? e.signal}) before printing ${line}: ${e.stderr}`)),
        );
      }),
    exited,
  };
}

/** Replays a log of "+pid" / "-pid" lines: how often a section started while another was running. */
function overlaps(log: string): { overlaps: number; pids: Set<string>; sections: number } {
  let inside: string | undefined;
  let count = 0;
  let sections = 0;
  const pids = new Set<string>();
  for (const line of log.split('\n').filter(Boolean)) {
    const pid = line.slice(1);
    pids.add(pid);
    if (line.startsWith('+')) {
      if (inside !== undefined) count++;
      inside = pid;
      sections++;
    } else if (inside === pid) {
      inside = undefined;
    }
  }
  return { overlaps: count, pids, sections };
}

describeBackends('the store across processes', 'store_processes_test', (b: Backend) => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-store-processes-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function race(mode: 'contend' | 'nolock', name: string): Promise<ReturnType<typeof overlaps>> {
    await b.open().list(); // the schema exists before the children start
    const [log, go] = [path.join(dir, `${name}.log`), path.join(dir, `${name}.go`)];
    const children = [child(mode, b.dsn, log, go, '12', '15'), child(mode, b.dsn, log, go, '12', '15')];
    await Promise.all(children.map((c) => c.printed('ready')));
    fs.writeFileSync(go, '');
    for (const c of children) expect(await c.exited).toMatchObject({ code: 0 });
    return overlaps(fs.readFileSync(log, 'utf8'));
  }

  test('two processes contend for withLock: exactly one runs the section at a time', async () => {
    const result = await race('contend', `contend-${b.name}`);
    expect(result.sections).toBe(24);
    expect(result.pids.size).toBe(2);
    expect(result.overlaps).toBe(0);
  });

  test('(control) without the lock the same two processes do overlap, so the check above can fail', async () => {
    expect((await race('nolock', `nolock-${b.name}`)).overlaps).toBeGreaterThan(0);
  });

  test('a holder killed with SIGKILL loses the lock (SQLite: after its lease, PostgreSQL: with its session)', async () => {
    const holder = child('hold', b.dsn, String(TTL_MS));
    await holder.printed('locked');
    // Held across processes: another process cannot take it meanwhile.
    const impatient = b.open([SECRET_OLD], { lockTimeoutMs: 300, lockTtlMs: TTL_MS });
    expectStoreError(await caught(() => impatient.withLock('held', async () => 'no')), 'ERR_STORE_LOCK_TIMEOUT');
    const [lease] =
      b.name === 'SQLite'
        ? await b.sql<{ expires_at: number }>('SELECT expires_at FROM store_locks WHERE name = ?', ['held'])
        : [];
    if (b.name === 'SQLite') expect(lease!.expires_at).toBeGreaterThan(Date.now());

    const killed = Date.now();
    holder.child.kill('SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');
    const waiter = b.open([SECRET_OLD], { lockTimeoutMs: 10_000, lockTtlMs: TTL_MS });
    await waiter.withLock('held', async () => undefined);
    const acquired = Date.now();
    if (b.name === 'SQLite') {
      expect(acquired).toBeGreaterThanOrEqual(lease!.expires_at); // not before the dead holder's lease ran out
      expect(acquired - killed).toBeLessThanOrEqual(TTL_MS + 1000);
    } else {
      expect(acquired - killed).toBeLessThan(TTL_MS);
    }
  });

  test("a write by another process reaches this process's watcher within freshnessMs", async () => {
    const store = b.open();
    await store.list();
    const seen: Array<{ set: string; at: number }> = [];
    store.watch((set) => seen.push({ set, at: Date.now() }));
    const writer = child('write', b.dsn, 'from-child');
    const { code, at: exited, stderr } = await writer.exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const deadline = exited + store.freshnessMs + 250; // the commit happened before the child exited
    while (!seen.some((s) => s.set === 'from-child') && Date.now() < deadline + 1000)
      await new Promise((r) => setTimeout(r, 10));
    const report = seen.find((s) => s.set === 'from-child');
    expect(report).toBeDefined();
    expect(report!.at).toBeLessThanOrEqual(deadline);
    expect((await store.get('from-child', 'from-child'))?.kid).toBe('from-child');
  });

  test('a process that watches and never closes the store still exits by itself', async () => {
    const idle = child('idle', b.dsn);
    await idle.printed('idle');
    const printed = Date.now();
    const timeout = new Promise<'still running'>((r) => setTimeout(() => r('still running'), 5000).unref());
    const outcome = await Promise.race([idle.exited, timeout]);
    if (outcome === 'still running') idle.child.kill('SIGKILL');
    expect(outcome).toMatchObject({ code: 0 });
    expect(Date.now() - printed).toBeLessThan(5000);
  });
});
