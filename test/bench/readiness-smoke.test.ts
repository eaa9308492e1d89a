// The readiness benchmark cannot rot: a short run (few keys, one-second windows) against a service it
// starts itself (HEALTH_PORT set) must go through every scenario, the set view's refresh included,
// with every probe (both ports), signature and readiness loop (on either port) answered 2xx, and
// write its report. No figure is asserted (the 5 ms limit is the benchmark's verdict, not this
// test's). It waits about 30 s for the refresh.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from '../helpers/recording-child-process';

test('bench/readiness.js: a short run goes through every scenario and writes its report', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-readiness-smoke-'));
  try {
    const args = [
      '--keys',
      '20',
      '--sets',
      '2',
      '--seconds',
      '1',
      '--connections',
      '2',
      '--loops',
      '1',
      '--warmup',
      '1',
      '--out',
      out,
    ];
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'bench', 'readiness.js'), ...args], {
      env: process.env,
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    // The verdict is the health port's; the public port's figure is printed beside it, labelled.
    expect(r.stdout).toMatch(
      /\*\*Acceptance \(p99 of \/health\/ready on the health port ≤ 5 ms .*\): (PASS|FAIL)\*\* .* the public port \(shares the event loop with signing\): p99 /,
    );
    const files = fs.readdirSync(out);
    expect(files.filter((f) => /^readiness-.*\.md$/.test(f))).toHaveLength(1);
    const result = JSON.parse(
      fs.readFileSync(path.join(out, files.find((f) => /^readiness-.*\.json$/.test(f))!), 'utf8'),
    );
    expect(result.keysOnToken).toBe(20);
    expect(result.scenarios.map((s: { name: string }) => s.name)).toEqual([
      'idle (probes only)',
      'signing (2 connections)',
      'signing + 1 readiness loops on the health port',
      'signing + 1 readiness loops on the public port',
      'signing, set view refreshing (2 connections)',
    ]);
    for (const s of result.scenarios) {
      for (const port of ['public', 'health']) {
        expect(s.probes[port].count).toBeGreaterThan(0);
        expect(s.probes[port].failed).toBe(0);
        expect(s.samples[port].every((x: unknown[]) => x[2] === 200)).toBe(true);
      }
      // Every public-port probe was seen by the monitor inside the service (the health port's worker thread is not monitored).
      expect(s.samples.public.every((x: unknown[]) => typeof x[3] === 'number')).toBe(true);
      if (s.signing) expect({ ok: s.signing.ok > 0, failed: s.signing.failed }).toEqual({ ok: true, failed: 0 });
    }
    expect(
      [2, 3].map((i) => [result.scenarios[i].readinessLoops.port, result.scenarios[i].readinessLoops.failed]),
    ).toEqual([
      ['health', 0],
      ['public', 0],
    ]);
    // The refresh window did read keys from the token; the three windows before it did not.
    expect(result.scenarios[4].keyReads.calls).toBeGreaterThan(0);
    expect([1, 2, 3].map((i) => result.scenarios[i].keyReads.calls)).toEqual([0, 0, 0]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
