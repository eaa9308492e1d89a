// The published JWKS: keys that vanish without an announced delete stay published (tokens they
// signed must keep verifying); a delete through the service or announced by the store removes them.
import { setNotFound } from '../../lib/keys/errors';
import type { KeyManager } from '../../lib/keys/key-manager';
import { JwksCache } from '../../lib/server/jwks-cache';

function fakeManager(sets: Map<string, string[]>): KeyManager {
  return {
    getKeySet: async (set: string) => {
      const kids = sets.get(set);
      if (!kids) throw setNotFound(set);
      return { keys: kids.map((kid) => ({ kty: 'OKP', crv: 'Ed25519', x: kid, kid, alg: 'EdDSA', use: 'sig' })) };
    },
  } as unknown as KeyManager;
}

const kids = async (c: JwksCache) =>
  (JSON.parse((await c.get()).body) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);

test('keys that vanish unannounced stay published, and say so; an announced write lets them go', async () => {
  const sets = new Map([
    ['a', ['a1']],
    ['b', ['b1']],
  ]);
  const vanished: string[] = [];
  const cache = new JwksCache(fakeManager(sets), ['a', 'b'], 30_000, (set) => vanished.push(set));
  expect(await kids(cache)).toEqual(['a1', 'b1']);
  sets.delete('a'); // the token lost them
  cache.invalidate();
  expect(await kids(cache)).toEqual(['a1', 'b1']);
  expect(vanished).toEqual(['a']);
  cache.invalidate('a'); // deleted through the service, or announced by the store
  expect(await kids(cache)).toEqual(['b1']);
});

test('a set that never had keys publishes nothing', async () => {
  const cache = new JwksCache(fakeManager(new Map([['b', ['b1']]])), ['a', 'b']);
  expect(await kids(cache)).toEqual(['b1']);
});
