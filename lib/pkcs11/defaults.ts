// THE table of a Token's defaults: the session pool, the signing engine and recovery. Every option
// that is not given takes its value from here (token-setup, session-pool, sign-engine, recovery,
// and HSM_POOL_SIZE in config.ts). The addon's raw binding declares its own defaults for callers
// that omit an option (native/sign_engine.cc, native/module_object.cc, binding.d.ts); a Token always
// passes these, and test/unit/fact-tables.test.ts checks that the addon's and the docs' agree.
export const DEFAULTS = {
  pool: {
    /** Sessions lent to operations at once (`poolSize`, HSM_POOL_SIZE). */
    size: 4,
    /** How long an operation waits for a free session (`poolWaitTimeoutMs`). */
    waitTimeoutMs: 30_000,
    /** Operations that may wait for a session at once (`poolMaxWaiting`). */
    maxWaiting: 10_000,
  },
  engine: {
    /** Signatures a worker takes from the queue at once (`engine.batchSize`). */
    batchSize: 16,
    /** Signatures queued or running at most (`engine.maxPending`). */
    maxPending: 65_536,
    /** The most workers the adaptive engine may use (`engine.maxWorkers`). */
    maxWorkers: 256,
  },
  recovery: {
    /** Re-initialisation attempts after the device went away (`recovery.reinitAttempts`). */
    reinitAttempts: 5,
    /** Wait before the second attempt, doubled for each next one (`recovery.backoffMs`). */
    backoffMs: 100,
    /** The longest of those waits (`recovery.maxBackoffMs`). */
    maxBackoffMs: 2000,
    /** How long a re-initialisation waits for the calls in flight (`recovery.drainTimeoutMs`). */
    drainTimeoutMs: 10_000,
    /** How often the background reconnection tries while the token is unavailable (`recovery.reconnectMs`). */
    reconnectMs: 1000,
  },
} as const;
