// Hydra's key-set routes (spec/api.json, jwk/handler.go) and ours beside them (rotation, the
// operator's login). Shapes as Hydra's clients decode them: POST answers the new key as a JWK Set
// with a Location header, PUT of one key answers that one JWK, PUT of a set the set.
import type { FastifyInstance } from 'fastify';

import { isNotFound, KeyManagerError } from '../keys/errors';
import type { KeyManagerOps, KeySets } from '../keys/key-manager';
import { DEFAULT_RETIRE_AFTER_MS, rotate, type RotatingKeys, type RotationPolicy } from '../keys/rotation';
import type { Logger } from '../logger';
import type { KeyUse } from '../pkcs11/key-spec';

export interface AdminRouteOptions {
  /** The key-set operations, rotation, and the operator's login (POST /admin/hsm/login). */
  km: KeySets & RotatingKeys & Pick<KeyManagerOps, 'ready' | 'resumeLogins'>;
  logger: Logger;
  /** A write through this service: the JWKS is rebuilt at its next request. */
  changed: (set: string) => void;
  rotation?: Pick<RotationPolicy, 'retireAfterMs'>;
  resumeLogins?: () => Promise<void>;
}

/** Hydra's createJsonWebKeySet body; its Go client always sends `kid` ("" = make one) and `use`. */
interface CreateBody {
  alg: string;
  use?: KeyUse | '';
  kid?: string;
  activate_now?: boolean;
}

function absentIsDone(e: unknown): void {
  if (!isNotFound(e)) throw e;
}

const jwkBody = { type: 'object', required: ['kty'], properties: { kty: { type: 'string' } } } as const;
const setPath = (set: string) => `/admin/keys/${encodeURIComponent(set)}`;

export function registerKeyRoutes(scope: FastifyInstance, o: AdminRouteOptions): void {
  const { km, changed } = o;
  scope.post('/admin/hsm/login', async (_r, reply) => {
    await (o.resumeLogins ?? (() => km.resumeLogins()))();
    return reply.status(200).send({ status: 'ok', token: (await km.ready()).hsm?.state });
  });
  scope.get<{ Params: { set: string } }>('/admin/keys/:set', async (r) => km.getKeySet(r.params.set));
  scope.get<{ Params: { set: string; kid: string } }>('/admin/keys/:set/:kid', async (r) =>
    km.getKey(r.params.set, r.params.kid),
  );
  scope.post<{ Params: { set: string }; Body: CreateBody }>(
    '/admin/keys/:set',
    {
      schema: {
        body: {
          type: 'object',
          required: ['alg'],
          additionalProperties: false,
          properties: {
            alg: { type: 'string', minLength: 1 },
            use: { type: 'string', enum: ['sig', 'enc', ''] },
            kid: { type: 'string' }, // checked by the key manager (ERR_KID_INVALID); "" as absent
            activate_now: { type: 'boolean' },
          },
        },
      },
    },
    async (r, reply) => {
      const { set } = r.params;
      const kid = r.body.kid === '' ? undefined : r.body.kid;
      const made = await km.generateAndPersistKeySet(set, kid, r.body.alg, r.body.use || 'sig', {
        activateNow: r.body.activate_now === true,
      });
      changed(set);
      return reply.status(201).header('location', setPath(set)).send(made);
    },
  );
  scope.post<{ Params: { set: string }; Body: { alg?: string } | undefined }>(
    '/admin/keys/:set/rotate',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { alg: { type: 'string', minLength: 1 } },
        },
      },
    },
    async (r, reply) => {
      const result = await rotate(km, r.params.set, o.rotation ?? { retireAfterMs: DEFAULT_RETIRE_AFTER_MS }, {
        ...(r.body?.alg ? { alg: r.body.alg } : {}),
        logger: o.logger,
      });
      changed(r.params.set);
      return reply.status(result.created ? 201 : 200).send({ ...result, activateAt: result.activateAt.toISOString() });
    },
  );
  scope.put<{ Params: { set: string }; Body: { keys: unknown[] } }>(
    '/admin/keys/:set',
    {
      schema: {
        body: {
          type: 'object',
          required: ['keys'],
          properties: { keys: { type: 'array', minItems: 1, items: jwkBody } },
        },
      },
    },
    async (r) => {
      await km.updateKeySet(r.params.set, r.body);
      changed(r.params.set);
      return km.getKeySet(r.params.set);
    },
  );
  scope.put<{ Params: { set: string; kid: string }; Body: Record<string, unknown> }>(
    '/admin/keys/:set/:kid',
    { schema: { body: jwkBody } },
    async (r) => {
      // Hydra ignores the path's kid and stores the body's; here they must agree (a missing one is the path's).
      if (r.body.kid !== undefined && r.body.kid !== r.params.kid) {
        throw new KeyManagerError('ERR_KEY_NAME_INVALID', 'the JWK\'s "kid" differs from the kid in the path');
      }
      await km.updateKey(r.params.set, { ...r.body, kid: r.params.kid });
      changed(r.params.set);
      // One JWK, as Hydra answers (its Go client decodes a jsonWebKey); the public form, never the private members sent.
      const [key] = (await km.getKey(r.params.set, r.params.kid)).keys;
      return key;
    },
  );
  // DELETE is idempotent, as in Hydra (its software manager answers 204 whether or not anything
  // matched): a key or set that is not there is already deleted.
  scope.delete<{ Params: { set: string } }>('/admin/keys/:set', async (r, reply) => {
    await km.deleteKeySet(r.params.set).catch(absentIsDone);
    changed(r.params.set);
    return reply.status(204).send();
  });
  scope.delete<{ Params: { set: string; kid: string } }>('/admin/keys/:set/:kid', async (r, reply) => {
    await km.deleteKey(r.params.set, r.params.kid).catch(absentIsDone);
    changed(r.params.set);
    return reply.status(204).send();
  });
}
