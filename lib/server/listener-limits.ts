// Timeouts and limits of a listener (ServiceConfig.limits, lib/config.ts), set on the node:http
// server fastify made, before it listens. Node enforces the header and request timeouts by a sweep
// of its connections (connectionsCheckingInterval, 30 s by default: a timeout could then be
// overrun by 30 s); the sweep runs here every quarter of the headers timeout, at most every second,
// so a request that has not fully arrived within the request timeout is cut (408) within
// 1.25 × that timeout plus a second. Connection-level refusals are audited and counted.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

import type { ListenerLimits } from '../config';
import type { Logger } from '../logger';
import { clientErrorHttp } from './http-errors';
import type { Metrics } from './metrics';

const CUT = 'hsm_jwks_connection_errors_total';
const CUT_HELP =
  "Connections refused or cut before routing, by port and cause (Node's error code, or max-connections).";

export function applyListenerLimits(
  server: Server,
  limits: ListenerLimits,
  port: 'public' | 'admin',
  logger: Logger,
  metrics: Metrics,
): void {
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.setTimeout(limits.socketTimeoutMs);
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    50,
    Math.min(1000, Math.floor(server.headersTimeout / 4)),
  );
  // The app's clientErrorHandler (app.ts) answers (400/408/431) and closes; this one only records it.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ECONNRESET') return;
    const code = error.code ?? 'ERR_CLIENT';
    const { status } = clientErrorHttp(error.code); // what fastify's handler (app.ts) answered
    metrics.count(CUT, CUT_HELP, { port, cause: code });
    logger.warn('audit', { outcome: 'refused', remote: socket.remoteAddress, port, status, code });
  });
  let dropsLogged = 0;
  server.on('drop', (data?: { remoteAddress?: string }) => {
    metrics.count(CUT, CUT_HELP, { port, cause: 'max-connections' });
    // At most one line a second: a flood of connections must not become a flood of log lines.
    const now = Math.floor(Date.now() / 1000);
    if (dropsLogged === now) return;
    dropsLogged = now;
    logger.warn('audit', {
      outcome: 'refused',
      remote: data?.remoteAddress,
      port,
      cause: 'max-connections',
      maxConnections: limits.maxConnections,
    });
  });
}
