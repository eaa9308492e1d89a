// How many signatures the engine lets into the token at once, found by measuring instead of
// configured. A Vegas-style limit (as in TCP Vegas and Netflix's concurrency-limits): the lowest
// latency seen recently is the device's own (no queue); a window whose mean latency is higher says
// how many requests waited inside the device: queue = limit × (1 − minLatency / latency).
//   queue < alpha   → the device has room: grow (doubling until the first sign of a queue, then +10 %)
//   queue > beta    → concurrency only adds latency: shrink by half the excess
// with alpha a tenth of the limit (at least one request) and beta twice that (at least two). A network HSM
// of capacity C settles a few above C; a CPU-bound module (SoftHSM) near its cores, because every
// extra thread only stretches every signature. Windows in which callers asked for less than the
// limit, or in which the limit's workers spent less than 75 % of the window inside the token (the
// bottleneck is elsewhere: the JS thread, the callers), neither grow it nor move the baseline; after
// a long idle stretch the limit decays, so unused sessions can be handed back.
// See docs/performance.md ("Adaptive concurrency") for the constants and the measurements behind them.

export interface LimitOptions {
  /** Lowest limit (default 1). */
  min?: number;
  /** Highest limit: the sessions the token allows the engine, or a cap (default 256). */
  max?: number;
  /** Limit at start (default: min(cores, max)). */
  initial?: number;
}

/** What the engine reports, cumulative since it started, plus what is waiting now. */
export interface EngineSample {
  /** Signatures finished (ok or not). */
  latencyCount: number;
  /** Sum of their C_SignInit+C_Sign durations, µs. */
  latencyUsSum: number;
  /** Waiting for a worker now. */
  queued: number;
  /** Inside C_SignInit/C_Sign now. */
  running: number;
}

export interface LimitState {
  limit: number;
  /** Mean latency of the last window that had signatures, ms. */
  latencyMs: number;
  /** The no-queue latency estimate, ms. */
  minLatencyMs: number;
  /** Estimated requests waiting inside the device in the last window. */
  queue: number;
}

/** Windows with fewer signatures than this are merged into the next one (too noisy to judge). */
const MIN_SAMPLES = 16;
/**
 * The no-queue latency is the minimum over this many judged windows (10 s at 100 ms). When no
 * window beat it for that long, one window runs at half the limit to measure it again (as BBR's
 * ProbeRTT does): a device whose own latency rose is believed within seconds, at the price of one
 * window at half speed every 10 s under saturation.
 */
const MIN_LATENCY_WINDOWS = 100;
/** The standing queue the limit aims at, as a share of the limit (alpha; beta is twice it). */
const ALPHA_SHARE = 0.1;
/** Below this share of the window spent inside the token, the limit's workers are not what holds throughput back. */
const BUSY_ENOUGH = 0.75;
/** Windows without demand before the limit starts to decay (at 100 ms a window: 30 s). */
const IDLE_WINDOWS = 300;

export class ConcurrencyLimit {
  readonly min: number;
  #max: number;
  #limit: number;
  #slowStart = true;
  #minLatencyUs = Infinity;
  /** Judged windows so far, and the one that set the minimum latency. */
  #windows = 0;
  #minAt = 0;
  /** While a probe window runs at half the limit: the limit to go back to. */
  #probeFrom: number | undefined;
  /** When the last judged window ended (ms); undefined before the first update. */
  #lastAt: number | undefined;
  #last: EngineSample = { latencyCount: 0, latencyUsSum: 0, queued: 0, running: 0 };
  #latencyUs = 0;
  #queue = 0;
  #idleWindows = 0;

  constructor(options: LimitOptions & { cores: number }) {
    this.min = Math.max(1, options.min ?? 1);
    this.#max = Math.max(this.min, options.max ?? 256);
    this.#limit = clamp(options.initial ?? Math.min(options.cores, this.#max), this.min, this.#max);
  }

  get limit(): number {
    return this.#limit;
  }

  get max(): number {
    return this.#max;
  }

  /** Lowers the ceiling (the token refused more sessions). */
  cap(max: number): void {
    this.#max = Math.max(this.min, Math.min(this.#max, max));
    this.#limit = Math.min(this.#limit, this.#max);
    if (this.#probeFrom !== undefined) this.#probeFrom = Math.min(this.#probeFrom, this.#max);
  }

  state(): LimitState {
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      limit: this.#limit,
      latencyMs: ms(this.#latencyUs),
      minLatencyMs: Number.isFinite(this.#minLatencyUs) ? ms(this.#minLatencyUs) : 0,
      queue: Math.round(this.#queue * 10) / 10,
    };
  }

  /**
   * One window's end: `sample` is the engine's cumulative figures now. Returns the new limit.
   * `demand` is the most signatures that were wanted at once during the window (queued + running).
   */
  update(sample: EngineSample, demand: number, nowMs = Date.now()): number {
    const n = sample.latencyCount - this.#last.latencyCount;
    if (n <= 0) {
      this.#last = sample;
      this.#lastAt = nowMs;
      return this.#idle(demand);
    }
    if (n < MIN_SAMPLES && demand >= this.#limit) return this.#limit; // keep accumulating: too few to judge
    const latency = (sample.latencyUsSum - this.#last.latencyUsSum) / n;
    this.#last = sample;
    this.#latencyUs = latency;
    if (this.#lastAt === undefined) {
      this.#lastAt = nowMs; // the first window has no beginning: nothing to judge yet
      return this.#limit;
    }
    const elapsedMs = Math.max(1, nowMs - this.#lastAt);
    this.#lastAt = nowMs;
    // The share of the window the limit's workers spent inside the token: well below 1, the
    // bottleneck is elsewhere (callers, the JS thread) and more concurrency would buy nothing.
    const busy = (n * latency) / 1000 / (this.#limit * elapsedMs);
    const appLimited = demand < this.#limit || busy < BUSY_ENOUGH;
    if (appLimited && this.#probeFrom === undefined) return this.#idle(demand);
    this.#idleWindows = 0;
    this.#windows++;
    if (this.#probeFrom !== undefined) {
      // The probe window: at half the limit the device had no queue, so this is its own latency.
      this.#minLatencyUs = latency;
      this.#minAt = this.#windows;
      this.#limit = this.#probeFrom;
      this.#probeFrom = undefined;
      return this.#limit;
    }
    if (latency <= this.#minLatencyUs) {
      this.#minLatencyUs = latency;
      this.#minAt = this.#windows;
    }
    const limit = this.#limit;
    if (this.#windows - this.#minAt > MIN_LATENCY_WINDOWS && limit > this.min) {
      this.#probeFrom = limit;
      this.#limit = clamp(Math.floor(limit / 2), this.min, this.#max);
      return this.#limit;
    }
    const queue = Math.max(0, limit * (1 - this.#minLatencyUs / latency));
    this.#queue = queue;
    // The standing queue allowed: a tenth of the limit (at least one request), twice that before
    // shrinking. Small at small limits, where one extra thread on a CPU-bound module already
    // takes a core's share from the JS thread; a few at 128, enough for a network device's jitter.
    const alpha = Math.max(1, limit * ALPHA_SHARE);
    const beta = Math.max(2, limit * ALPHA_SHARE * 2);
    let next = limit;
    if (queue < alpha) {
      next = this.#slowStart ? limit * 2 : limit + Math.max(1, limit * 0.1);
    } else if (queue > beta) {
      this.#slowStart = false;
      next = limit - Math.max(1, (queue - alpha) / 2);
    }
    this.#limit = clamp(Math.round(next), this.min, this.#max);
    return this.#limit;
  }

  /** An app-limited window: no judgement on the device; after a long idle stretch, decay toward demand. */
  #idle(demand: number): number {
    if (++this.#idleWindows < IDLE_WINDOWS) return this.#limit;
    this.#idleWindows = 0;
    this.#slowStart = true; // the next burst finds the device's capacity again quickly
    this.#limit = clamp(Math.max(demand, Math.floor(this.#limit / 2)), this.min, this.#max);
    return this.#limit;
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
