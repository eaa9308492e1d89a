// `hsm-jwks doctor`: what the configured module and token offer, and whether login works.
// Returns a report and the problems found (an empty list means healthy), with every credential in
// it redacted (the DSN's password, secret query parameters: redact.ts): nothing it prints can
// carry a secret (no PIN, no SECRETS_SYSTEM value is ever put in it).
import type { Config } from '../config';
import { algorithmsAvailable } from '../keys/capabilities';
import { createKeyManager, describeToken } from '../keys/create';
import { silentLogger } from '../logger';
import { inspectStore } from '../keys/store-admin';
import { CKF_TOKEN } from '../pkcs11/constants';
import { Pkcs11Module } from '../pkcs11/module';
import { redact } from './redact';

export interface DoctorReport {
  report: Record<string, unknown>;
  problems: string[];
}

export async function doctor(config: Config): Promise<DoctorReport> {
  const report: Record<string, unknown> = {};
  const problems: string[] = [];
  report.store = await checkStore(config, problems);
  if (config.hsm) await checkToken(config.hsm, report, problems);
  else report.hsm = { enabled: false };
  if (problems.length === 0) report.keys = await checkKeys(config, problems);
  return redact({ report, problems });
}

/** Every key that is not published, and why, with the command that repairs it when there is a safe one. */
async function checkKeys(config: Config, problems: string[]): Promise<unknown> {
  try {
    const km = await createKeyManager(config, { logger: silentLogger });
    try {
      const [keys, found] = await Promise.all([km.list(), km.problems()]);
      for (const p of found) {
        const what =
          p.kid === ''
            ? `an object of set ${JSON.stringify(p.set)} (${p.where})`
            : `key ${JSON.stringify(p.kid)} of set ${JSON.stringify(p.set)} (${p.where}) ${p.kind.startsWith('certificate-') ? 'is published, not its certificate:' : 'is not published:'}`;
        problems.push(`${what} ${p.kind}: ${p.detail}${p.repair ? `; repair: ${p.repair}` : ''}`);
      }
      return { count: keys.length, sets: [...new Set(keys.map((k) => k.set))], problems: found };
    } finally {
      await km.close();
    }
  } catch (e) {
    problems.push(`the keys cannot be read: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
    return undefined;
  }
}

async function checkToken(
  hsm: NonNullable<Config['hsm']>,
  report: Record<string, unknown>,
  problems: string[],
): Promise<void> {
  report.hsm = { enabled: true, library: hsm.library, selector: hsm.selector, keySetPrefix: hsm.keySetPrefix };
  let mod: Pkcs11Module;
  try {
    mod = await Pkcs11Module.load(hsm.library, hsm.initArgs === undefined ? {} : { initArgs: hsm.initArgs });
  } catch (e) {
    problems.push(`cannot load the PKCS#11 module: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
    return;
  }
  try {
    report.module = { ...(await mod.info()), ...mod.describe() };
    report.slots = (await mod.slots()).map((s) => ({
      slot: s.slot.toString(),
      description: s.description,
      token: s.token && {
        label: s.token.label,
        serialNumber: s.token.serialNumber,
        model: s.token.model,
        initialized: (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0,
        loginRequired: (s.token.flags & CKF_TOKEN.LOGIN_REQUIRED) !== 0,
      },
    }));
    const token = await mod.openToken(hsm.selector, {
      ...(hsm.pin === undefined ? {} : { pin: hsm.pin }),
      poolSize: 1,
    });
    const algorithms = algorithmsAvailable(new Set((await token.mechanisms()).map((m) => m.type)));
    report.token = {
      label: token.label,
      serialNumber: token.serialNumber,
      slot: token.slot.toString(),
      login: hsm.pin === undefined ? 'no PIN configured' : 'ok',
    };
    report.algorithms = algorithms;
    report.keyPairs = (await token.findKeyPairs()).length;
    if (algorithms.available.length === 0)
      problems.push('the token offers no mechanism for any supported JWS algorithm');
  } catch (e) {
    problems.push(`${describeToken(hsm)}: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
  } finally {
    await mod.close().catch(() => undefined);
  }
}

async function checkStore(config: Config, problems: string[]): Promise<unknown> {
  if (config.secrets.length === 0) {
    problems.push('SECRETS_SYSTEM is not set: the software key store cannot seal or open keys');
    return { dsn: config.dsn, secrets: 0 };
  }
  try {
    const { keys, unreadable } = await inspectStore(config);
    if (unreadable > 0) problems.push(`${unreadable} software key(s) cannot be opened with SECRETS_SYSTEM`);
    return { dsn: config.dsn, secrets: config.secrets.length, keys, unreadable };
  } catch (e) {
    problems.push(`the key store cannot be opened: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
    return { dsn: config.dsn };
  }
}
