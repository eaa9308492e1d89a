// Hydra's own JS SDK (@ory/hydra-client, the version of the spec in test/fixtures/hydra/) against
// the service on loopback: every JWK operation it has, and every answer (errors included) checked
// against Hydra's OpenAPI schema with ajv.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Configuration, JwkApi, WellknownApi } from '@ory/hydra-client';
import Ajv from 'ajv';

import { loadConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { startService, type Service } from '../../lib/server/serve';
import { record } from '../helpers/secret-leak-recorder';
import { hsmEnv, softHsm } from '../helpers/softhsm';

const ADMIN = 'an-admin-token-of-the-contract-test';
const SPEC = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'hydra', 'api-jwk.json'), 'utf8')) as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: unknown; $ref?: string }> }>>;
};
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ $id: 'hydra.json', components: (SPEC as unknown as { components: unknown }).components });

/** An answer as the SDK (axios) gives it. */
interface Answer {
  status: number;
  data: unknown;
}

let dir: string;
let svc: Service;
let jwk: JwkApi;

/** The schema Hydra's spec gives the answer of `method path` with `status` (or its default), validated against `body`. */
function checkAnswer(specPath: string, method: string, res: Answer): void {
  record('http', `${method} ${specPath}`, JSON.stringify(res.data) ?? '');
  const responses = SPEC.paths[specPath]?.[method]?.responses;
  if (!responses) throw new Error(`no ${method} ${specPath} in the spec`);
  const answer = responses[String(res.status)] ?? responses.default!;
  const content = answer.content as { 'application/json'?: { schema: { $ref: string } } } | undefined;
  if (!content) {
    expect(res.data === '' || res.data === undefined).toBe(true); // emptyResponse
    return;
  }
  const ref = content['application/json']!.schema.$ref;
  const validate = ajv.getSchema(`hydra.json${ref}`)!;
  if (!validate(res.data)) throw new Error(`${method} ${specPath} ${res.status}: ${ajv.errorsText(validate.errors)}`);
}

/** The SDK's failure as a response (axios throws on 4xx/5xx). */
async function failure(p: Promise<unknown>): Promise<Answer> {
  try {
    await p;
  } catch (e) {
    const response = (e as { isAxiosError?: boolean; response?: Answer }).response;
    if ((e as { isAxiosError?: boolean }).isAxiosError && response) return response;
    throw e;
  }
  throw new Error('the call succeeded');
}

const privateEc = (kid: string) => ({
  ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as {
    kty: string;
  }),
  kid,
  alg: 'ES256',
  use: 'sig',
});

beforeAll(async () => {
  softHsm().initToken('contract');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-contract-'));
  const config = loadConfig({
    ...hsmEnv('contract', `sqlite://${path.join(dir, 'contract.sqlite')}`, 'the-contract-test-secret'),
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: 'contract.public',
    JWKS_DEFAULT_ALG: 'ES256',
  });
  svc = await startService(config, { logger: silentLogger, schedule: false });
  jwk = new JwkApi(
    new Configuration({ basePath: svc.adminUrl, baseOptions: { headers: { Authorization: `Bearer ${ADMIN}` } } }),
  );
});

afterAll(async () => {
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('create with kid "" (a UUID is made), get the key and the set: the shapes of the spec, and a Location', async () => {
  const made = await jwk.createJsonWebKeySet({
    set: 'contract',
    createJsonWebKeySet: { alg: 'ES256', kid: '', use: 'sig' },
  });
  expect(made.status).toBe(201);
  checkAnswer('/admin/keys/{set}', 'post', made);
  expect(made.headers.location).toBe('/admin/keys/contract');
  const kid = made.data.keys![0]!.kid;
  expect(kid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const key = await jwk.getJsonWebKey({ set: 'contract', kid });
  checkAnswer('/admin/keys/{set}/{kid}', 'get', key);
  expect(key.data.keys!.map((k) => [k.kid, k.alg, k.use])).toEqual([[kid, 'ES256', 'sig']]);
  const set = await jwk.getJsonWebKeySet({ set: 'contract' });
  checkAnswer('/admin/keys/{set}', 'get', set);
  expect(set.data.keys!.map((k) => k.kid)).toEqual([kid]);

  const published = await new WellknownApi(new Configuration({ basePath: svc.publicUrl })).discoverJsonWebKeys();
  checkAnswer('/.well-known/jwks.json', 'get', published);
  expect(published.data.keys).toHaveLength(1);
});

test('import a JWK and a JWK Set (PUT), update the set, delete a key and the set', async () => {
  const one = await jwk.setJsonWebKey({ set: 'contract.import', kid: 'imp-1', jsonWebKey: privateEc('imp-1') });
  expect(one.status).toBe(200);
  checkAnswer('/admin/keys/{set}/{kid}', 'put', one);
  expect(one.data).toMatchObject({ kid: 'imp-1', kty: 'EC', alg: 'ES256', use: 'sig' });
  expect(one.data).not.toHaveProperty('d'); // never echoed

  const many = await jwk.setJsonWebKeySet({
    set: 'contract.import',
    jsonWebKeySet: { keys: [privateEc('imp-2'), privateEc('imp-3')] },
  });
  checkAnswer('/admin/keys/{set}', 'put', many);
  expect(many.data.keys!.map((k) => k.kid).sort()).toEqual(['imp-2', 'imp-3']);

  // Update: the set replaced by another.
  const updated = await jwk.setJsonWebKeySet({ set: 'contract.import', jsonWebKeySet: { keys: [privateEc('imp-4')] } });
  checkAnswer('/admin/keys/{set}', 'put', updated);
  expect(updated.data.keys!.map((k) => k.kid)).toEqual(['imp-4']);

  const gone = await jwk.deleteJsonWebKey({ set: 'contract.import', kid: 'imp-4' });
  expect(gone.status).toBe(204);
  checkAnswer('/admin/keys/{set}/{kid}', 'delete', gone);
  const missing = await failure(jwk.getJsonWebKey({ set: 'contract.import', kid: 'imp-4' }));
  expect(missing.status).toBe(404);
  checkAnswer('/admin/keys/{set}/{kid}', 'get', missing);
  expect(missing.data).toMatchObject({ status_code: 404 });

  await jwk.setJsonWebKey({ set: 'contract.import', kid: 'imp-5', jsonWebKey: privateEc('imp-5') });
  const setGone = await jwk.deleteJsonWebKeySet({ set: 'contract.import' });
  expect(setGone.status).toBe(204);
  checkAnswer('/admin/keys/{set}', 'delete', setGone);
  const noSet = await failure(jwk.getJsonWebKeySet({ set: 'contract.import' }));
  checkAnswer('/admin/keys/{set}', 'get', noSet);
  expect(noSet.data).toMatchObject({ status_code: 404, error_code: 'ERR_KEY_SET_NOT_FOUND' });

  // Deleting what is not there is done already (Hydra answers 204 too): the SDK does not throw.
  expect((await jwk.deleteJsonWebKey({ set: 'contract.import', kid: 'imp-5' })).status).toBe(204);
  expect((await jwk.deleteJsonWebKeySet({ set: 'contract.import' })).status).toBe(204);
});

test('errors are errorOAuth2 bodies: a refused alg, a bad token, a kid that is not one', async () => {
  const bad = await failure(
    jwk.createJsonWebKeySet({ set: 'contract', createJsonWebKeySet: { alg: 'XX999', kid: '', use: 'sig' } }),
  );
  expect(bad.status).toBe(400);
  checkAnswer('/admin/keys/{set}', 'post', bad);
  const noAuth = new JwkApi(new Configuration({ basePath: svc.adminUrl }));
  const refused = await failure(noAuth.getJsonWebKeySet({ set: 'contract' }));
  expect(refused.status).toBe(401);
  checkAnswer('/admin/keys/{set}', 'get', refused);
  const mismatch = await failure(jwk.setJsonWebKey({ set: 'contract.import', kid: 'a', jsonWebKey: privateEc('b') }));
  expect(mismatch.status).toBe(400);
  checkAnswer('/admin/keys/{set}/{kid}', 'put', mismatch);
});

// What `hydra create jwks <set> --use enc` and `--alg HS256|HS512` send. RS256 + enc is an RSA
// key for encryption, on the token as in software. HMAC keys are software keys: made without an
// HSM, refused where generation goes to the token (so does Hydra's HSM manager), in the error shape.
test('create RS256 for enc through the SDK (on the token)', async () => {
  const made = await jwk.createJsonWebKeySet({
    set: 'contract.enc',
    createJsonWebKeySet: { alg: 'RS256', kid: '', use: 'enc' },
  });
  expect(made.status).toBe(201);
  checkAnswer('/admin/keys/{set}', 'post', made);
  expect(made.data.keys![0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'enc' });
});

test.each(['HS256', 'HS512'])('create %s through the SDK: made in software, refused with an HSM', async (alg) => {
  const software = await startService(
    loadConfig({
      DSN: `sqlite://${path.join(dir, `software-${alg}.sqlite`)}`,
      SECRETS_SYSTEM: 'the-contract-test-secret',
      ADMIN_TOKEN: ADMIN,
      PUBLIC_PORT: '0',
      ADMIN_PORT: '0',
      JWKS_PUBLIC_SETS: 'contract.public',
      JWKS_DEFAULT_ALG: 'ES256',
    }),
    { logger: silentLogger, schedule: false },
  );
  try {
    const sdk = new JwkApi(
      new Configuration({
        basePath: software.adminUrl,
        baseOptions: { headers: { Authorization: `Bearer ${ADMIN}` } },
      }),
    );
    const made = await sdk.createJsonWebKeySet({
      set: 'contract.hmac',
      createJsonWebKeySet: { alg, kid: '', use: 'sig' },
    });
    expect(made.status).toBe(201);
    checkAnswer('/admin/keys/{set}', 'post', made);
    expect(made.data.keys![0]).toMatchObject({ kty: 'oct', alg, use: 'sig' });
    expect(made.data.keys![0]).not.toHaveProperty('k'); // the secret is never answered
    const read = await sdk.getJsonWebKeySet({ set: 'contract.hmac' });
    checkAnswer('/admin/keys/{set}', 'get', read);
  } finally {
    await software.close();
  }
  const refused = await failure(
    jwk.createJsonWebKeySet({ set: 'contract.hmac', createJsonWebKeySet: { alg, kid: '', use: 'sig' } }),
  );
  checkAnswer('/admin/keys/{set}', 'post', refused);
  expect(refused.data).toMatchObject({ status_code: 400, error_code: 'ERR_HSM_SYMMETRIC_UNSUPPORTED' });
});
