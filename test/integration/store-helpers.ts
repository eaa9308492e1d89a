// Helpers for the key store tests: test keys, secrets, raw access to an SQLite file, and checks
// that a failure is the expected StoreError and leaks no secret or key material.
import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import Database from 'better-sqlite3';

import type { KeyPairPrivateJwk } from '../../lib/jose/import';
import { StoreError, type StoreErrorCode } from '../../lib/store/errors';
import type { Lifecycle, StoredKey } from '../../lib/store/key-store';

export const SECRET_OLD = 'old-sealing-secret-0123456789';
export const SECRET_NEW = 'new-sealing-secret-9876543210';
export const SECRET_WRONG = 'wrong-sealing-secret-ABCDEFGH';
export const ALL_SECRETS = [SECRET_OLD, SECRET_NEW, SECRET_WRONG];

/** Private `d` values of every key made here, so errors can be checked for key material. */
const privateValues: string[] = [];

export function makeKey(
  set: string,
  kid: string,
  createdAt: Date,
  type: 'ec' | 'rsa' | 'ed25519' = 'ec',
  lifecycle: Lifecycle = {},
): StoredKey {
  const { privateKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = type === 'rsa' ? 'RS256' : type === 'ed25519' ? 'EdDSA' : 'ES256';
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } as KeyPairPrivateJwk;
  privateValues.push(jwk.d);
  return { set, kid, alg, use: 'sig', createdAt, lifecycle, privateJwk: jwk };
}

/** A time `minutes` after a fixed instant. */
export const at = (minutes: number) => new Date(Date.UTC(2024, 0, 1) + minutes * 60_000);

/** Runs `fn` and returns what it threw or rejected with; fails the test when it succeeds. */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure, but the call succeeded');
}

/** No secret and no private key value appears in the message or any property of `e`. */
export function expectNoLeak(e: unknown): void {
  const text = `${(e as Error).message ?? ''} ${JSON.stringify(e)} ${String((e as Error).stack ?? '')}`;
  for (const s of [...ALL_SECRETS, ...privateValues]) expect(text).not.toContain(s);
}

/** `e` is a StoreError with `code`, naming `row` (when given) in its properties and message. */
export function expectStoreError(e: unknown, code: StoreErrorCode, row?: { set: string; kid: string }): void {
  expect(e).toBeInstanceOf(StoreError);
  const err = e as StoreError;
  expect(err.code).toBe(code);
  if (row) {
    expect({ set: err.set, kid: err.kid }).toEqual(row);
    expect(err.message).toContain(row.set);
    expect(err.message).toContain(row.kid);
  }
  expectNoLeak(e);
}

/** Runs `fn` on the raw SQLite file (the store should be closed meanwhile). */
export function raw<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Resolves, with how long it took, once `pred` holds (checked every 10 ms); fails after `ms`. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<number> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
  return Date.now() - start;
}
