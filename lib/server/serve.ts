// Starts the key service: the key manager, the public sets made when missing (Hydra does the
// same on first use), the public and admin listeners. close() stops accepting, lets requests in
// flight finish, then closes the token and the store.
import type { AddressInfo } from 'node:net';

import type { Config } from '../config';
import { createKeyManager } from '../keys/create';
import { ensureKeySet } from '../keys/ensure';
import type { KeyRing } from '../keys/key-ring';
import { Rotator } from '../keys/rotation';
import type { Logger } from '../logger';
import { buildApps, type Apps } from './app';
import { HealthPort } from './health-port';
import { applyListenerLimits } from './listener-limits';
import { OperatorLogin } from './operator-login';

export interface Service {
  publicUrl: string;
  adminUrl: string;
  /** The readiness listener of its own (HEALTH_PORT), when configured. */
  healthUrl?: string;
  apps: Apps;
  km: KeyRing;
  /** The rotation schedule of the public sets (tests call tick() with a moved clock). */
  rotator: Rotator;
  close(): Promise<void>;
}

function url(address: string | AddressInfo | null): string {
  if (address === null || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

export async function startService(
  config: Config,
  options: { logger: Logger; clock?: () => number; schedule?: boolean },
): Promise<Service> {
  const { logger } = options;
  const s = config.service;
  const km = await createKeyManager(config, { logger, ...(options.clock ? { clock: options.clock } : {}) });
  let health: HealthPort | undefined;
  try {
    // Fail closed: a public set whose keys exist but cannot be read stops the start (ERR_KEY_SET_UNREADABLE).
    for (const set of s.publicSets) await ensureKeySet(km, set, s.defaultAlg, logger);
    const onePort = s.publicPort === s.adminPort && s.publicPort !== 0;
    const rotator = new Rotator(km, s.publicSets, s.rotation, logger);
    const operator = new OperatorLogin(km, config.hsm?.pinFile, logger);
    const apps = buildApps({
      km,
      publicSets: s.publicSets,
      adminToken: s.adminToken,
      logger,
      onePort,
      jwksMaxAgeMs: s.jwksCacheSeconds * 1000,
      rotation: s.rotation,
      resumeLogins: () => operator.resume('admin-route'),
      adminHost: s.adminHost,
      cors: s.cors,
    });
    applyListenerLimits(apps.public.server, s.limits, 'public', logger, apps.metrics);
    if (apps.admin !== apps.public) applyListenerLimits(apps.admin.server, s.limits, 'admin', logger, apps.metrics);
    if (options.schedule !== false)
      rotator.start(Math.max(1000, Math.min(60_000, (s.rotation.everyMs ?? Infinity) / 10)));
    if (config.hsm) operator.start();
    await apps.public.listen({ host: s.publicHost, port: s.publicPort });
    if (apps.admin !== apps.public) await apps.admin.listen({ host: s.adminHost, port: s.adminPort });
    if (s.healthPort !== undefined) health = await HealthPort.start(s.publicHost, s.healthPort, km, logger, s.limits);
    const publicUrl = url(apps.public.server.address());
    const adminUrl = url(apps.admin.server.address());
    if (!s.adminToken) {
      logger.warn(
        'ADMIN_TOKEN is not set: the admin API has no authentication, so it listens on loopback only and answers only requests whose Host names this machine',
      );
    }
    logger.info('hsm-jwks is serving', { public: publicUrl, admin: adminUrl, sets: s.publicSets });
    let closing: Promise<void> | undefined;
    return {
      publicUrl,
      adminUrl,
      ...(health ? { healthUrl: health.url } : {}),
      apps,
      km,
      rotator,
      close() {
        closing ??= (async () => {
          rotator.stop();
          operator.stop();
          await health?.close();
          await Promise.all([apps.public.close(), apps.admin === apps.public ? undefined : apps.admin.close()]);
          await km.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    await health?.close().catch(() => undefined);
    await km.close().catch(() => undefined);
    throw e;
  }
}
