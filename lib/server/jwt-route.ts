// POST /admin/jwt/{set}: signs claims for apps that must not hold a key.
// Body: { claims: {…}, kid?: string, expires_in?: seconds }. The token gets `iat` (now, unless the
// claims carry one), `exp` = now + expires_in when asked (else the key manager adds one
// TOKEN_MAX_LIFETIME ahead, and refuses a later one: ERR_TOKEN_LIFETIME). The registered time
// claims (exp, nbf, iat) must be NumericDates: anything else is 400 ERR_JWT_CLAIM_INVALID.
import type { FastifyInstance } from 'fastify';

import { HsmJwksError } from '../errors';
import type { KeyRing } from '../keys/key-ring';
import type { Metrics } from './metrics';

interface JwtBody {
  claims: Record<string, unknown>;
  kid?: string;
  expires_in?: number;
}

const TIME_CLAIMS = ['exp', 'nbf', 'iat'] as const;

function claimError(message: string): HsmJwksError {
  return new HsmJwksError('ERR_JWT_CLAIM_INVALID', message);
}

/** The claims as signed: time claims checked, `iat` and `exp` added. */
export function claimsToSign(body: JwtBody, now: number): Record<string, unknown> {
  const claims = { ...body.claims };
  for (const name of TIME_CLAIMS) {
    const v = claims[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw claimError(`"${name}" must be a NumericDate: a number of seconds since the epoch`);
    }
  }
  const seconds = Math.floor(now / 1000);
  if (body.expires_in !== undefined) {
    if (claims.exp !== undefined) throw claimError('give "exp" in the claims or "expires_in", not both');
    claims.exp = seconds + body.expires_in;
  }
  claims.iat ??= seconds;
  return claims;
}

export function registerJwtRoute(scope: FastifyInstance, km: KeyRing, metrics: Metrics, clock: () => number): void {
  scope.post<{ Params: { set: string }; Body: JwtBody }>(
    '/admin/jwt/:set',
    {
      schema: {
        body: {
          type: 'object',
          required: ['claims'],
          additionalProperties: false,
          properties: {
            claims: { type: 'object' },
            kid: { type: 'string', minLength: 1 },
            expires_in: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
    async (r) => {
      const claims = claimsToSign(r.body, clock());
      const started = process.hrtime.bigint();
      const token = await km.signJwt(r.params.set, claims, r.body.kid ? { kid: r.body.kid } : {});
      metrics.observeSign(Number(process.hrtime.bigint() - started) / 1e9);
      metrics.count('hsm_jwks_signatures_total', 'JWTs signed through the service, by key set.', {
        set: r.params.set,
      });
      return { token };
    },
  );
}
