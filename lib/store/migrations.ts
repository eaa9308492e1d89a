// The store's schema: one ordered list of migrations for every dialect (column types named per
// dialect), each applied once and recorded in schema_migrations (version = position, from 1).
// Pending migrations are applied in one transaction, behind the dialect's migration lock, so two
// processes opening a database at once cannot both apply one.
import type { ColumnTypes, Dialect } from './dialect';

export type Migration = (t: ColumnTypes) => string;

/** Never edit or reorder a released migration: append a new one. */
export const MIGRATIONS: readonly Migration[] = [
  // 1 (released): sealed software keys (envelope v1 binds set and kid), and what the token cannot
  //   hold about HSM keys we generate: their creation time and the alg they were made for.
  (t) => `
  CREATE TABLE jwk_keys (
    set_name   TEXT    NOT NULL,
    kid        TEXT    NOT NULL,
    alg        TEXT    NOT NULL,
    "use"      TEXT    NOT NULL,
    created_at ${t.int64} NOT NULL, -- ms since the epoch
    sealed     ${t.blob} NOT NULL, -- AES-GCM envelope of the private JWK (sealing.ts)
    PRIMARY KEY (set_name, kid)
  );
  CREATE INDEX jwk_keys_set_created ON jwk_keys (set_name, created_at);
  CREATE TABLE hsm_keys (
    set_name   TEXT    NOT NULL,
    kid        TEXT    NOT NULL,
    created_at ${t.int64} NOT NULL, -- ms since the epoch
    alg        TEXT    NOT NULL,
    PRIMARY KEY (set_name, kid)
  );
  `,
  // 2: lifecycles under the seal (envelope v2 binds every column: aad.ts); sealed HSM records
  //   (sealed IS NULL: a legacy row, use and lifecycle unknown); kid lookups across sets; a
  //   version per set for watchers in other processes; lease rows for SQLite's cross-process lock
  //   (PostgreSQL uses advisory locks and leaves store_locks empty).
  (t) => `
  ALTER TABLE jwk_keys ADD COLUMN activate_at ${t.int64};
  ALTER TABLE jwk_keys ADD COLUMN retire_at ${t.int64};
  ALTER TABLE jwk_keys ADD COLUMN remove_at ${t.int64};
  CREATE INDEX jwk_keys_kid ON jwk_keys (kid);
  ALTER TABLE hsm_keys ADD COLUMN "use" TEXT;
  ALTER TABLE hsm_keys ADD COLUMN activate_at ${t.int64};
  ALTER TABLE hsm_keys ADD COLUMN retire_at ${t.int64};
  ALTER TABLE hsm_keys ADD COLUMN remove_at ${t.int64};
  ALTER TABLE hsm_keys ADD COLUMN sealed ${t.blob};
  CREATE INDEX hsm_keys_kid ON hsm_keys (kid);
  CREATE TABLE store_changes (
    set_name TEXT PRIMARY KEY,
    version  ${t.int64} NOT NULL -- bumped by every write to the set, in the writing transaction
  );
  CREATE TABLE store_locks (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,    -- random per acquisition
    expires_at ${t.int64} NOT NULL -- ms since the epoch; renewed while the holder runs
  );
  `,
  // 3: certificate chains of software keys, published as x5c: one row per key, the PEM chain
  //   sealed (cert-codec.ts); deleted with its key.
  (t) => `
  CREATE TABLE key_certificates (
    set_name TEXT NOT NULL,
    kid      TEXT NOT NULL,
    sealed   ${t.blob} NOT NULL, -- AES-GCM envelope of the PEM chain, the key's certificate first
    PRIMARY KEY (set_name, kid)
  );
  `,
];

/** Applies the migrations not yet recorded; returns how many were applied. Safe on every open. */
export async function migrate(dialect: Dialect): Promise<number> {
  return dialect.transaction(async (tx) => {
    await dialect.lockMigrations(tx);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at ${dialect.types.int64})`,
    );
    const done = new Set(
      (await tx.all<{ version: unknown }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)),
    );
    let applied = 0;
    for (const [i, migration] of MIGRATIONS.entries()) {
      const version = i + 1;
      if (done.has(version)) continue;
      await tx.exec(migration(dialect.types));
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [version, Date.now()]);
      applied++;
    }
    return applied;
  });
}
