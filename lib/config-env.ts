// The environment as configuration: the small readers every part of the configuration uses, and
// ConfigError. Every bad value is a ConfigError naming the variable; values are never echoed when
// they could be secret.
import { HsmJwksError } from './errors';

export class ConfigError extends HsmJwksError {
  declare readonly code: 'ERR_CONFIG';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('ERR_CONFIG', `${variable}: ${message}`);
    this.variable = variable;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function flag(env: Env, name: string): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false' || v === '0' || v === 'no') return false;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  throw new ConfigError(name, 'must be true or false');
}

export function integer(env: Env, name: string, min: number): number | undefined {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return undefined;
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(name, `must be an integer of at least ${min}`);
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 90s, 15m, 12h or 30d, in ms. */
export function duration(env: Env, name: string): number | undefined {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new ConfigError(name, 'must be a duration such as 90s, 15m, 12h or 30d');
  return ms;
}

/** A value that is set: undefined when the variable is absent or blank. */
export function given(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** A list: a JSON array of strings (as Ory's configx reads arrays), or comma-separated. */
export function list(env: Env, name: string): string[] | undefined {
  const v = given(env, name);
  if (v === undefined) return undefined;
  if (v.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new ConfigError(name, 'is neither a JSON array of strings nor a comma-separated list');
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string'))
      throw new ConfigError(name, 'must be a JSON array of strings or a comma-separated list');
    return parsed.map((x: string) => x.trim()).filter((x) => x !== '');
  }
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

export function flagOr(env: Env, name: string, fallback: boolean): boolean {
  return given(env, name) === undefined ? fallback : flag(env, name);
}
