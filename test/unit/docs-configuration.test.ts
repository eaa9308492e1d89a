// docs/configuration.md and lib/config.ts agree: every variable in the page's tables is one
// config.ts reads, every variable config.ts reads is in them, and the defaults the page gives are
// the ones loadConfig applies.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadConfig } from '../../lib/config';
import { page, root, tableRows } from './docs-text';

// config.ts and the two files it reads the environment through (service-config.ts, config-env.ts).
const source = ['config.ts', 'service-config.ts', 'config-env.ts']
  .map((f) => fs.readFileSync(path.join(root, 'lib', f), 'utf8'))
  .join('\n');
const rows = tableRows(page('docs/configuration.md').text);

/**
 * The variables config.ts reads. Statically: `env.NAME`, `env['NAME']`, and every UPPER_SNAKE string
 * literal (the names handed to its readers: `flag(env, 'HSM_ENABLED')`, aliases, error variables).
 * Dynamically: every name loadConfig looks up in an environment that records the look-ups, without
 * and with an HSM.
 */
function variablesRead(): Set<string> {
  const names = new Set<string>();
  for (const re of [
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g,
    /'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g,
  ]) {
    for (const [, name] of source.matchAll(re)) if (!/^(ERR|CKR|CKA|CKM|CKF)_/.test(name!)) names.add(name!);
  }
  const hsm = { HSM_ENABLED: 'true', HSM_LIBRARY: '/nowhere/module.so', HSM_TOKEN_LABEL: 't', HSM_PIN: '0000' };
  for (const env of [{}, hsm]) {
    const recording = new Proxy(env as Record<string, string | undefined>, {
      get(target, key) {
        if (typeof key === 'string' && /^[A-Z][A-Z0-9_]*$/.test(key)) names.add(key);
        return Reflect.get(target, key);
      },
    });
    loadConfig(recording);
  }
  return names;
}

/** A variable in a first cell, `NAME` (error codes, `ERR_…`, are not variables). */
const VARIABLE = /^`(?!ERR_)[A-Z][A-Z0-9_]*`$/;

/** The variables the page's tables document (variable | default | meaning | …). */
const documented = new Map(
  rows.filter((cells) => VARIABLE.test(cells[0] ?? '')).map((cells) => [cells[0]!.slice(1, -1), cells]),
);

test('config.ts reads variables (the parse of it finds them)', () => {
  expect(variablesRead().size).toBeGreaterThan(20);
  expect(variablesRead()).toContain('HSM_PIN');
  expect(variablesRead()).toContain('HSM_ENABLED'); // through flag(env, …)
});

test('every variable config.ts reads is in a table of docs/configuration.md', () => {
  expect([...variablesRead()].filter((name) => !documented.has(name)).sort()).toEqual([]);
});

test('every variable in the tables of docs/configuration.md is one config.ts reads', () => {
  const read = variablesRead();
  expect([...documented.keys()].filter((name) => !read.has(name)).sort()).toEqual([]);
});

test('each documented variable is in one row, with a meaning', () => {
  const names = rows.map((cells) => cells[0]).filter((c) => VARIABLE.test(c ?? ''));
  expect(names.length).toBe(new Set(names).size);
  for (const [name, cells] of documented)
    expect({ name, meaning: (cells[2] ?? '').length > 10 }).toEqual({ name, meaning: true });
});

test('the defaults the page gives are the ones loadConfig applies', () => {
  const hsm = { HSM_ENABLED: 'true', HSM_LIBRARY: '/nowhere/module.so', HSM_TOKEN_LABEL: 't', HSM_PIN: '0000' };
  const plain = loadConfig({});
  const withHsm = loadConfig(hsm);
  // Read loosely: a renamed field fails here, naming the variable, rather than failing to compile.
  const service = plain.service as unknown as Record<string, unknown>;
  const rotation = service.rotation as Record<string, unknown> | undefined;
  const text = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  const defaults: Record<string, string> = {
    HSM_POOL_SIZE: text(withHsm.hsm?.poolSize),
    DSN: plain.dsn,
    LOG_LEVEL: plain.logLevel,
    SERVE_HOST: text(service.publicHost), // the default of SERVE_PUBLIC_HOST and SERVE_ADMIN_HOST
    PUBLIC_PORT: text(service.publicPort),
    ADMIN_PORT: text(service.adminPort),
    JWKS_PUBLIC_SETS: text(service.publicSets),
    JWKS_DEFAULT_ALG: text(service.defaultAlg),
    JWKS_CACHE_SECONDS: text(service.jwksCacheSeconds),
    ROTATE_REMOVED: text(rotation?.removed),
    TOKEN_MAX_LIFETIME: `${plain.maxTokenLifetimeMs / 3_600_000}h`,
    ROTATE_PUBLISH_AHEAD: `${plain.publishAheadMs / 1000} s`,
  };
  for (const [name, value] of Object.entries(defaults)) {
    const cell = documented.get(name)?.[1] ?? '';
    expect({ name, default: cell.includes(value) ? value : cell }).toEqual({ name, default: value });
  }
  expect(plain.hsm).toBeUndefined(); // HSM_ENABLED: false by default
  expect(rotation?.everyMs).toBeUndefined(); // ROTATE_EVERY: unset
  expect(service.adminToken).toBeUndefined(); // ADMIN_TOKEN: unset
});
