// The JWKS through an outage of the token or the store: the last good set is served, marked
// stale with its age, instead of an error; rebuilds are retried, not attempted per request.
import { HsmJwksError } from '../../lib/errors';
import type { KeyManager } from '../../lib/keys/key-manager';
import { JwksCache } from '../../lib/server/jwks-cache';

function flakyManager() {
  const state = { down: false, hang: false, calls: 0 };
  const km = {
    getKeySet: async (set: string) => {
      state.calls++;
      if (state.hang) await new Promise((r) => setTimeout(r, 5000).unref());
      if (state.down) throw new HsmJwksError('ERR_TOKEN_UNAVAILABLE', 'the token is gone');
      return { keys: [{ kty: 'OKP', crv: 'Ed25519', x: set, kid: set, alg: 'EdDSA', use: 'sig' }] };
    },
  } as unknown as KeyManager;
  return { km, state };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an outage after a good build: the last set, stale, with its age; no rebuild per request; fresh again after', async () => {
  const { km, state } = flakyManager();
  const errors: unknown[] = [];
  const cache = new JwksCache(km, ['a'], 50, undefined, (e) => errors.push(e));
  const good = await cache.get();
  expect(good.stale).toBeUndefined();
  state.down = true;
  await sleep(60);
  const calls = state.calls;
  const stale = await cache.get();
  expect(stale).toMatchObject({ body: good.body, etag: good.etag, stale: true, ageSeconds: 0 });
  expect(state.calls).toBe(calls + 1);
  expect((errors[0] as { code?: string }).code).toBe('ERR_TOKEN_UNAVAILABLE');
  for (let i = 0; i < 10; i++) expect((await cache.get()).stale).toBe(true);
  expect(state.calls).toBe(calls + 1); // within RETRY_AFTER_FAILURE_MS: no new attempt
  state.down = false;
  cache.invalidate(); // a write: rebuild now
  const back = await cache.get();
  expect(back.stale).toBeUndefined();
});

test('no good set yet: the error', async () => {
  const { km, state } = flakyManager();
  state.down = true;
  await expect(new JwksCache(km, ['a']).get()).rejects.toMatchObject({ code: 'ERR_TOKEN_UNAVAILABLE' });
});

test('a rebuild that hangs: the last good set after a bounded wait', async () => {
  const { km, state } = flakyManager();
  const cache = new JwksCache(km, ['a'], 10);
  await cache.get();
  state.hang = true;
  await sleep(20);
  const started = Date.now();
  const r = await cache.get();
  expect(r.stale).toBe(true);
  expect(Date.now() - started).toBeLessThan(4500);
});
