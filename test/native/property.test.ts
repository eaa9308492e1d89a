// Property tests: random templates, handles, buffers, mechanisms and JWKs thrown at the public
// API and at the addon. The only acceptable outcomes are results and typed errors; a crash would
// take the test process down with it.
import fc from 'fast-check';

import { Pkcs11Module, type Token } from '../../lib';
import { HsmJwksError, isErrorCode } from '../../lib/errors';
import { validatePrivateJwk } from '../../lib/jose/import';
import { CKA, CKM } from '../../lib/pkcs11/constants';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';
import type { NativeModule } from '../../binding';

let mod: Pkcs11Module;
let token: Token;
let native: NativeModule;
let session: bigint;

/** What the addon may throw or reject with: argument errors, or a PKCS#11 failure with rv/fn. */
function typed(e: unknown): boolean {
  const x = e as { name?: string; rv?: unknown; fn?: unknown; code?: unknown };
  return (
    x?.name === 'TypeError' ||
    x?.name === 'RangeError' ||
    (typeof x?.rv === 'number' && typeof x?.fn === 'string') ||
    typeof x?.code === 'string'
  );
}

/**
 * What the addon itself may throw: an argument error with its code, or an instance of the classes
 * lib/ handed it at load (nativeBinding() sets them) with a code of lib/errors.ts.
 */
function typedNative(e: unknown): boolean {
  const x = e as { name?: string; code?: unknown };
  if (x?.name === 'TypeError') return x.code === 'ERR_INVALID_ARG_TYPE';
  if (x?.name === 'RangeError') return x.code === 'ERR_INVALID_ARG_VALUE';
  return e instanceof HsmJwksError && isErrorCode(e.code);
}

async function settle(f: () => unknown, accept: (e: unknown) => boolean = typed): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    return accept(e);
  }
}

const attrTypes = fc.oneof(fc.constantFrom(...Object.values(CKA)), fc.integer({ min: 0, max: 0xffffffff }));
const attrValue = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }),
  fc.array(fc.integer()),
  fc.constant(null),
  fc.constant(undefined),
);
const handle = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.integer(),
  fc.string(),
  fc.constant(undefined),
);
const mechanism = fc.oneof(
  fc.constantFrom(...Object.values(CKM)),
  fc.integer(),
  fc.record({
    type: fc.oneof(fc.integer(), fc.string()),
    parameter: fc.oneof(
      fc.constant(undefined),
      fc.record({
        kind: fc.constantFrom('pss', 'oaep', 'raw', 'other'),
        hashAlg: fc.integer(),
        mgf: fc.integer(),
        saltLength: fc.integer(),
        data: fc.uint8Array(),
      }),
    ),
  }),
  fc.anything(),
);

beforeAll(async () => {
  softHsm().initToken('prop');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'prop' }, { pin: USER_PIN });
  await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'p', id: Buffer.from('p') });
  native = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() });
  session = await native.openSession(token.slot, 2);
});

afterAll(async () => {
  await native?.closeSession(session).catch(() => undefined);
  await native?.close();
  await mod?.close();
});

test('the addon: random templates, handles, mechanisms and buffers give results or typed errors', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(attrTypes, attrValue), { maxLength: 6 }),
      handle,
      mechanism,
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: -1, max: 5000 }),
      async (template, h, m, data, len) => {
        const useSession = typeof h === 'bigint' && h % 3n === 0n ? session : (h as bigint);
        const results = await Promise.all([
          settle(() => native.findObjects(useSession, template as never, 10), typedNative),
          settle(() => native.getAttributes(useSession, h as never, template.map(([t]) => t) as never), typedNative),
          settle(() => native.sign(useSession, h as never, m as never, data, len), typedNative),
          settle(() => native.verify(useSession, h as never, m as never, data, data), typedNative),
          settle(() => native.generateRandom(useSession, len), typedNative),
        ]);
        return results.every(Boolean);
      },
    ),
    { numRuns: 300 },
  );
});

test('the token: random mechanisms and data for sign give signatures or typed errors', async () => {
  const [pair] = await token.findKeyPairs({ id: Buffer.from('p') });
  await fc.assert(
    fc.asyncProperty(fc.anything(), fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.anything()), async (m, data) =>
      settle(() => token.sign(pair!, m as never, data as never)),
    ),
    { numRuns: 300 },
  );
});

test('imports: random JWK-shaped objects are accepted or refused with a code, never more', async () => {
  const jwkish = fc.record(
    {
      kty: fc.constantFrom('RSA', 'EC', 'OKP', 'oct', 'x'),
      crv: fc.constantFrom('P-256', 'P-384', 'P-521', 'Ed25519', 'X25519', 'secp256k1'),
      alg: fc.constantFrom('ES256', 'RS256', 'EdDSA', 'PS512', 'HS256', 'RSA-OAEP-256', 'none'),
      use: fc.constantFrom('sig', 'enc', 'x'),
      kid: fc.string(),
      x: fc.base64String(),
      y: fc.base64String(),
      d: fc.base64String(),
      n: fc.base64String(),
      e: fc.constantFrom('AQAB', 'Aw', ''),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(fc.oneof(jwkish, fc.anything()), async (jwk) => {
      try {
        await validatePrivateJwk(jwk);
        return true;
      } catch (e) {
        return typeof (e as { code?: unknown }).code === 'string';
      }
    }),
    { numRuns: 500 },
  );
});
