// Compact JWS and JWT over any Signer (RFC 7515 §7.1, RFC 7519 §7.1).
import { argTypeError } from '../errors';
import type { Signer } from './signer';

export interface JwsHeaderExtras {
  /** More protected-header members; `alg` and `kid` always come from the signer. */
  [name: string]: unknown;
}

/** Encoded protected headers by signer and extras: a signer signing many tokens encodes its header once. */
const headers = new WeakMap<Signer, Map<string, string>>();

function headerSegment(signer: Signer, extras: JwsHeaderExtras): string {
  const id = JSON.stringify(extras);
  let bySigner = headers.get(signer);
  if (!bySigner) {
    bySigner = new Map();
    headers.set(signer, bySigner);
  }
  let segment = bySigner.get(id);
  if (segment === undefined) {
    segment = Buffer.from(JSON.stringify({ ...extras, alg: signer.alg, kid: signer.kid }), 'utf8').toString(
      'base64url',
    );
    if (bySigner.size < 64) bySigner.set(id, segment); // bounded: per-token extras must not grow it
  }
  return segment;
}

/** A compact JWS of `payload` with header { alg, kid, ...extras }. */
export async function signCompact(signer: Signer, payload: Uint8Array, extras: JwsHeaderExtras = {}): Promise<string> {
  const input = `${headerSegment(signer, extras)}.${Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64url')}`;
  const signature = await signer.sign(Buffer.from(input, 'latin1'));
  return `${input}.${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')}`;
}

/** A compact JWT: header { alg, kid, typ: 'JWT', ...extras } and the claims as its payload. */
export async function signJwt(
  signer: Signer,
  claims: Record<string, unknown>,
  extras: JwsHeaderExtras = {},
): Promise<string> {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw argTypeError('claims must be a JSON object');
  }
  return signCompact(signer, Buffer.from(JSON.stringify(claims), 'utf8'), { typ: 'JWT', ...extras });
}
