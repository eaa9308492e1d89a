// The fault soak in its CI length: 30 s of signing at full speed with a fault injected every 3 s.
// Asserted: no untyped failure, every sampled signature verifies, recoveries happened. Figures
// (rate, success rate, RSS) are reported by the script, not asserted.
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';

test('30 s of signing through injected faults: typed errors or recoveries only', () => {
  const r = spawnSync(
    process.execPath,
    [path.join(__dirname, '..', '..', 'bench', 'soak-faults.js'), '--seconds', '30', '--every', '3'],
    {
      env: process.env,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const result = JSON.parse(r.stdout);
  expect(result.untypedFailures).toBe(0);
  expect(result.sampledSignaturesFailingVerification).toBe(0);
  expect(result.faultsInjected).toBeGreaterThanOrEqual(9);
  expect(result.recoveries.relogins + result.recoveries.engineReplacements).toBeGreaterThan(0);
  console.log(`fault soak, 30 s: ${r.stdout}`);
}, 120_000);
