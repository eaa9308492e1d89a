// Service metrics in the Prometheus text format (0.0.4): counters and histograms by label, and the
// key manager's figures (KeyRing.stats()). Every family gets `# HELP` and `# TYPE`: the key
// manager's figures take theirs from STAT_HELP below (a figure missing there still gets a generic
// HELP, and test/integration/service-ops.test.ts fails until it is described here).
const SIGN_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** HTTP requests: from a cached JWKS (sub-ms) to a key generation on a network HSM (seconds). */
export const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Kind = 'counter' | 'gauge';

/** HELP and TYPE of the key manager's figures (lib/keys/hsm-source.ts, lib/keys/key-ring.ts) and the process's. */
export const STAT_HELP: Record<string, [Kind, string]> = {
  hsm_jwks_token_ready: ['gauge', '1 while the token is ready for use.'],
  hsm_jwks_token_unavailable: ['gauge', '1 while the token is unavailable (removed, device error, session lost).'],
  hsm_jwks_token_login_refused: ['gauge', '1 while the token refuses the PIN (logins stop until an operator acts).'],
  hsm_jwks_token_logins_total: ['counter', 'Logins to the token since the start.'],
  hsm_jwks_pool_sessions_open: ['gauge', 'PKCS#11 sessions open in the pool.'],
  hsm_jwks_pool_sessions_in_use: ['gauge', 'PKCS#11 sessions of the pool in use now.'],
  hsm_jwks_pool_waiting: ['gauge', 'Calls waiting for a session of the pool.'],
  hsm_jwks_pool_sessions_evicted_total: ['counter', 'Sessions dropped from the pool after an error.'],
  hsm_jwks_relogins_total: ['counter', 'Logins made again after the token dropped the login.'],
  hsm_jwks_engine_replacements_total: ['counter', 'Signing engines replaced after a failure.'],
  hsm_jwks_retries_total: ['counter', 'PKCS#11 calls retried after a recoverable failure.'],
  hsm_jwks_reinitializations_total: ['counter', 'Re-initialisations of the PKCS#11 module (C_Finalize, C_Initialize).'],
  hsm_jwks_key_lookups_total: ['counter', 'Key lookups on the token (C_FindObjects) after a key handle went stale.'],
  hsm_jwks_engine_queued: ['gauge', 'Signatures queued in the signing engine.'],
  hsm_jwks_engine_outstanding: ['gauge', 'Signatures accepted by the signing engine and not yet answered.'],
  hsm_jwks_engine_signatures_total: ['counter', 'Signatures made by the signing engine.'],
  hsm_jwks_engine_workers: ['gauge', 'Worker threads of the signing engine.'],
  hsm_jwks_engine_limit: ['gauge', 'Signatures the signing engine lets run at once (adaptive limit).'],
  hsm_jwks_engine_in_flight: ['gauge', 'Signatures running on the token now.'],
  hsm_jwks_engine_sign_latency_seconds_total: [
    'counter',
    "Total time of the signing engine's C_Sign calls, in seconds.",
  ],
  hsm_jwks_engine_sign_latency_count: ['counter', 'C_Sign calls timed in hsm_jwks_engine_sign_latency_seconds_total.'],
  hsm_jwks_engine_latency_ms: ['gauge', 'Recent C_Sign latency the adaptive limit sees, in milliseconds.'],
  hsm_jwks_engine_min_latency_ms: [
    'gauge',
    "Lowest recent C_Sign latency (the adaptive limit's baseline), in milliseconds.",
  ],
  hsm_jwks_key_problems: [
    'gauge',
    'Keys found unusable when their sets were read (foreign, unmappable, missing half).',
  ],
  hsm_jwks_process_resident_memory_bytes: ['gauge', 'Resident memory of the process, in bytes.'],
};

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

interface Histogram {
  buckets: number[];
  series: Map<string, { counts: number[]; sum: number; count: number }>;
}

export class Metrics {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, Histogram>();
  readonly #help = new Map<string, string>();

  count(name: string, help: string, labels: Record<string, string>, by = 1): void {
    this.#help.set(name, help);
    let series = this.#counters.get(name);
    if (!series) {
      series = new Map();
      this.#counters.set(name, series);
    }
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  /** One observation (seconds) of histogram `name` at `labels`. */
  observe(name: string, help: string, labels: Record<string, string>, seconds: number, buckets = REQUEST_BUCKETS) {
    this.#help.set(name, help);
    let h = this.#histograms.get(name);
    if (!h) {
      h = { buckets, series: new Map() };
      this.#histograms.set(name, h);
    }
    const key = labelText(labels);
    let s = h.series.get(key);
    if (!s) {
      s = { counts: new Array<number>(h.buckets.length).fill(0), sum: 0, count: 0 };
      h.series.set(key, s);
    }
    s.sum += seconds;
    s.count++;
    for (let i = 0; i < h.buckets.length; i++) if (seconds <= h.buckets[i]!) s.counts[i]!++;
  }

  /** One signature's latency, in seconds. */
  observeSign(seconds: number): void {
    this.observe(
      'hsm_jwks_sign_duration_seconds',
      'Time to sign one JWT through the service.',
      {},
      seconds,
      SIGN_BUCKETS,
    );
  }

  render(extra: Record<string, number> = {}): string {
    const lines: string[] = [];
    for (const [name, series] of this.#counters) {
      lines.push(`# HELP ${name} ${this.#help.get(name)}`, `# TYPE ${name} counter`);
      for (const [labels, v] of series) lines.push(`${name}${labels ? `{${labels}}` : ''} ${v}`);
    }
    if (!this.#histograms.has('hsm_jwks_sign_duration_seconds')) this.#emptySignHistogram(lines);
    for (const [name, h] of this.#histograms) {
      lines.push(`# HELP ${name} ${this.#help.get(name)}`, `# TYPE ${name} histogram`);
      for (const [labels, s] of h.series) {
        const sep = labels ? `${labels},` : '';
        h.buckets.forEach((b, i) => {
          lines.push(`${name}_bucket{${sep}le="${b}"} ${s.counts[i]}`);
        });
        lines.push(
          `${name}_bucket{${sep}le="+Inf"} ${s.count}`,
          `${name}_sum${labels ? `{${labels}}` : ''} ${s.sum}`,
          `${name}_count${labels ? `{${labels}}` : ''} ${s.count}`,
        );
      }
    }
    // Figures from the key manager and the process.
    for (const [name, v] of Object.entries(extra)) {
      const [kind, help] = STAT_HELP[name] ?? [
        name.endsWith('_total') ? 'counter' : 'gauge',
        `${name.replace(/^hsm_jwks_/, '').replace(/_/g, ' ')} (a figure of the key manager).`,
      ];
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`, `${name} ${v}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** The signing histogram exists before the first signature (zero counts), as before. */
  #emptySignHistogram(lines: string[]): void {
    const name = 'hsm_jwks_sign_duration_seconds';
    lines.push(`# HELP ${name} Time to sign one JWT through the service.`, `# TYPE ${name} histogram`);
    for (const b of SIGN_BUCKETS) lines.push(`${name}_bucket{le="${b}"} 0`);
    lines.push(`${name}_bucket{le="+Inf"} 0`, `${name}_sum 0`, `${name}_count 0`);
  }
}
