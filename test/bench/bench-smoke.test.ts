// The benchmark cannot rot: a tiny run (P-256, 0.15 s windows, one repetition) on a SoftHSM token
// it makes itself must produce every measurement and the report. No figure is asserted.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';

const root = path.join(__dirname, '..', '..');

test('bench/run.js --quick measures every implementation and writes the report', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-bench-smoke-'));
  try {
    const env = { ...process.env };
    for (const v of ['HSM_LIBRARY', 'HSM_TOKEN_LABEL', 'HSM_PIN']) delete env[v];
    const r = spawnSync(process.execPath, [path.join(root, 'bench', 'run.js'), '--quick', '--out', out], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toContain('### Targets');
    const files = fs.readdirSync(out);
    expect(files.filter((f) => f.endsWith('.md'))).toHaveLength(1);
    const json = JSON.parse(fs.readFileSync(path.join(out, files.find((f) => f.endsWith('.json'))!), 'utf8'));
    const kinds = new Set(
      json.results.filter((x: { rate?: number }) => (x.rate ?? 0) > 0).map((x: { kind: string }) => x.kind),
    );
    expect([...kinds].sort()).toEqual([
      'hsm-jwt',
      'hsm-sign',
      'hsm-sign-sync',
      'jose',
      'node-crypto',
      'p11js-promise',
      'p11js-sync',
      'raw',
    ]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
