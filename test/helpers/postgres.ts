// PostgreSQL for the tests. A schema of its own per test file (files run in parallel against one
// database): dropped and created afresh, reached through a DSN whose search_path names it.
// PG_TEST_DSN (set by .ci/run through scripts/test-postgres.sh) names the server.
// When no server answers, describePostgres() declares the suite skipped (saying why, once per
// file), or, under CI=true, as one failing test: CI must never pass without PostgreSQL. The check
// is synchronous (a child process connects), because jest needs to know while tests are declared.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { Client } from 'pg';

export const BASE_DSN = process.env.PG_TEST_DSN ?? 'postgres://hsm:hsm-test@127.0.0.1:5432/hsm_jwks_test';

/** The DSN of `schema` on the test server (its search_path names the schema). */
export function schemaDsn(schema: string): string {
  const sep = BASE_DSN.includes('?') ? '&' : '?';
  return `${BASE_DSN}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

export async function postgresSchema(schema: string, what: string): Promise<{ dsn?: string; why?: string }> {
  const c = new Client({ connectionString: BASE_DSN });
  try {
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.query(`CREATE SCHEMA ${schema}`);
    return { dsn: schemaDsn(schema) };
  } catch (e) {
    const why = (e as Error).message;
    console.warn(`skipping ${what}: no PostgreSQL at PG_TEST_DSN (${why}); .ci/run starts one`);
    return { why };
  } finally {
    await c.end().catch(() => undefined);
  }
}

const PROBE = `
const { Client } = require('pg');
const c = new Client({ connectionString: process.env.PROBE_DSN, connectionTimeoutMillis: 3000 });
c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(
  () => process.exit(0),
  (e) => { process.stderr.write(String((e && e.message) || e)); process.exit(1); },
);`;

let availability: { ok: true } | { ok: false; why: string } | undefined;

/** Whether a PostgreSQL server answers at BASE_DSN (asked once per test file). */
export function postgresAvailability(): { ok: true } | { ok: false; why: string } {
  if (availability) return availability;
  const r = spawnSync(process.execPath, ['-e', PROBE], {
    cwd: path.join(__dirname, '..', '..'),
    env: { ...process.env, PROBE_DSN: BASE_DSN },
    encoding: 'utf8',
    timeout: 15_000,
  });
  availability =
    r.status === 0
      ? { ok: true }
      : {
          ok: false,
          why: (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().slice(0, 300) || 'no answer',
        };
  return availability;
}

let warned = false;

/**
 * describe() for a suite that needs PostgreSQL: run when a server answers at PG_TEST_DSN; when
 * none does, one failing test under CI=true, otherwise skipped (jest reports its tests as skipped).
 */
export function describePostgres(name: string, fn: () => void): void {
  const a = postgresAvailability();
  if (a.ok) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      test('a PostgreSQL server answers at PG_TEST_DSN (required when CI=true)', () => {
        throw new Error(
          `no PostgreSQL answers at PG_TEST_DSN (${a.why}); .ci/run starts one with scripts/test-postgres.sh`,
        );
      });
    });
  } else {
    if (!warned)
      console.warn(
        `skipping the PostgreSQL suites of this file: no server answers at PG_TEST_DSN (${a.why}); scripts/test-postgres.sh starts one`,
      );
    warned = true;
    describe.skip(name, fn);
  }
}
