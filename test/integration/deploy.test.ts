// The deployment (Dockerfile, deploy/), tried on this host where no container engine runs:
// scripts/test-deploy.sh runs the image's build steps and its entry point in a temporary directory
// (token initialised, keys generated, service up, checked over HTTP on loopback, restarted on the
// same data) and checks deploy/compose.yml and the systemd unit as far as they can be checked here.
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';

test('scripts/test-deploy.sh: every check passes', () => {
  const r = spawnSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'test-deploy.sh')], {
    env: Object.fromEntries(
      ['PATH', 'HOME', 'TMPDIR'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]),
    ),
    encoding: 'utf8',
    timeout: 540_000,
  });
  expect({ status: r.status, out: r.stdout.split('\n').filter((l) => l.startsWith('FAIL')) }).toEqual({
    status: 0,
    out: [],
  });
  expect(r.stdout).toMatch(/^test-deploy: (\d+) passed, 0 failed$/m);
  expect(Number(/test-deploy: (\d+) passed/.exec(r.stdout)![1])).toBeGreaterThanOrEqual(15);
}, 600_000);
