// What every command gets: its checked arguments and options, the environment, the configuration
// (read on first use: a bad variable is exit 3) and a logger at the CLI's level.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type Config, loadConfig } from '../config';
import { HsmJwksError } from '../errors';
import { createKeyManager } from '../keys/create';
import type { KeyManager } from '../keys/key-manager';
import type { RotatingKeys } from '../keys/rotation';
import { createLogger, type Logger } from '../logger';
import { type CommandSpec, UsageError } from './spec';

export interface Invocation {
  spec: CommandSpec;
  args: Record<string, string | undefined>;
  options: Record<string, string | boolean | undefined>;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  /** Checks made before any work and before the configuration is read: a UsageError exits 2. */
  check?(inv: Invocation): void;
  run(inv: Invocation, ctx: Context): Promise<number>;
}

export class Context {
  #config: Config | undefined;
  #logger: Logger | undefined;
  constructor(readonly inv: Invocation) {}

  config(): Config {
    this.#config ??= loadConfig(withUri(this.inv));
    return this.#config;
  }

  /** `serve` logs at LOG_LEVEL (info by default); every other command at warn unless LOG_LEVEL is set. */
  logger(): Logger {
    if (!this.#logger) {
      const level = this.inv.spec.name === 'serve' || this.inv.env.LOG_LEVEL?.trim() ? this.config().logLevel : 'warn';
      this.#logger = createLogger(level, { format: this.config().logFormat }); // LOG_FORMAT (auto: text on a terminal)
    }
    return this.#logger;
  }

  /**
   * Runs `fn` with a key manager made from the configuration, closed after it. A command's `fn`
   * declares the part it uses (`(km: KeySets) => …`, `(km: KeySigner) => …`).
   */
  async withManager<T>(fn: (km: KeyManager & RotatingKeys) => Promise<T>, config = this.config()): Promise<T> {
    const km = await createKeyManager(config, { logger: this.logger() });
    try {
      return await fn(km);
    } finally {
      await km.close();
    }
  }
}

/**
 * The environment with `--uri` as HSM_URI and HSM_ENABLED=true: the command line wins over the
 * environment's HSM_URI, and is combined with the other HSM_* variables as HSM_URI is.
 */
function withUri(inv: Invocation): NodeJS.ProcessEnv {
  const uri = inv.options.uri;
  if (typeof uri !== 'string') return inv.env;
  if (uri.trim() === '') throw new UsageError('--uri must not be empty', inv.spec);
  return { ...inv.env, HSM_URI: uri, HSM_ENABLED: 'true' };
}

/** Runs a check of a lower layer (checkSet, checkKid, …); its typed error becomes a usage error. */
export function checked<T>(spec: CommandSpec, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof HsmJwksError || e instanceof TypeError || e instanceof RangeError)
      throw new UsageError(`${what}: ${(e as { code?: string }).code ?? 'invalid'}: ${e.message}`, spec);
    throw e;
  }
}

/** This package's version, from its package.json. */
export function packageVersion(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (m.name === 'hsm-jwks' && m.version) return m.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
