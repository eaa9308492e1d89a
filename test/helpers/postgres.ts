// A PostgreSQL schema of its own for a test file (files run in parallel against one database):
// dropped and created afresh, reached through a DSN whose search_path names it. PG_TEST_DSN
// (set by .ci/run through scripts/test-postgres.sh) names the server; when none answers, the
// caller skips and this says why.
import { Client } from 'pg';

export const BASE_DSN = process.env.PG_TEST_DSN ?? 'postgres://hsm:hsm-test@127.0.0.1:5432/hsm_jwks_test';

export async function postgresSchema(schema: string, what: string): Promise<{ dsn?: string; why?: string }> {
  const c = new Client({ connectionString: BASE_DSN });
  try {
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.query(`CREATE SCHEMA ${schema}`);
    const sep = BASE_DSN.includes('?') ? '&' : '?';
    return { dsn: `${BASE_DSN}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}` };
  } catch (e) {
    const why = (e as Error).message;
    console.warn(`skipping ${what}: no PostgreSQL at PG_TEST_DSN (${why}); .ci/run starts one`);
    return { why };
  } finally {
    await c.end().catch(() => undefined);
  }
}
