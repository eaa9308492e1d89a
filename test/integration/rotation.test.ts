// Rotation end to end, on a clock the test moves: two service instances share PostgreSQL and one
// SoftHSM token, rotate their public set on a schedule (ROTATE_EVERY), and a relying party on each
// uses jose's createRemoteJWKSet with the service's Cache-Control max-age as its cache age (and no
// early refetch on an unknown kid: the strictest verifier the header allows). Every token issued
// across three rotations verifies, for as long as it is valid. With the publish-ahead time forced
// below the cache age (what ROTATE_PUBLISH_AHEAD's check refuses), the same run fails: the test
// can fail.
import { createRemoteJWKSet, jwtVerify } from 'jose';

import { loadConfig, type Config } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { startService, type Service } from '../../lib/server/serve';
import { fetch } from '../helpers/recording-fetch';
import { describePostgres, postgresSchema } from '../helpers/postgres';
import { hsmEnv, softHsm } from '../helpers/softhsm';

const ADMIN = 'rotation-admin-token-of-the-tests';
const SET = 'rotating.id-token';
const MIN = 60_000;
const STEP = 5_000;

interface Outcome {
  issued: number;
  checks: number;
  failures: string[];
  kids: Set<string>;
  destroyed: number;
}

async function run(schema: string, tokenLabel: string, publishAheadOverrideMs?: number): Promise<Outcome> {
  const { dsn, why } = await postgresSchema(schema, 'the rotation test');
  if (!dsn) throw new Error(`no PostgreSQL: ${why}`);
  softHsm().initToken(tokenLabel);
  let config: Config = loadConfig({
    ...hsmEnv(tokenLabel, dsn, 'rotation-test-secret-of-32-chars'),
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: SET,
    JWKS_DEFAULT_ALG: 'ES256',
    JWKS_CACHE_SECONDS: '30',
    ROTATE_EVERY: '10m',
    TOKEN_MAX_LIFETIME: '2m',
    ROTATE_RETIRE_AFTER: '3m',
    LOG_LEVEL: 'silent',
  });
  if (publishAheadOverrideMs !== undefined) config = { ...config, publishAheadMs: publishAheadOverrideMs }; // past loadConfig's check
  const services: Service[] = [];
  try {
    // The schedule is driven by the test (tick), not by timers.
    for (let i = 0; i < 2; i++) services.push(await startService(config, { logger: silentLogger, schedule: false }));
    const maxAge = Number(
      /max-age=(\d+)/.exec(
        (await fetch(`${services[0]!.publicUrl}/.well-known/jwks.json`)).headers.get('cache-control') ?? '',
      )?.[1],
    );
    expect(maxAge).toBe(30);
    const parties = services.map((s) =>
      createRemoteJWKSet(new URL(`${s.publicUrl}/.well-known/jwks.json`), {
        cacheMaxAge: maxAge * 1000,
        cooldownDuration: maxAge * 1000,
      }),
    );
    const outcome: Outcome = { issued: 0, checks: 0, failures: [], kids: new Set(), destroyed: 0 };
    const live: Array<{ jwt: string; exp: number }> = [];
    const end = Date.now() + 35 * MIN;
    for (let step = 0; Date.now() < end; step++) {
      jest.setSystemTime(Date.now() + STEP);
      for (const s of services) await s.rotator.tick();
      const via = services[step % 2]!;
      const exp = Math.floor(Date.now() / 1000) + 120;
      const res = await fetch(`${via.adminUrl}/admin/jwt/${SET}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ claims: { sub: `step-${step}`, exp } }),
      });
      expect(res.status).toBe(200);
      live.push({ jwt: ((await res.json()) as { token: string }).token, exp });
      outcome.issued++;
      while (live.length > 0 && live[0]!.exp * 1000 <= Date.now()) live.shift();
      for (const { jwt } of live) {
        for (const [i, jwks] of parties.entries()) {
          outcome.checks++;
          try {
            outcome.kids.add(String((await jwtVerify(jwt, jwks)).protectedHeader.kid));
          } catch (e) {
            outcome.failures.push(
              `t+${step * 5}s party ${i}: ${(e as { code?: string }).code ?? (e as Error).message}`,
            );
          }
        }
      }
    }
    if (process.env.ROTATION_TEST_REPORT)
      process.stderr.write(
        `rotation run ${schema}: issued ${outcome.issued}, checks ${outcome.checks}, failures ${outcome.failures.length}, kids ${outcome.kids.size}\n`,
      );
    outcome.destroyed = outcome.kids.size - (await services[0]!.km.list()).filter((k) => k.set === SET).length;
    return outcome;
  } finally {
    for (const s of services) await s.close();
  }
}

describePostgres('rotation across instances, with a moved clock', () => {
  beforeEach(() => {
    jest.useFakeTimers({
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
    });
    jest.setSystemTime(Date.UTC(2026, 5, 1, 12));
  });
  afterEach(() => jest.useRealTimers());

  test('three scheduled rotations: every token verifies at both relying parties while it is valid', async () => {
    const o = await run('rotation_ok', 'rotation-ok');
    expect(o.failures).toEqual([]);
    expect(o.kids.size).toBe(4); // the first key and three rotations
    expect(o.issued).toBeGreaterThan(400);
    expect(o.checks).toBeGreaterThan(o.issued * 2 * 10); // each token checked at both parties, many times
    expect(o.destroyed).toBeGreaterThanOrEqual(2); // removed keys were destroyed (the last one may still be retired)
  }, 240_000);

  test('the same run with the publish-ahead time below the cache age fails', async () => {
    const o = await run('rotation_unsafe', 'rotation-unsafe', 5_000);
    expect(o.failures.length).toBeGreaterThan(0);
    expect(o.failures.join('\n')).toMatch(/ERR_JWKS_NO_MATCHING_KEY/);
  }, 240_000);
});
