// The public port's JWKS route: its ETag (If-None-Match as RFC 9110 has it), and the last good set,
// with its age, while the token or the store is out. Health, /version and metrics are in ops.ts.
import type { FastifyInstance } from 'fastify';

import type { JwksCache } from './jwks-cache';

/**
 * Whether an If-None-Match value matches `etag` (RFC 9110 §13.1.2): `*`, or a comma-separated
 * list of entity tags compared weakly (a `W/` prefix on either side is ignored).
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  const ours = opaque(etag);
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === ours);
}

export function registerJwks(app: FastifyInstance, jwks: JwksCache): void {
  app.get('/.well-known/jwks.json', async (request, reply) => {
    const { body, etag, stale, ageSeconds } = await jwks.get();
    void reply.header('etag', etag).header('cache-control', `public, max-age=${Math.floor(jwks.maxAgeMs / 1000)}`);
    // Served from the last good set during an outage: its age (RFC 9111 §5.1) tells caches and
    // clients it is past max-age, so they come back soon; Warning 110 ("Response is Stale") says so in words.
    if (stale) void reply.header('age', String(ageSeconds)).header('warning', '110 hsm-jwks "Response is Stale"');
    if (noneMatch(request.headers['if-none-match'], etag)) return reply.status(304).send();
    return reply.type('application/json').send(body);
  });
}
