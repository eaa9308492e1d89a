// hsm-jwks/oidc-provider against the provider's own ExternalSigningKey class, with software keys
// (the end-to-end test with a token is test/integration/oidc-provider.test.ts): the order the
// provider signs in, what is left out, what a signature is, and the watch.
import { verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ExternalSigningKey } from 'oidc-provider';

import { loadConfig } from '../../lib/config';
import { createKeyManager } from '../../lib/keys/create';
import type { KeyRing } from '../../lib/keys/key-ring';
import { providerKeys, watchProviderKeys, type ProviderSigningKey } from '../../lib/oidc-provider';

let dir: string;
let km: KeyRing;
let now = Date.parse('2026-01-01T00:00:00Z');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-oidc-keys-'));
  const env = {
    DSN: `sqlite://${path.join(dir, 'k.sqlite')}`,
    SECRETS_SYSTEM: 'oidc-provider-keys-unit-secret',
    ROTATE_PUBLISH_AHEAD: '120s',
  };
  km = await createKeyManager(loadConfig(env), { clock: () => now });
});
afterAll(async () => {
  await km?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const kidsOf = (keys: ProviderSigningKey[]) => keys.map((k) => k.kid);

test('the active key first, then the published ones; enc and symmetric keys are left out', async () => {
  const first = (await km.generateAndPersistKeySet('p', 'first', 'ES256', 'sig')).keys[0].kid;
  await km.generateAndPersistKeySet('p', 'enc', 'RS256', 'enc');
  await km.generateAndPersistKeySet('p', 'mac', 'HS256', 'sig');
  const next = (await km.generateAndPersistKeySet('p', 'next', 'ES256', 'sig')).keys[0].kid; // published ahead
  const keys = await providerKeys(km, 'p', { ExternalSigningKey });
  expect(kidsOf(keys)).toEqual([first, next]);
  for (const k of keys) {
    expect(k).toBeInstanceOf(ExternalSigningKey);
    expect(k).toMatchObject({ alg: 'ES256', use: 'sig' });
  }
  // The provider reads the public members through the base class's getters.
  expect((keys[0] as unknown as { crv: string }).crv).toBe('P-256');
  const data = Buffer.from('header.payload');
  const sig = await keys[0].sign(data);
  expect(sig).toHaveLength(64); // JWS (IEEE P1363) form, as the provider wants it
  expect(verify('sha256', data, { key: keys[0].keyObject(), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  // A key that is not active does not sign: the key manager decides.
  await expect(keys[1].sign(data)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ACTIVE' });
});

test('a set without an active signing key is an error, not an empty list', async () => {
  await km.generateAndPersistKeySet('only-enc', 'only-enc-1', 'RS256', 'enc');
  await expect(providerKeys(km, 'only-enc', { ExternalSigningKey })).rejects.toMatchObject({
    code: 'ERR_NO_SIGNING_KEY',
  });
});

test('the watch calls back when the order changes (the next key activates), not before', async () => {
  const seen: Array<Array<string | undefined>> = [];
  const errors: unknown[] = [];
  const stop = watchProviderKeys(km, 'p', (keys) => seen.push(kidsOf(keys)), {
    ExternalSigningKey,
    intervalMs: 10,
    onError: (e) => errors.push(e),
  });
  try {
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]); // the first look only records the order
    now += 121_000; // "next" is active now, and is the newest active key
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([['next', 'first']]);
    expect(errors).toEqual([]);
  } finally {
    stop();
  }
  expect(() => watchProviderKeys(km, 'p', () => undefined, { intervalMs: 0 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
});

test('a set whose active key is symmetric is ERR_NO_SIGNING_KEY, not an empty list', async () => {
  await km.generateAndPersistKeySet('mac-only', 'mac-only-1', 'HS256', 'sig');
  await expect(providerKeys(km, 'mac-only', { ExternalSigningKey })).rejects.toMatchObject({
    code: 'ERR_NO_SIGNING_KEY',
  });
});

test('the watch compares with the keys the provider has: a change before the first look is not missed', async () => {
  const held = await providerKeys(km, 'late', { ExternalSigningKey }).catch(() => undefined);
  expect(held).toBeUndefined(); // no such set yet
  await km.generateAndPersistKeySet('late', 'late-a', 'ES256', 'sig');
  const current = await providerKeys(km, 'late', { ExternalSigningKey });
  await km.generateAndPersistKeySet('late', 'late-b', 'ES256', 'sig', { activateNow: true }); // before the watch starts
  const seen: Array<Array<string | undefined>> = [];
  const stop = watchProviderKeys(km, 'late', (keys) => seen.push(kidsOf(keys)), {
    ExternalSigningKey,
    current,
    intervalMs: 10,
  });
  try {
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([['late-b', 'late-a']]);
  } finally {
    stop();
  }
});

test('after failed looks, the first look that succeeds calls back', async () => {
  await km.generateAndPersistKeySet('broken', 'broken-enc', 'RS256', 'enc'); // no signing key: looks fail
  const seen: Array<Array<string | undefined>> = [];
  const errors: string[] = [];
  const stop = watchProviderKeys(km, 'broken', (keys) => seen.push(kidsOf(keys)), {
    ExternalSigningKey,
    intervalMs: 10,
    onError: (e) => errors.push((e as { code: string }).code),
  });
  try {
    await new Promise((r) => setTimeout(r, 100));
    expect(errors[0]).toBe('ERR_NO_SIGNING_KEY');
    await km.generateAndPersistKeySet('broken', 'broken-sig', 'ES256', 'sig');
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([['broken-sig']]);
  } finally {
    stop();
  }
});
