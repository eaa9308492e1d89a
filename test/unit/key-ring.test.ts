// The key ring's one rule for a set (union of token and store keys, kid conflicts, lifecycle,
// fail closed), against in-memory sources and a clock the tests move. Replaces the old
// HSM-first routing table: a set is no longer answered by whichever place has it first.
import { ensureKeySet } from '../../lib/keys/ensure';
import type { KeyEntry, KeyProblem } from '../../lib/keys/key-entry';
import { KeyRing } from '../../lib/keys/key-ring';
import { rotate, Rotator } from '../../lib/keys/rotation';
import type { KeySource, NewKey, SetReading } from '../../lib/keys/key-source';
import type { HsmKeySource } from '../../lib/keys/hsm-source';
import type { SoftwareKeySource } from '../../lib/keys/software-source';
import type { Lifecycle, StoredKey } from '../../lib/store/key-store';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

class FakeSource implements KeySource {
  entries: KeyEntry[] = [];
  problems: KeyProblem[] = [];
  failRead: Error | undefined;
  generated: NewKey[] = [];
  store = {
    watch: () => () => undefined,
    touch: async () => undefined,
    withLock: <T>(_n: string, fn: () => Promise<T>) => fn(),
    close: async () => undefined,
  };
  constructor(readonly where: 'hsm' | 'software') {}
  async read(set: string): Promise<SetReading> {
    if (this.failRead) throw this.failRead;
    return { entries: this.entries.filter((e) => e.set === set), problems: this.problems.filter((p) => p.set === set) };
  }
  async sets() {
    return [...new Set([...this.entries, ...this.problems].map((e) => e.set))];
  }
  async setsWithKids(kids: readonly string[]) {
    const out = new Map<string, string[]>();
    for (const kid of kids) {
      const sets = [...new Set(this.entries.filter((e) => e.kid === kid).map((e) => e.set))];
      if (sets.length > 0) out.set(kid, sets);
    }
    return out;
  }
  async generate(k: NewKey): Promise<KeyEntry> {
    this.generated.push(k);
    const e = { ...entry(this.where, k.set, k.kid, k.createdAt.getTime(), k.lifecycle), alg: k.alg as KeyEntry['alg'] };
    this.entries.push(e);
    return e;
  }
  async write(set: string, keys: StoredKey[], mode: string) {
    if (mode === 'replace') this.entries = this.entries.filter((e) => e.set !== set);
    for (const k of keys) {
      this.entries = this.entries.filter((e) => !(e.set === set && e.kid === k.kid));
      this.entries.push(entry('software', set, k.kid, k.createdAt.getTime(), k.lifecycle));
    }
  }
  async delete(e: KeyEntry) {
    this.entries = this.entries.filter((x) => x !== e);
  }
  async setLifecycle(e: KeyEntry, lifecycle: Lifecycle) {
    const i = this.entries.findIndex((x) => x.set === e.set && x.kid === e.kid);
    this.entries[i] = { ...this.entries[i]!, lifecycle };
  }
  signer(e: KeyEntry) {
    return { kid: e.kid, alg: 'ES256' as const, publicJwk: e.publicJwk, sign: async () => new Uint8Array(64) };
  }
  stats() {
    return {};
  }
  async close() {}
}

function entry(
  where: 'hsm' | 'software',
  set: string,
  kid: string,
  created: number | undefined,
  lifecycle: Lifecycle = {},
  use: 'sig' | 'enc' = 'sig',
): KeyEntry {
  return {
    set,
    kid,
    where,
    alg: use === 'sig' ? 'ES256' : 'RSA-OAEP-256',
    use,
    createdAt: created === undefined ? undefined : new Date(created),
    lifecycle,
    origin: created === undefined ? 'foreign' : 'ours',
    publicJwk: { kty: 'EC', crv: 'P-256', x: kid, y: where, kid, alg: 'ES256', use },
  };
}

function ring(withHsm = true, maxTokenLifetimeMs?: number, publishedSets?: string[]) {
  let now = T0;
  const hsm = new FakeSource('hsm');
  const software = new FakeSource('software');
  const km = new KeyRing(
    software as unknown as SoftwareKeySource,
    withHsm ? (hsm as unknown as HsmKeySource) : undefined,
    {
      clock: () => now,
      publishAheadMs: 5 * MIN,
      ...(maxTokenLifetimeMs ? { maxTokenLifetimeMs } : {}),
      ...(publishedSets ? { publishedSets } : {}),
    },
  );
  return { km, hsm, software, at: (ms: number) => (now = ms) };
}

const kids = async (km: KeyRing, set: string) => (await km.getKeySet(set)).keys.map((k) => k.kid);

test('a set is the union of its token and store keys; the newest active key signs, wherever it is', async () => {
  const { km, hsm, software } = ring();
  hsm.entries.push(entry('hsm', 's', 'h-old', T0 - 10 * MIN));
  software.entries.push(entry('software', 's', 'sw-new', T0 - MIN));
  expect(await kids(km, 's')).toEqual(['sw-new', 'h-old']);
  expect((await km.signer('s')).kid).toBe('sw-new');
  expect((await km.getKey('s', 'h-old')).keys[0]!.kid).toBe('h-old');
});

test('one kid in one set on both sides: the token key is published and signs, the other is reported', async () => {
  const { km, hsm, software } = ring();
  hsm.entries.push(entry('hsm', 's', 'k', T0 - 10 * MIN));
  software.entries.push(entry('software', 's', 'k', T0 - MIN));
  const set = await km.getKeySet('s');
  expect(set.keys).toHaveLength(1);
  expect(set.keys[0]).toMatchObject({ kid: 'k', y: 'hsm' });
  expect(await km.problems()).toEqual([
    expect.objectContaining({ kind: 'kid-conflict', set: 's', kid: 'k', where: 'software' }),
  ]);
  expect(km.stats()).toMatchObject({ hsm_jwks_key_problems: 1 });
  software.entries = [];
  km.invalidate('s');
  await km.getKeySet('s');
  expect(km.stats()).toMatchObject({ hsm_jwks_key_problems: 0 }); // the gauge says what is wrong now
});

test('one kid in two sets (the guide flow): the token over the store, then the set name that sorts first', async () => {
  const { km, hsm, software } = ring();
  hsm.entries.push(entry('hsm', 'b-set', 'test-key-id', undefined), entry('hsm', 'a-set', 'test-key-id', undefined));
  software.entries.push(entry('software', 'c-set', 'dup', T0));
  hsm.entries.push(entry('hsm', 'z-set', 'dup', T0 - MIN));
  expect(await kids(km, 'a-set')).toEqual(['test-key-id']);
  await expect(km.getKeySet('b-set')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  await expect(km.signer('b-set')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  expect(await kids(km, 'z-set')).toEqual(['dup']);
  await expect(km.getKeySet('c-set')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  await expect(ensureKeySet(km, 'b-set', 'ES256')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' }); // nothing made over it
  expect(hsm.generated).toHaveLength(0);
});

test('fail closed: keys that exist but cannot be read are not "missing", and nothing is generated over them', async () => {
  const { km, software } = ring();
  software.problems.push({
    kind: 'unreadable',
    set: 'pub',
    kid: 'k1',
    where: 'software',
    detail: 'ERR_SEAL_UNKNOWN_SECRET',
  });
  await expect(ensureKeySet(km, 'pub', 'ES256')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  expect(software.generated).toHaveLength(0);
  await expect(ensureKeySet(km, 'empty', 'ES256')).resolves.toMatchObject({ keys: [expect.anything()] });
});

test('a source that cannot be read fails the set; it is never taken as empty', async () => {
  const { km, hsm } = ring();
  hsm.failRead = Object.assign(new Error('token gone'), { code: 'ERR_PKCS11_DEVICE_REMOVED' });
  await expect(km.getKeySet('s')).rejects.toMatchObject({ code: 'ERR_PKCS11_DEVICE_REMOVED' });
  await expect(ensureKeySet(km, 's', 'ES256')).rejects.toMatchObject({ code: 'ERR_PKCS11_DEVICE_REMOVED' });
  expect(hsm.generated).toHaveLength(0);
});

test('a new key in a set with a signing key is published first and signs only after the publish-ahead time', async () => {
  const { km, hsm, at } = ring();
  await km.generateAndPersistKeySet('s', 'first', 'ES256');
  expect(hsm.generated[0]!.lifecycle).toEqual({}); // nothing signed before: active at once
  at(T0 + MIN);
  await km.generateAndPersistKeySet('s', 'second', 'ES256');
  expect(hsm.generated[1]!.lifecycle).toEqual({ activateAt: new Date(T0 + 6 * MIN) });
  expect(await kids(km, 's')).toContain('second'); // published at once
  expect((await km.signer('s')).kid).toBe('first');
  await expect(km.signJwt('s', {}, { kid: 'second' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ACTIVE' });
  at(T0 + 6 * MIN);
  expect((await km.signer('s')).kid).toBe('second');
  await km.generateAndPersistKeySet('s', 'third', 'ES256', 'sig', { activateNow: true });
  expect((await km.signer('s')).kid).toBe('third');
});

test('retired keys are published and do not sign; removed keys are not published', async () => {
  const { km, hsm, at } = ring();
  hsm.entries.push(
    entry('hsm', 's', 'old', T0 - 10 * MIN, { retireAt: new Date(T0 + MIN), removeAt: new Date(T0 + 2 * MIN) }),
    entry('hsm', 's', 'new', T0 - 20 * MIN),
  );
  expect((await km.signer('s')).kid).toBe('old');
  at(T0 + MIN);
  expect(await kids(km, 's')).toEqual(['old', 'new']);
  expect((await km.signer('s')).kid).toBe('new');
  await expect(km.signer('s', 'old')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ACTIVE' });
  at(T0 + 2 * MIN);
  expect(await kids(km, 's')).toEqual(['new']);
  await expect(km.getKey('s', 'old')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
});

test('a kid is unique across sets and places: generation and import refuse one that is taken', async () => {
  const { km, hsm, software } = ring();
  hsm.entries.push(entry('hsm', 'other', 'taken', T0));
  software.entries.push(entry('software', 'soft', 'soft-kid', T0));
  await expect(km.generateAndPersistKeySet('s', 'taken', 'ES256')).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
  await expect(km.generateAndPersistKeySet('s', 'soft-kid', 'ES256')).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
  await expect(km.generateAndPersistKeySet('s', 'hex:6f6c646572', 'ES256')).rejects.toMatchObject({
    code: 'ERR_KID_INVALID',
  });
  expect(hsm.generated).toHaveLength(0);
});

test('an enc key never signs, even when it is the newest', async () => {
  const { km, hsm } = ring();
  hsm.entries.push(entry('hsm', 's', 'enc', T0, {}, 'enc'), entry('hsm', 's', 'sig', T0 - MIN));
  expect((await km.signer('s')).kid).toBe('sig');
  await expect(km.signer('s', 'enc')).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
});

test('TOKEN_MAX_LIFETIME: signJwt adds exp when absent and refuses one beyond it (retired keys are removed on that promise)', async () => {
  const { km } = ring(true, 10 * MIN);
  await km.generateAndPersistKeySet('s', 'k', 'ES256');
  const payload = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number };
  expect(payload(await km.signJwt('s', { sub: 'a' })).exp).toBe((T0 + 10 * MIN) / 1000);
  expect(payload(await km.signJwt('s', { exp: T0 / 1000 + 60 })).exp).toBe(T0 / 1000 + 60);
  await expect(km.signJwt('s', { exp: T0 / 1000 + 601 })).rejects.toMatchObject({ code: 'ERR_TOKEN_LIFETIME' });
  await expect(km.signJwt('s', {}, { expiresIn: 601 })).rejects.toMatchObject({ code: 'ERR_TOKEN_LIFETIME' });
});

test('signJwt is the one rule for JWT claims (library, CLI, service): NumericDates, iat and exp when asked', async () => {
  const { km } = ring(true, 10 * MIN);
  await km.generateAndPersistKeySet('s', 'k', 'ES256');
  const payload = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  // Nothing added unless asked, but exp (the longest lifetime).
  expect(payload(await km.signJwt('s', { sub: 'a' }))).toEqual({ sub: 'a', exp: (T0 + 10 * MIN) / 1000 });
  expect(payload(await km.signJwt('s', { sub: 'a' }, { issuedAt: true, expiresIn: 60 }))).toEqual({
    sub: 'a',
    iat: T0 / 1000,
    exp: T0 / 1000 + 60,
  });
  expect(payload(await km.signJwt('s', { iat: 1000 }, { issuedAt: true })).iat).toBe(1000);
  for (const claims of [
    { exp: '4102444800' },
    { nbf: '0' },
    { iat: null },
    { exp: -1 },
    { iat: [1] },
    { exp: Infinity },
  ])
    await expect(km.signJwt('s', claims)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_INVALID' });
  await expect(km.signJwt('s', { exp: T0 / 1000 + 60 }, { expiresIn: 60 })).rejects.toMatchObject({
    code: 'ERR_JWT_CLAIM_INVALID',
  });
  for (const expiresIn of [0, 1.5, '60' as never])
    await expect(km.signJwt('s', {}, { expiresIn })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(km.signJwt('s', [] as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  // The claims are checked before any key is looked up.
  await expect(km.signJwt('nothing-here', { nbf: 'x' })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_INVALID' });
  // Without a longest lifetime, no exp is added.
  const { km: open } = ring(true);
  await open.generateAndPersistKeySet('s', 'k', 'ES256');
  expect(payload(await open.signJwt('s', { sub: 'a' }))).toEqual({ sub: 'a' });
});

test('software only: generation goes to the store', async () => {
  const { km, software } = ring(false);
  await km.generateAndPersistKeySet('s', 'k', 'ES256');
  expect(software.generated).toHaveLength(1);
  expect(km.generatesOn).toBe('software');
});

/** A symmetric software key as the store source reads it: no public JWK, the secret in its opened row. */
function octEntry(set: string, kid: string, created: number): KeyEntry {
  const privateJwk = { kty: 'oct' as const, kid, alg: 'HS256' as const, use: 'sig' as const, k: `secret-of-${kid}` };
  const base = { set, kid, alg: 'HS256' as const, use: 'sig' as const, createdAt: new Date(created), lifecycle: {} };
  return {
    ...base,
    where: 'software',
    origin: 'ours',
    publicJwk: undefined,
    stored: { ...base, privateJwk },
  } as KeyEntry;
}

describe('symmetric (HS*) keys', () => {
  test('with an HSM, generating one is refused before anything is made (typed code)', async () => {
    const { km, hsm, software } = ring();
    for (const alg of ['HS256', 'HS384', 'HS512'])
      await expect(km.generateAndPersistKeySet('s', undefined, alg)).rejects.toMatchObject({
        code: 'ERR_HSM_SYMMETRIC_UNSUPPORTED',
      });
    expect(hsm.generated).toHaveLength(0);
    expect(software.generated).toHaveLength(0);
  });

  test('without an HSM they are generated in the software store', async () => {
    const { km, software } = ring(false);
    await km.generateAndPersistKeySet('s', 'h', 'HS512');
    expect(software.generated).toEqual([expect.objectContaining({ kid: 'h', alg: 'HS512', use: 'sig' })]);
    await expect(km.generateAndPersistKeySet('s', 'e', 'HS256', 'enc')).rejects.toMatchObject({
      code: 'ERR_KEY_USE_INVALID',
    });
  });

  test('never in a public view: a set leaves them out, a kid names them without the secret; private views show it', async () => {
    const { km, hsm, software } = ring();
    software.entries.push(octEntry('s', 'shared', T0 - MIN));
    hsm.entries.push(entry('hsm', 's', 'ec', T0 - 2 * MIN));
    expect(await kids(km, 's')).toEqual(['ec']);
    expect(JSON.stringify(await km.getKeySet('s'))).not.toContain('secret-of-shared');
    expect(await km.getKey('s', 'shared')).toEqual({ keys: [{ kty: 'oct', kid: 'shared', alg: 'HS256', use: 'sig' }] });
    expect((await km.getKeySet('s', { includePrivate: true })).keys).toContainEqual({
      kty: 'oct',
      kid: 'shared',
      alg: 'HS256',
      use: 'sig',
      k: 'secret-of-shared',
    });
    expect((await km.getKey('s', 'shared', { includePrivate: true })).keys[0]).toMatchObject({ k: 'secret-of-shared' });
    // The newest active signing key signs, symmetric or not (a set's owner decides what it holds).
    expect((await km.signer('s')).kid).toBe('shared');
  });

  test('never in a published set: generation (rotation included) and imports refused, nothing written', async () => {
    const { km, software } = ring(false, undefined, ['pub']);
    await expect(km.generateAndPersistKeySet('pub', 'h', 'HS256')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_PUBLISHABLE',
    });
    const oct = { kty: 'oct', kid: 'o', alg: 'HS256', k: Buffer.alloc(32, 7).toString('base64url') };
    await expect(km.addKey('pub', oct)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_PUBLISHABLE' });
    await expect(km.updateKeySet('pub', { keys: [oct] })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_PUBLISHABLE' });
    expect(software.entries).toHaveLength(0);
    // Another set takes them; the published one takes key pairs.
    await km.generateAndPersistKeySet('private', 'h', 'HS256');
    await km.addKey('private', oct);
    await km.generateAndPersistKeySet('pub', 'ec', 'ES256');
    expect(software.entries.map((e) => `${e.set}/${e.kid}`).sort()).toEqual(['private/h', 'private/o', 'pub/ec']);
  });

  test('a set of symmetric keys only exists: its public view is empty, not "not found"', async () => {
    const { km, software } = ring();
    software.entries.push(octEntry('only', 'a', T0));
    expect(await km.getKeySet('only')).toEqual({ keys: [] });
    await expect(km.getKeySet('none')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
  });
});

test("an enc key labelled RS256 (Hydra's `--use enc`) never signs, even when it is the newest", async () => {
  const { km, hsm } = ring();
  hsm.entries.push({ ...entry('hsm', 's', 'enc', T0, {}, 'enc'), alg: 'RS256' }, entry('hsm', 's', 'sig', T0 - MIN));
  expect((await km.signer('s')).kid).toBe('sig');
  await expect(km.signer('s', 'enc')).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
});

describe('rotation', () => {
  const policy = { everyMs: 60 * MIN, retireAfterMs: 30 * MIN, removed: 'destroy' as const };

  test('rotate: a new key published now, signing after the publish-ahead time; the old one retires then and is removed retireAfter later', async () => {
    const { km, hsm, at } = ring();
    await km.generateAndPersistKeySet('s', 'k1', 'ES256');
    at(T0 + MIN);
    const r = await rotate(km, 's', policy);
    expect(r).toMatchObject({ created: true, retiring: ['k1'], activateAt: new Date(T0 + 6 * MIN) });
    expect(hsm.generated[1]!.alg).toBe('ES256');
    expect(await kids(km, 's')).toEqual([r.kid, 'k1']);
    expect((await km.signer('s')).kid).toBe('k1');
    // Rotating again while one is pending makes nothing.
    expect(await rotate(km, 's', policy)).toMatchObject({ created: false, kid: r.kid });
    expect(hsm.generated).toHaveLength(2);
    at(T0 + 6 * MIN);
    expect((await km.signer('s')).kid).toBe(r.kid);
    expect(await kids(km, 's')).toEqual([r.kid, 'k1']); // k1 retired, still published
    await expect(km.signer('s', 'k1')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ACTIVE' });
    at(T0 + 36 * MIN);
    expect(await kids(km, 's')).toEqual([r.kid]);
  });

  test('the schedule rotates when the newest key is ROTATE_EVERY old, and destroys removed keys it made', async () => {
    const { km, hsm, at } = ring();
    const rotator = new Rotator(km, ['s'], policy);
    await km.generateAndPersistKeySet('s', 'k1', 'ES384');
    at(T0 + 59 * MIN);
    await rotator.tick();
    expect(hsm.generated).toHaveLength(1);
    at(T0 + 60 * MIN);
    await rotator.tick();
    await rotator.tick(); // pending: nothing more
    expect(hsm.generated).toHaveLength(2);
    expect(hsm.generated[1]!.alg).toBe('ES384');
    at(T0 + 65 * MIN + 30 * MIN);
    await rotator.tick();
    expect(hsm.entries.map((e) => e.kid)).not.toContain('k1');
  });

  test('keys made by other tools are retired and unpublished by rotation, never destroyed', async () => {
    const { km, hsm, at } = ring();
    hsm.entries.push(entry('hsm', 's', 'foreign', undefined));
    const r = await rotate(km, 's', policy);
    expect(r.retiring).toEqual(['foreign']);
    at(T0 + 6 * MIN + 30 * MIN);
    await new Rotator(km, ['s'], policy).tick();
    expect(hsm.entries.map((e) => e.kid)).toContain('foreign');
    expect(await kids(km, 's')).toEqual([r.kid]);
  });
});
