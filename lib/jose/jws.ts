// Compact JWS and JWT over any Signer (RFC 7515 §7.1, RFC 7519 §7.1).
import type { Signer } from './signer';

export interface JwsHeaderExtras {
  /** More protected-header members; `alg` and `kid` always come from the signer. */
  [name: string]: unknown;
}

const b64uJson = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/** A compact JWS of `payload` with header { alg, kid, ...extras }. */
export async function signCompact(signer: Signer, payload: Uint8Array, extras: JwsHeaderExtras = {}): Promise<string> {
  const header = { ...extras, alg: signer.alg, kid: signer.kid };
  const input = `${b64uJson(header)}.${Buffer.from(payload).toString('base64url')}`;
  const signature = await signer.sign(Buffer.from(input, 'ascii'));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/** A compact JWT: header { alg, kid, typ: 'JWT', ...extras } and the claims as its payload. */
export async function signJwt(signer: Signer, claims: Record<string, unknown>, extras: JwsHeaderExtras = {}): Promise<string> {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw Object.assign(new TypeError('claims must be a JSON object'), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  return signCompact(signer, Buffer.from(JSON.stringify(claims), 'utf8'), { typ: 'JWT', ...extras });
}
