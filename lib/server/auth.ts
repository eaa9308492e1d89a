// Who may use the admin routes. With ADMIN_TOKEN: `Authorization: Bearer <token>` (the scheme is
// case-insensitive, RFC 9110 §11.1), compared in constant time. Without it (the admin API then
// listens on loopback only): the Host header must name this machine, so that a web page whose
// name an attacker re-binds to 127.0.0.1 (DNS rebinding) cannot reach the admin API from a
// browser: its requests carry the attacker's name in Host.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

import type { FastifyReply, FastifyRequest } from 'fastify';

import { httpError } from './http-errors';

export type AdminGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** A constant-time check of `Authorization: Bearer <ADMIN_TOKEN>`. */
export function bearerCheck(adminToken: string): AdminGuard {
  const expected = createHash('sha256').update(adminToken).digest();
  return async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const match = /^bearer +(.+?) *$/i.exec(header);
    const given = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    if (!match || !timingSafeEqual(given, expected)) {
      const { status, body } = httpError(401, 'a valid Bearer token (ADMIN_TOKEN) is required', 'ERR_UNAUTHORIZED');
      return reply.status(status).header('www-authenticate', 'Bearer').send(body);
    }
    return undefined;
  };
}

/** The host part of a Host header value (lower case, without port or IPv6 brackets); undefined when malformed. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0 || !/^(:\d*)?$/.test(h.slice(end + 1))) return undefined;
    return h.slice(1, end);
  }
  const m = /^([^:]+)(:\d*)?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : undefined;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/**
 * Whether `host` (from hostOf) names this machine for the admin API without a token: `localhost`
 * and names under `.localhost` (RFC 6761: they always resolve to loopback), an IPv4 address in
 * 127.0.0.0/8, `::1`, the address the connection was accepted on, or the configured admin host
 * (SERVE_ADMIN_HOST/SERVE_HOST, unless it is a wildcard). Any other name is refused: it is a name
 * some DNS server resolves, possibly to 127.0.0.1 for an attacker's page.
 */
export function hostAllowed(host: string | undefined, localAddress: string | undefined, adminHost?: string): boolean {
  if (host === undefined) return false;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4 && host.startsWith('127.')) return true;
  if (host === '::1' || host === '::ffff:127.0.0.1') return true;
  if (localAddress !== undefined && isIP(host) !== 0) {
    const local = localAddress.toLowerCase().replace(/^::ffff:/, '');
    if (host.replace(/^::ffff:/, '') === local) return true;
  }
  const configured = adminHost
    ?.trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return configured !== undefined && !WILDCARDS.has(configured) && host === configured;
}

/**
 * The host a request names: the authority of an absolute-form target (`GET http://h/…`, which
 * RFC 9112 §3.2.2 puts before Host), else the Host header; undefined (refused) when there are two
 * Host headers, which a proxy and this server could read differently.
 */
export function requestHost(request: Pick<FastifyRequest, 'headers' | 'raw'>): string | undefined {
  const raw = request.raw.rawHeaders ?? [];
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) return undefined;
  const target = request.raw.url ?? '';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      return hostOf(new URL(target).host);
    } catch {
      return undefined;
    }
  }
  return hostOf(request.headers.host);
}

/** Refuses admin requests whose Host header is not one of hostAllowed's names: 403 ERR_HOST_NOT_ALLOWED. */
export function hostCheck(adminHost: string | undefined): AdminGuard {
  return async (request, reply) => {
    if (hostAllowed(requestHost(request), request.socket.localAddress, adminHost)) return undefined;
    const { status, body } = httpError(
      403,
      'without ADMIN_TOKEN the admin API answers only requests whose Host names this machine (localhost, a loopback address, or the admin host)',
      'ERR_HOST_NOT_ALLOWED',
    );
    return reply.status(status).send(body);
  };
}
