// The adaptive limit against models of the devices it must serve without tuning: network HSMs
// (latency, capacity: a request beyond capacity waits inside the device) and a CPU-bound local
// module (every thread beyond the cores stretches every signature). Deterministic noise.
import { ConcurrencyLimit } from '../../lib/pkcs11/concurrency-limit';

interface Device {
  /** Mean latency (µs) of a signature at this concurrency. */
  latencyUs(limit: number): number;
  /** Signatures per second at this concurrency. */
  rate(limit: number): number;
}

const network = (latencyMs: number, capacity: number): Device => ({
  latencyUs: (l) => latencyMs * 1000 * Math.max(1, l / capacity),
  rate: (l) => Math.min(l, capacity) / (latencyMs / 1000),
});
/** Two cores, 40 µs a signature, and the JS thread taking part of a core. */
const cpu: Device = { latencyUs: (l) => (40 * (l + 0.7)) / 2, rate: (l) => Math.min(l, 2) / 40e-6 };

/** A small LCG: the same noise on every run. */
function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31 - 0.5;
  };
}

/** Runs `windows` windows of 100 ms with unbounded demand; the limits chosen and the share of the device's best throughput reached. */
function drive(
  c: ConcurrencyLimit,
  device: Device,
  windows: number,
  demand = () => 1e9,
): { limits: number[]; efficiency: number } {
  const rnd = noise(7);
  let count = 0;
  let sum = 0;
  let done = 0;
  let best = 0;
  const limits: number[] = [];
  for (let w = 1; w <= windows; w++) {
    const want = demand();
    const inFlight = Math.min(c.limit, want);
    const n = Math.max(1, Math.round(device.rate(inFlight) * 0.1 * (1 + rnd() * 0.1)));
    count += n;
    done += n;
    best += Math.max(...[1, 2, 4, 8, 16, 32, 64, 128, 256].map((l) => device.rate(Math.min(l, want)))) * 0.1;
    sum += n * device.latencyUs(inFlight) * (1 + rnd() * 0.04);
    c.update(
      { latencyCount: count, latencyUsSum: sum, queued: Math.max(0, want - inFlight), running: inFlight },
      want,
      w * 100,
    );
    limits.push(c.limit);
  }
  return { limits, efficiency: done / best };
}

test.each([
  [0.5, 16],
  [2, 32],
  [20, 128],
])(
  'a network HSM of %s ms and capacity %i: the limit settles just above the capacity, ≥ 0.95 of its throughput',
  (latencyMs, capacity) => {
    const c = new ConcurrencyLimit({ cores: 2, max: 256 });
    const { limits, efficiency } = drive(c, network(latencyMs, capacity), 300);
    const settled = limits.slice(-100);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(capacity * 0.5); // a probe window runs at half
    expect(settled.filter((l) => l >= capacity).length).toBeGreaterThan(95);
    expect(Math.max(...settled)).toBeLessThanOrEqual(capacity * 1.25 + 4);
    expect(efficiency).toBeGreaterThanOrEqual(0.95);
    expect(c.state()).toMatchObject({ limit: limits.at(-1) });
  },
);

test('a CPU-bound module on two cores: a few workers, not hundreds', () => {
  const c = new ConcurrencyLimit({ cores: 2, max: 256 });
  const { limits, efficiency } = drive(c, cpu, 300);
  expect(Math.max(...limits.slice(-100))).toBeLessThanOrEqual(8);
  const settled = [...limits.slice(-100)].sort((a, b) => a - b);
  expect(settled[50]).toBeGreaterThanOrEqual(2); // the median: a probe window halves it now and then
  expect(efficiency).toBeGreaterThanOrEqual(0.95);
});

test("never beyond max (the token's session limit) nor below min", () => {
  const c = new ConcurrencyLimit({ cores: 2, min: 2, max: 20 });
  const { limits } = drive(c, network(20, 128), 200);
  expect(Math.max(...limits)).toBe(20);
  expect(Math.min(...limits)).toBeGreaterThanOrEqual(2);
});

test('app-limited windows do not grow the limit; a long idle stretch releases it', () => {
  const c = new ConcurrencyLimit({ cores: 2, max: 256 });
  drive(c, network(20, 128), 100);
  const busy = c.limit;
  expect(busy).toBeGreaterThan(100);
  // Callers want 10 at a time for 60 s: the limit stays (no judgement), then decays toward 10.
  const { limits } = drive(c, network(20, 128), 600, () => 10);
  expect(limits[100]).toBe(busy);
  expect(limits.at(-1)).toBeLessThan(busy / 2);
  expect(limits.at(-1)).toBeGreaterThanOrEqual(10);
  // Demand comes back: slow start finds the capacity again within a couple of seconds.
  const { limits: again } = drive(c, network(20, 128), 30);
  expect(again.at(-1)).toBeGreaterThanOrEqual(128);
});

test('a device whose own latency rises is believed within seconds (the probe window), not taken for a queue', () => {
  const c = new ConcurrencyLimit({ cores: 2, max: 256 });
  drive(c, network(2, 32), 100);
  // The same capacity, four times the latency (a longer network path): the limit stays at capacity.
  const { limits, efficiency } = drive(c, network(8, 32), 300);
  const last = [...limits.slice(-50)].sort((a, b) => a - b);
  expect(last[25]).toBeGreaterThanOrEqual(32); // the median: probe windows at half the limit aside
  expect(efficiency).toBeGreaterThanOrEqual(0.9);
});
