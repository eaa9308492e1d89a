// A readiness listener of its own (HEALTH_PORT), in a worker thread. At full signing speed the
// service's event loop is busy nearly all the time, and a probe on the public port waits its turn
// behind the JWT requests (measured: p99 11–14 ms on 2 cores). This listener runs on another
// thread and answers from a few shared integers the main thread keeps current (the token's state,
// and a heartbeat): a probe never waits for signing, and a main loop that stops turning (stuck,
// overloaded past HEARTBEAT_STALE_MS) makes it answer 503 "stalled".
import { Worker } from 'node:worker_threads';

import type { ListenerLimits } from '../config';
import type { KeyManagerOps } from '../keys/key-manager';
import type { Logger } from '../logger';
import type { TokenStateName } from '../pkcs11/token-state';

const STATES: Array<TokenStateName | 'software' | 'starting'> = [
  'starting',
  'ready',
  'software',
  'unavailable',
  'login-refused',
  'closed',
];
const DEFAULT_LIMITS: ListenerLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
  socketTimeoutMs: 120_000,
  maxConnections: 1024,
  maxRequestsPerSocket: 0,
};
/** How often the main thread refreshes the shared state (and its heartbeat). */
const PUBLISH_MS = 200;
/** A heartbeat older than this: the main loop is not turning; not ready. */
const HEARTBEAT_STALE_MS = 2000;

// The worker: a bare node:http server, two routes, state read with Atomics.
const WORKER = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const shared = new BigInt64Array(workerData.buffer);
const states = workerData.states;
const staleMs = BigInt(workerData.staleMs);
const server = http.createServer((req, res) => {
  const send = (status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  };
  // As on the other ports: the query and a trailing slash do not matter; anything else is the
  // service's one error shape (http-errors.ts), 404 ERR_ROUTE_NOT_FOUND.
  const path = (req.url || '/').split('?')[0].replace(/(.)[/]+$/, '$1');
  const known = (req.method === 'GET' || req.method === 'HEAD') && (path === '/health/alive' || path === '/health/ready');
  if (!known) {
    const where = JSON.stringify(String(req.method) + ' ' + path.slice(0, 200));
    return send(404, { error: 'not_found', error_description: 'no route ' + where, status_code: 404, error_code: 'ERR_ROUTE_NOT_FOUND' });
  }
  if (path === '/health/alive') return send(200, { status: 'ok' });
  const state = states[Number(Atomics.load(shared, 0))] || 'starting';
  const beat = Atomics.load(shared, 1);
  if (BigInt(Date.now()) - beat > staleMs) return send(503, { status: 'unavailable', token: state, cause: 'stalled' });
  if (state === 'ready' || state === 'software') return send(200, { status: 'ok', token: state });
  return send(503, { status: 'unavailable', token: state });
});
server.keepAliveTimeout = 5000;
// The same bounds as the other listeners (listener-limits.ts): probes are tiny, a trickled request is cut.
server.requestTimeout = workerData.limits.requestTimeoutMs;
server.headersTimeout = Math.min(workerData.limits.headersTimeoutMs, workerData.limits.requestTimeoutMs);
server.connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(server.headersTimeout / 4)));
server.maxConnections = workerData.limits.maxConnections;
server.setTimeout(workerData.limits.socketTimeoutMs);
server.on('error', (e) => parentPort.postMessage({ error: e.code || e.message }));
server.listen(workerData.port, workerData.host, () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') server.close(() => process.exit(0)); });
`;

export class HealthPort {
  readonly url: string;
  readonly #worker: Worker;
  readonly #timer: NodeJS.Timeout;

  private constructor(url: string, worker: Worker, timer: NodeJS.Timeout) {
    this.url = url;
    this.#worker = worker;
    this.#timer = timer;
  }

  /** Starts the listener and the publishing of the state; resolves once it listens. */
  static async start(
    host: string,
    port: number,
    km: Pick<KeyManagerOps, 'ready'>,
    logger: Logger,
    limits: ListenerLimits = DEFAULT_LIMITS,
  ): Promise<HealthPort> {
    const buffer = new SharedArrayBuffer(16);
    const shared = new BigInt64Array(buffer);
    const publish = async () => {
      const { ready, hsm } = await km.ready().catch(() => ({ ready: false, hsm: undefined }));
      const state = hsm ? hsm.state : ready ? 'software' : 'unavailable';
      Atomics.store(shared, 0, BigInt(Math.max(0, STATES.indexOf(state))));
      Atomics.store(shared, 1, BigInt(Date.now()));
    };
    await publish();
    const timer = setInterval(() => void publish(), PUBLISH_MS);
    timer.unref();
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { buffer, port, host, states: STATES, staleMs: HEARTBEAT_STALE_MS, limits },
    });
    worker.unref();
    try {
      const bound = await new Promise<number>((resolve, reject) => {
        worker.once('message', (m: { port?: number; error?: string }) =>
          m.port !== undefined ? resolve(m.port) : reject(new Error(`HEALTH_PORT: cannot listen (${m.error})`)),
        );
        worker.once('error', reject);
      });
      const shown = host.includes(':') ? `[${host}]` : host;
      logger.info('readiness listens on a port of its own', { health: `http://${shown}:${bound}` });
      return new HealthPort(`http://${shown}:${bound}`, worker, timer);
    } catch (e) {
      clearInterval(timer);
      await worker.terminate();
      throw e;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage('close');
    const timeout = setTimeout(() => void this.#worker.terminate(), 2000);
    await exited;
    clearTimeout(timeout);
  }
}
