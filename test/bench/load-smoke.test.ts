// The load run cannot rot: a one-second run against a service it starts itself must end with no
// error and every token valid. No figure is asserted.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';

test('bench/load.js: a short run, no errors, every token valid', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-load-smoke-'));
  try {
    const r = spawnSync(
      process.execPath,
      [path.join(__dirname, '..', '..', 'bench', 'load.js'), '--seconds', '1', '--connections', '2', '--out', out],
      {
        env: process.env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    const file = fs.readdirSync(out).find((f) => f.startsWith('load-'))!;
    const result = JSON.parse(fs.readFileSync(path.join(out, file), 'utf8'));
    expect(result.jwt.tokensReturned).toBeGreaterThan(0);
    expect(result.jwt.tokensValid).toBe(result.jwt.tokensReturned);
    expect(result.jwt.errors + result.jwt.non2xx + result.jwks.errors + result.jwks.non2xx).toBe(0);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
