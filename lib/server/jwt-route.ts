// POST /admin/jwt/{set}: signs claims for apps that must not hold a key.
// Body: { claims: {…}, kid?: string, expires_in?: seconds }. The key manager's signJwt does the rest
// (lib/keys/jwt-claims.ts, one rule for the library, the CLI and this route): the token gets `iat`
// (now, unless the claims carry one), `exp` = now + expires_in when asked (else one TOKEN_MAX_LIFETIME
// ahead; a later one is refused: ERR_TOKEN_LIFETIME). The registered time claims (exp, nbf, iat)
// must be NumericDates: anything else is 400 ERR_JWT_CLAIM_INVALID.
import type { FastifyInstance } from 'fastify';

import type { KeySigner } from '../keys/key-manager';
import type { Metrics } from './metrics';

interface JwtBody {
  claims: Record<string, unknown>;
  kid?: string;
  expires_in?: number;
}

export function registerJwtRoute(scope: FastifyInstance, km: KeySigner, metrics: Metrics): void {
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
      const { claims, kid, expires_in } = r.body;
      const started = process.hrtime.bigint();
      const token = await km.signJwt(r.params.set, claims, {
        ...(kid ? { kid } : {}),
        ...(expires_in !== undefined ? { expiresIn: expires_in } : {}),
        issuedAt: true,
      });
      metrics.observeSign(Number(process.hrtime.bigint() - started) / 1e9);
      metrics.count('hsm_jwks_signatures_total', 'JWTs signed through the service, by key set.', {
        set: r.params.set,
      });
      return { token };
    },
  );
}
