// Opens the software key store named by a DSN: `sqlite://relative/path.sqlite` (relative to the
// current directory), `sqlite:///absolute/path.sqlite`, `sqlite://:memory:`, or
// `postgres://user:password@host:port/database` (PostgreSQL, for instances that share keys).
// Messages never echo a whole DSN, which may carry credentials.
import { resolve } from 'node:path';

import type { StoreOptions } from './dialect';
import { StoreError } from './errors';
import type { KeyStore } from './key-store';
import { PgDialect } from './pg-dialect';
import { Sealer } from './sealing';
import { SqlKeyStore } from './sql-key-store';
import { SqliteDialect } from './sqlite-dialect';

export type { StoreOptions } from './dialect';

export const DEFAULT_DSN = 'sqlite://data/hsm-jwks.sqlite';

export type ParsedDsn = { kind: 'sqlite'; path: string } | { kind: 'postgres'; dsn: string };

/** Parses a store DSN; throws ERR_STORE_DSN when it cannot be used. */
export function parseDsn(dsn: string): ParsedDsn {
  if (typeof dsn !== 'string' || dsn.trim() === '') throw new StoreError('ERR_STORE_DSN', 'the key store DSN is empty');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(dsn)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new StoreError('ERR_STORE_DSN', 'the key store DSN has no scheme; expected sqlite://path');
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    if (!/^postgres(ql)?:\/\/[^/]/.test(dsn))
      throw new StoreError('ERR_STORE_DSN', 'a PostgreSQL DSN is postgres://user:password@host:port/database');
    return { kind: 'postgres', dsn };
  }
  if (scheme !== 'sqlite') {
    throw new StoreError(
      'ERR_STORE_DSN',
      `unsupported key store scheme ${JSON.stringify(scheme)}; expected sqlite://path or postgres://…`,
    );
  }
  const rest = dsn.slice('sqlite:'.length);
  if (!rest.startsWith('//')) {
    throw new StoreError(
      'ERR_STORE_DSN',
      'a sqlite DSN must start with sqlite:// (sqlite:///absolute/path or sqlite://relative/path)',
    );
  }
  const path = rest.slice(2);
  if (path === '' || path === '/') throw new StoreError('ERR_STORE_DSN', 'the sqlite DSN names no file');
  if (path.includes('?')) throw new StoreError('ERR_STORE_DSN', 'sqlite DSN query parameters are not supported');
  if (path === ':memory:') return { kind: 'sqlite', path };
  return { kind: 'sqlite', path: resolve(process.cwd(), path) };
}

/**
 * Opens the store named by `dsn`, sealing with the first of `secrets` and opening with any.
 * Migrations run in the background; the first call waits for them and reports their failure.
 */
export function openKeyStore(dsn: string, secrets: readonly string[], options: StoreOptions = {}): KeyStore {
  const parsed = parseDsn(dsn);
  const sealer = new Sealer(secrets);
  const dialect =
    parsed.kind === 'postgres' ? new PgDialect(parsed.dsn, options) : SqliteDialect.open(parsed.path, options);
  return new SqlKeyStore(dialect, sealer);
}
