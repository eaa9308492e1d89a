// A database as the previous release made it: its schema (migration 1, copied verbatim from the
// released sqlite-schema.ts and pg-store.ts) and rows sealed as it sealed them (envelope v1, AAD
// binding set and kid only), written here independently of lib/store with node:crypto.
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';

import type { StoredKey } from '../../lib/store/key-store';
import type { Backend } from './store-backends';

const V1_SCHEMA = {
  SQLite: [
    `CREATE TABLE jwk_keys (
      set_name TEXT NOT NULL, kid TEXT NOT NULL, alg TEXT NOT NULL, "use" TEXT NOT NULL,
      created_at INTEGER NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (set_name, kid))`,
    'CREATE INDEX jwk_keys_set_created ON jwk_keys (set_name, created_at)',
    `CREATE TABLE hsm_keys (
      set_name TEXT NOT NULL, kid TEXT NOT NULL, created_at INTEGER NOT NULL, alg TEXT NOT NULL,
      PRIMARY KEY (set_name, kid))`,
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)',
  ],
  PostgreSQL: [
    `CREATE TABLE jwk_keys (
      set_name TEXT NOT NULL, kid TEXT NOT NULL, alg TEXT NOT NULL, "use" TEXT NOT NULL,
      created_at BIGINT NOT NULL, sealed BYTEA NOT NULL, PRIMARY KEY (set_name, kid))`,
    'CREATE INDEX jwk_keys_set_created ON jwk_keys (set_name, created_at)',
    `CREATE TABLE hsm_keys (
      set_name TEXT NOT NULL, kid TEXT NOT NULL, created_at BIGINT NOT NULL, alg TEXT NOT NULL,
      PRIMARY KEY (set_name, kid))`,
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT)',
  ],
};

/** The v1 envelope of `plaintext` for (set, kid) under `secret`. */
export function sealV1(secret: string, set: string, kid: string, plaintext: Buffer): Buffer {
  const derive = (info: string, n: number) => Buffer.from(hkdfSync('sha256', secret, 'hsm-jwks/sealing', info, n));
  const [key, id, nonce] = [derive('aes-256-gcm key v1', 32), derive('secret id v1', 8), randomBytes(12)];
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify(['hsm-jwks/key-row/v1', set, kid]))]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), id, nonce, ciphertext, cipher.getAuthTag()]);
}

/** Makes the current database of `b` a v1 database (migration 1 applied and recorded). */
export async function createV1Database(b: Backend): Promise<void> {
  for (const sql of V1_SCHEMA[b.name]) await b.sql(sql);
  await b.sql('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [1, Date.UTC(2024, 0, 1)]);
}

/** Inserts `key` as the previous release did (its lifecycle is ignored: v1 had none). */
export async function insertV1Key(b: Backend, secret: string, key: StoredKey): Promise<void> {
  const sealed = sealV1(secret, key.set, key.kid, Buffer.from(JSON.stringify(key.privateJwk)));
  await b.sql('INSERT INTO jwk_keys (set_name, kid, alg, "use", created_at, sealed) VALUES (?, ?, ?, ?, ?, ?)', [
    key.set,
    key.kid,
    key.alg,
    key.use,
    key.createdAt.getTime(),
    sealed,
  ]);
}

export async function insertV1HsmRecord(
  b: Backend,
  set: string,
  kid: string,
  createdAt: Date,
  alg: string,
): Promise<void> {
  await b.sql('INSERT INTO hsm_keys (set_name, kid, created_at, alg) VALUES (?, ?, ?, ?)', [
    set,
    kid,
    createdAt.getTime(),
    alg,
  ]);
}
