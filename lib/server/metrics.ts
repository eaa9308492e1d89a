// Service metrics in the Prometheus text format: counters by label and one latency histogram.
const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #help = new Map<string, string>();
  readonly #buckets = new Array<number>(BUCKETS.length).fill(0);
  #sum = 0;
  #count = 0;

  count(name: string, help: string, labels: Record<string, string>, by = 1): void {
    this.#help.set(name, help);
    let series = this.#counters.get(name);
    if (!series) {
      series = new Map();
      this.#counters.set(name, series);
    }
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
      .join(',');
    series.set(key, (series.get(key) ?? 0) + by);
  }

  /** One signature's latency, in seconds. */
  observeSign(seconds: number): void {
    this.#sum += seconds;
    this.#count++;
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.#buckets[i]!++;
    });
  }

  render(extra: Record<string, number> = {}): string {
    const lines: string[] = [];
    for (const [name, series] of this.#counters) {
      lines.push(`# HELP ${name} ${this.#help.get(name)}`, `# TYPE ${name} counter`);
      for (const [labels, v] of series) lines.push(`${name}{${labels}} ${v}`);
    }
    lines.push(
      '# HELP hsm_jwks_sign_duration_seconds Time to sign one JWT through the service.',
      '# TYPE hsm_jwks_sign_duration_seconds histogram',
    );
    BUCKETS.forEach((b, i) => {
      lines.push(`hsm_jwks_sign_duration_seconds_bucket{le="${b}"} ${this.#buckets[i]}`);
    });
    lines.push(
      `hsm_jwks_sign_duration_seconds_bucket{le="+Inf"} ${this.#count}`,
      `hsm_jwks_sign_duration_seconds_sum ${this.#sum}`,
      `hsm_jwks_sign_duration_seconds_count ${this.#count}`,
    );
    // Figures from the key manager: running totals (…_total) are counters, the rest gauges.
    for (const [name, v] of Object.entries(extra))
      lines.push(`# TYPE ${name} ${name.endsWith('_total') ? 'counter' : 'gauge'}`, `${name} ${v}`);
    return `${lines.join('\n')}\n`;
  }
}
