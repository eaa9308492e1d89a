// The claims of a JWT a key manager signs: the one rule for the library's signJwt, `jwt sign` and
// POST /admin/jwt. The registered time claims (exp, nbf, iat) must be NumericDates; `iat` and `exp`
// are added when asked (`issuedAt`, `expiresIn`); an `exp` is added TOKEN_MAX_LIFETIME ahead when
// absent, and a later one is refused (retired keys are removed on that promise).
import { argTypeError, invalidArgValue } from '../errors';
import { KeyManagerError } from './errors';

export interface ClaimRules {
  /** ms since the epoch (the key manager's clock). */
  now: number;
  /** TOKEN_MAX_LIFETIME (ms); undefined: no limit. */
  maxLifetimeMs: number | undefined;
  /** `exp` = now + this many seconds (a positive integer). */
  expiresIn?: number | undefined;
  /** Add `iat` (now) unless the claims carry one. */
  issuedAt?: boolean | undefined;
}

const TIME_CLAIMS = ['exp', 'nbf', 'iat'] as const;

function claimError(message: string): KeyManagerError {
  return new KeyManagerError('ERR_JWT_CLAIM_INVALID', message);
}

/** The claims as signed (a copy when anything is added): checked, with `iat` and `exp` added. */
export function claimsToSign(claims: Record<string, unknown>, rules: ClaimRules): Record<string, unknown> {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw argTypeError('claims must be a JSON object');
  }
  for (const name of TIME_CLAIMS) {
    const v = claims[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw claimError(`"${name}" must be a NumericDate: a number of seconds since the epoch`);
    }
  }
  const { expiresIn, maxLifetimeMs } = rules;
  if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 1)) {
    throw invalidArgValue('options.expiresIn', 'a positive integer number of seconds', expiresIn);
  }
  const seconds = Math.floor(rules.now / 1000);
  let out = claims;
  if (expiresIn !== undefined) {
    if (claims.exp !== undefined)
      throw claimError('give "exp" in the claims or an expiry to add (expiresIn), not both');
    out = { ...out, exp: seconds + expiresIn };
  }
  if (rules.issuedAt && out.iat === undefined) out = { ...out, iat: seconds };
  if (maxLifetimeMs === undefined) return out;
  const latest = Math.floor((rules.now + maxLifetimeMs) / 1000);
  if (out.exp === undefined) return { ...out, exp: latest };
  if ((out.exp as number) > latest) {
    throw new KeyManagerError(
      'ERR_TOKEN_LIFETIME',
      `"exp" is more than TOKEN_MAX_LIFETIME (${maxLifetimeMs / 1000} s) ahead: retired keys are unpublished on that promise`,
    );
  }
  return out;
}
