#!/usr/bin/env node
// The `hsm-jwks` command. Reads the same environment as the library (see the README), prints JSON
// results on stdout and messages on stderr. Exit codes: 0 done, 1 failed, 2 usage, 3 configuration.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { ConfigError, loadConfig, type Config } from '../config';
import { createKeyManager } from '../keys/create';
import type { KeyRing } from '../keys/key-ring';
import { rotate } from '../keys/rotation';
import { rotateSecrets } from '../keys/store-admin';
import type { KeyUse } from '../pkcs11/key-spec';
import { createLogger } from '../logger';
import { startService } from '../server/serve';
import { applyDevDefaults } from './dev-defaults';
import { doctor } from './doctor';
import { EXIT, printJson, printText, say, withProgress } from './output';

const USAGE = `usage: hsm-jwks <command>

  keys create <set> --alg ALG [--kid KID] [--use sig|enc] [--activate-now]
                                                            generate a key (on the HSM when enabled); in a set
                                                            that has a signing key it signs after the publish-ahead
                                                            time, or at once with --activate-now
  keys get <set> [kid] [--private]                          public JWKS (private members of software keys with --private)
  keys import <set> <file.json>                             a private JWK or JWKS into the software store
  keys delete <set> [kid]                                   a key, or the whole set
  keys list                                                 sets, kids, alg, use, state and where each key lives
  keys rotate <set> [--alg ALG]                             a new key that signs after the publish-ahead time; the
                                                            current ones retire then (ROTATE_* variables)
  jwt sign <set> --claims JSON [--kid KID]                  a JWT signed by the set's newest key (or KID)
  secrets rotate                                            re-seal software keys under the first SECRETS_SYSTEM secret
  doctor                                                    module, slots, token, login and algorithms available
  serve [--dev]                                             the HTTP key service (--dev: development defaults under ./data)
  bench [--quick] [--seconds S] [--reps N] [--keys LIST]    measure signing on the configured module (see README)

Configuration comes from the environment: HSM_ENABLED, HSM_LIBRARY, HSM_PIN or HSM_PIN_FILE,
HSM_TOKEN_LABEL / HSM_TOKEN_SERIAL / HSM_SLOT, HSM_KEY_SET_PREFIX, HSM_INIT_ARGS, HSM_POOL_SIZE,
DSN, SECRETS_SYSTEM, LOG_LEVEL, ROTATE_PUBLISH_AHEAD, ROTATE_RETIRE_AFTER, TOKEN_MAX_LIFETIME, ROTATE_EVERY,
ROTATE_REMOVED.
Exit codes: 0 done, 1 failed, 2 usage, 3 configuration.`;

class UsageError extends Error {}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${what}`);
  return value;
}

async function withManager<T>(config: Config, fn: (km: KeyRing) => Promise<T>): Promise<T> {
  const km = await createKeyManager(config, { logger: createLogger(config.logLevel) });
  try {
    return await fn(km);
  } finally {
    await km.close();
  }
}

async function keys(config: Config, sub: string | undefined, args: string[], o: Options): Promise<number> {
  switch (sub) {
    case 'create': {
      const set = need(args[0], '<set>');
      const alg = need(o.alg, '--alg');
      const use = (o.use ?? 'sig') as KeyUse;
      const where = config.hsm ? 'on the HSM' : 'in software';
      const jwks = await withManager(config, (km) =>
        withProgress(`generating a ${alg} key pair ${where}`, () =>
          km.generateAndPersistKeySet(set, o.kid, alg, use, { activateNow: o['activate-now'] === true }),
        ),
      );
      printJson(jwks);
      return EXIT.ok;
    }
    case 'get': {
      const set = need(args[0], '<set>');
      const options = { includePrivate: o.private === true };
      printJson(
        await withManager(config, (km) => (args[1] ? km.getKey(set, args[1], options) : km.getKeySet(set, options))),
      );
      return EXIT.ok;
    }
    case 'import': {
      const set = need(args[0], '<set>');
      const file = need(args[1], '<file.json>');
      let parsed: unknown;
      try {
        parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new UsageError(`cannot read JSON from ${file}: ${(e as Error).message}`);
      }
      const isSet = typeof parsed === 'object' && parsed !== null && 'keys' in parsed;
      await withManager(config, (km) => (isSet ? km.addKeySet(set, parsed) : km.addKey(set, parsed)));
      const count = isSet ? (parsed as { keys: unknown[] }).keys.length : 1;
      say(`imported ${count} key(s) into the software store, set ${JSON.stringify(set)}`);
      printJson({ set, imported: count });
      return EXIT.ok;
    }
    case 'delete': {
      const set = need(args[0], '<set>');
      await withManager(config, (km) => (args[1] ? km.deleteKey(set, args[1]) : km.deleteKeySet(set)));
      printJson({ set, ...(args[1] ? { kid: args[1] } : {}), deleted: true });
      return EXIT.ok;
    }
    case 'list': {
      // Keys that exist but cannot be used (a wrong secret, damaged objects) are not in the list: say so, and fail.
      const { keys, problems } = await withManager(config, async (km) => ({
        keys: await km.list(),
        problems: await km.problems(),
      }));
      printJson(keys);
      for (const p of problems)
        say(
          `hsm-jwks: not listed: ${p.kid === '' ? 'an object' : `key ${JSON.stringify(p.kid)}`} of set ${JSON.stringify(p.set)} (${p.where}): ${p.kind}: ${p.detail}`,
        );
      if (problems.length > 0)
        say(`hsm-jwks: ${problems.length} key(s) or object(s) cannot be used; hsm-jwks doctor says how to repair them`);
      return problems.length === 0 ? EXIT.ok : EXIT.failed;
    }
    case 'rotate': {
      const set = need(args[0], '<set>');
      const result = await withManager(config, (km) =>
        rotate(km, set, config.service.rotation, o.alg ? { alg: o.alg } : {}),
      );
      say(
        result.created
          ? `key ${result.kid} is published now and signs from ${result.activateAt.toISOString()}; ${result.retiring.length} key(s) retire then`
          : `a rotation is already pending: key ${result.kid} signs from ${result.activateAt.toISOString()}`,
      );
      printJson(result);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown keys command ${JSON.stringify(sub ?? '')}`);
  }
}

interface Options {
  alg?: string;
  kid?: string;
  use?: string;
  claims?: string;
  private?: boolean;
  'activate-now'?: boolean;
  dev?: boolean;
  help?: boolean;
}

async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'bench') return runBench(argv);
  let parsed: { values: unknown; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        alg: { type: 'string' },
        kid: { type: 'string' },
        use: { type: 'string' },
        claims: { type: 'string' },
        private: { type: 'boolean' },
        'activate-now': { type: 'boolean' },
        dev: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const o = parsed.values as Options;
  const [group, sub, ...args] = parsed.positionals;
  if (o.help || group === undefined || group === 'help') {
    printText(USAGE);
    return group === undefined && !o.help ? EXIT.usage : EXIT.ok;
  }
  const config = loadConfig(process.env);
  switch (group) {
    case 'keys':
      return keys(config, sub, args, o);
    case 'jwt': {
      if (sub !== 'sign') throw new UsageError(`unknown jwt command ${JSON.stringify(sub ?? '')}`);
      const set = need(args[0], '<set>');
      let claims: unknown;
      try {
        claims = JSON.parse(need(o.claims, '--claims'));
      } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`--claims is not JSON: ${(e as Error).message}`);
      }
      if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
        throw new UsageError('--claims must be a JSON object');
      printText(
        await withManager(config, (km) =>
          km.signJwt(set, claims as Record<string, unknown>, o.kid ? { kid: o.kid } : {}),
        ),
      );
      return EXIT.ok;
    }
    case 'secrets': {
      if (sub !== 'rotate') throw new UsageError(`unknown secrets command ${JSON.stringify(sub ?? '')}`);
      const resealed = await rotateSecrets(config);
      printJson({ resealed });
      return EXIT.ok;
    }
    case 'serve':
      return serve(o.dev === true ? applyDevDefaults(config, process.env, createLogger(config.logLevel)) : config);
    case 'doctor': {
      const { report, problems } = await doctor(config);
      printJson({ ...report, problems });
      for (const p of problems) say(`hsm-jwks doctor: ${p}`);
      return problems.length === 0 ? EXIT.ok : EXIT.failed;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(group)}`);
  }
}

/** Runs the service until SIGTERM or SIGINT, then closes it cleanly. */
async function serve(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel);
  const service = await startService(config, { logger });
  say(`hsm-jwks: serving ${service.publicUrl}/.well-known/jwks.json (admin API at ${service.adminUrl}/admin)`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info('stopping', { signal });
      void service.close().then(resolve, (e: unknown) => {
        logger.error('stopping failed', { message: (e as Error).message });
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return EXIT.ok;
}

/**
 * `hsm-jwks bench`: the package's benchmark (bench/run.js) on the module that HSM_LIBRARY,
 * HSM_TOKEN_LABEL and HSM_PIN name (a temporary SoftHSM2 token when they are unset). Its flags pass
 * through; its report goes to stdout.
 */
function runBench(argv: string[]): number {
  const script = path.join(__dirname, '..', '..', '..', 'bench', 'run.js');
  if (!fs.existsSync(script)) throw new UsageError(`the benchmark is not installed with this package (${script})`);
  const r = spawnSync(process.execPath, [script, ...argv.slice(1)], { stdio: 'inherit', env: process.env });
  return r.status ?? EXIT.failed;
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      say(`hsm-jwks: ${e.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    const code = (e as { code?: unknown }).code;
    say(`hsm-jwks: ${typeof code === 'string' ? `${code}: ` : ''}${(e as Error).message ?? String(e)}`);
    return e instanceof ConfigError ? EXIT.config : EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
