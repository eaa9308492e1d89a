#!/usr/bin/env node
'use strict';
// A loopback load run against the key service: `hsm-jwks serve` in a child process (a fresh
// SoftHSM2 token and SQLite store in a temporary directory, an ES256 public set), autocannon in
// this one, bounded in time. Every token returned is verified against the service's JWKS.
//   node bench/load.js [--seconds 10] [--connections 32] [--out DIR | --out PAGE.md]
// --out PAGE.md keeps the report as that page (docs/benchmarks/load.md; bench/report.js keep()).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const autocannon = require('autocannon');

const root = path.join(__dirname, '..');
const say = (m) => process.stderr.write(`${m}\n`);
const { arg, makeSoftHsmToken } = require('./common');
const { keep } = require('./report');
const ADMIN = 'load-test-admin-token-0123456789';

async function startService(dir) {
  const token = makeSoftHsmToken({ dir, label: 'load' });
  const env = {
    PATH: process.env.PATH,
    SOFTHSM2_CONF: token.conf,
    HSM_ENABLED: 'true',
    HSM_LIBRARY: token.module,
    HSM_TOKEN_LABEL: token.label,
    HSM_PIN: token.pin,
    DSN: `sqlite://${path.join(dir, 'load.sqlite')}`,
    SECRETS_SYSTEM: 'load-test-secret-0123456789',
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: 'load.es',
    JWKS_DEFAULT_ALG: 'ES256',
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, [path.join(root, 'dist', 'lib', 'cli', 'main.js'), 'serve'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const urls = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${stderr}`)), 60_000);
    child.stderr.on('data', (c) => {
      stderr += c;
      const m = /serving (http:\/\/[^/]+)\/\.well-known\/jwks\.json \(admin API at (http:\/\/[^/]+)\/admin\)/.exec(
        stderr,
      );
      if (m) {
        clearTimeout(timer);
        resolve({ public: m[1], admin: m[2] });
      }
    });
    child.on('exit', (code) => reject(new Error(`the service exited (${code}):\n${stderr}`)));
  });
  return { child, urls };
}

function run(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    autocannon.track(instance, {
      outputStream: process.stderr,
      renderProgressBar: process.stderr.isTTY === true,
      renderResultsTable: false,
    });
  });
}

const summary = (r) => ({
  requestsPerSecond: r.requests.average,
  latencyP50Ms: r.latency.p50,
  latencyP99Ms: r.latency.p99,
  requests: r.requests.total,
  errors: r.errors,
  timeouts: r.timeouts,
  non2xx: r.non2xx,
});

async function main() {
  const seconds = Number(arg('--seconds', '10'));
  const connections = Number(arg('--connections', '32'));
  const out = arg('--out', undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-load-'));
  const { child, urls } = await startService(dir);
  try {
    const tokens = [];
    say(`[load] POST /admin/jwt/load.es for ${seconds} s, ${connections} connections`);
    const jwt = await run({
      url: `${urls.admin}/admin/jwt/load.es`,
      method: 'POST',
      connections,
      duration: seconds,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ claims: { sub: 'load', aud: 'apps' } }),
      setupClient: (client) => client.on('body', (body) => tokens.push(body.toString())),
    });
    say(`[load] GET /.well-known/jwks.json for ${seconds} s, ${connections} connections`);
    const jwks = await run({ url: `${urls.public}/.well-known/jwks.json`, connections, duration: seconds });
    const jose = await import('jose');
    const keySet = jose.createLocalJWKSet(await (await fetch(`${urls.public}/.well-known/jwks.json`)).json());
    let valid = 0;
    let invalid = 0;
    for (const body of tokens) {
      try {
        await jose.jwtVerify(JSON.parse(body).token, keySet, { audience: 'apps' });
        valid++;
      } catch {
        invalid++;
      }
    }
    const result = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      seconds,
      connections,
      jwt: { ...summary(jwt), tokensReturned: tokens.length, tokensValid: valid, tokensInvalid: invalid },
      jwks: summary(jwks),
    };
    const row = (name, r) =>
      `| ${name} | ${Math.round(r.requestsPerSecond)} | ${r.latencyP50Ms} | ${r.latencyP99Ms} | ${r.requests} | ${r.errors + r.timeouts + r.non2xx} |`;
    const markdown = [
      `Loopback, ${connections} connections, ${seconds} s each, service and load generator on the same ${result.machine.cpus}-core machine (Node ${result.machine.node}), SoftHSM2.`,
      '',
      '| route | requests/s | p50 ms | p99 ms | requests | errors |',
      '|---|---:|---:|---:|---:|---:|',
      row('POST /admin/jwt/{set} (ES256 on the token)', result.jwt),
      row('GET /.well-known/jwks.json', result.jwks),
      '',
      `Tokens returned: ${tokens.length}; valid against the JWKS: ${valid}; invalid: ${invalid}.`,
      '',
    ].join('\n');
    const written = keep({ out, name: 'load', title: 'The key service under load', markdown, json: result });
    process.stdout.write(markdown);
    say(`[load] wrote ${written.markdown} and ${written.json}`);
    if (invalid > 0 || result.jwt.errors + result.jwt.non2xx + result.jwks.errors + result.jwks.non2xx > 0)
      process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  say(`load: ${e.message}`);
  process.exit(1);
});
