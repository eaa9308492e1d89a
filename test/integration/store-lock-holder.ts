// Another process holding an SQLite store's write lock (store-child/lock-holder.js), and a watch on
// this process's event loop, for the busy-store tests (store-busy.test.ts, store-busy-service.test.ts).
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { spawn } from '../helpers/recording-child-process';

export interface LockHolder {
  /** Asks the holder to commit and waits until it has exited (the lock is free then). */
  release(): Promise<void>;
  /** Resolves when the holder has exited, by itself (its hold time ran out) or after release(). */
  exited: Promise<{ code: number | null; stderr: string }>;
}

/** Starts a process that takes `file`'s write lock (BEGIN IMMEDIATE); resolves once it holds it. It lets go after `maxHoldMs` at the latest. */
export async function holdWriteLock(file: string, maxHoldMs: number): Promise<LockHolder> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'store-child', 'lock-holder.js'), file, String(maxHoldMs)],
    {
      cwd: path.join(__dirname, '..', '..'),
      env: { PATH: process.env.PATH },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr: err })),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').includes('locked')) resolve();
    });
    void exited.then((e) => reject(new Error(`the lock holder exited (${e.code}) before locking: ${e.stderr}`)));
  });
  return {
    exited,
    async release() {
      child.stdin!.end('release\n');
      const { code, stderr } = await exited;
      if (code !== 0) throw new Error(`the lock holder failed (${code}): ${stderr}`);
    },
  };
}

const RESOLUTION_MS = 10;

/**
 * Watches this process's event loop; stop() resolves to the longest delay seen, in ms. The
 * histogram records a stall only at its next sample, and from its second sample on: start()
 * waits for samples before it resolves, stop() for one more after the last stall.
 */
export async function watchEventLoop(): Promise<{ stop(): Promise<number> }> {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  await sleep(5 * RESOLUTION_MS);
  return {
    async stop() {
      await sleep(5 * RESOLUTION_MS);
      h.disable();
      return h.max / 1e6;
    },
  };
}
