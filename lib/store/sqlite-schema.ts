// The SQLite key store's schema: an ordered list of migrations, each applied once, in its own
// transaction, and recorded in schema_migrations (version = position in the list, from 1).
import type Database from 'better-sqlite3';

/** Never edit or reorder a released migration: append a new one. */
export const MIGRATIONS: readonly string[] = [
  // 1: sealed software keys, and what the token cannot hold about HSM keys we generate: their
  //    creation time (so the newest signs) and the alg they were made for (RS384, PS256, ...).
  `
  CREATE TABLE jwk_keys (
    set_name   TEXT    NOT NULL,
    kid        TEXT    NOT NULL,
    alg        TEXT    NOT NULL,
    "use"      TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- ms since the epoch
    sealed     BLOB    NOT NULL, -- AES-GCM envelope of the private JWK (sealing.ts)
    PRIMARY KEY (set_name, kid)
  );
  CREATE INDEX jwk_keys_set_created ON jwk_keys (set_name, created_at);
  CREATE TABLE hsm_keys (
    set_name   TEXT    NOT NULL,
    kid        TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- ms since the epoch
    alg        TEXT    NOT NULL,
    PRIMARY KEY (set_name, kid)
  );
  `,
];

/** Applies the migrations not yet recorded; returns how many were applied. Safe on every open. */
export function migrate(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)');
  const isApplied = db.prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?');
  const record = db.prepare<[number, number]>('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  let applied = 0;
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    // IMMEDIATE takes the write lock before checking, so two processes opening a new file at once
    // cannot both apply the same migration.
    db.transaction(() => {
      if (isApplied.get(version)) return;
      db.exec(sql);
      record.run(version, Date.now());
      applied++;
    }).immediate();
  });
  return applied;
}
