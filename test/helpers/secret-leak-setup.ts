// setupFilesAfterEnv of every test file: the secret-leak check's hooks in the test's own process
// (docs/reliability.md#secrets). Besides what the recording helpers record (recording-child-process.ts,
// recording-fetch.ts), this records
//  - the errors a test looks at through expect, and
//  - the secrets: SoftHSM's PINs, and every PIN and SECRETS_SYSTEM value a test hands to
//    loadConfig or to a Sealer here.
// Test failures and console output reach the reporter with the test results; the worker's own
// stdout and stderr are recorded by secret-leak-worker-output.js.
import type * as ConfigModule from '../../lib/config';
import type * as SealingModule from '../../lib/store/sealing';
import { recordError, registerEnvSecrets, registerSecret, type Where, where } from './secret-leak-recorder';
import { SO_PIN, USER_PIN } from './softhsm';

registerSecret('pin', 'USER_PIN of test/helpers/softhsm.ts', USER_PIN);
registerSecret('pin', 'SO_PIN of test/helpers/softhsm.ts', SO_PIN);

// Errors. jest has no hook for the values handed to expect, so the global `expect` becomes a plain
// function that records them and then calls jest's expect (its properties, expect.any and the
// rest, are copied over). What it records: an error (`expect(e)`, also after a try/catch), the
// rejection of a promise (`expect(p).rejects`), and what a function throws or rejects with
// (`expect(fn).toThrow()`, `expect(fn).rejects`): for those matchers jest calls a twin of the
// function that records on its way out. Mock functions are left alone (their calls are asserted).
const isError = (v: unknown) => v instanceof Error || Object.prototype.toString.call(v) === '[object Error]';
const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as PromiseLike<unknown>).then === 'function';
const MATCHERS_THAT_CALL_THE_FUNCTION = ['toThrow', 'toThrowError', 'rejects'];

function recordingTwin(fn: (...a: unknown[]) => unknown, at: Where) {
  return function (this: unknown, ...a: unknown[]) {
    try {
      const result = fn.apply(this, a);
      if (isThenable(result)) result.then(undefined, (e: unknown) => recordError(e, 'expect(fn).rejects', at));
      return result;
    } catch (e) {
      recordError(e, 'expect(fn).toThrow', at);
      throw e;
    }
  };
}

type Expectation = Record<string, unknown> & { not: Record<string, unknown> };
const jestExpect = expect;
const expectOf = jestExpect as unknown as (actual: unknown) => Expectation;
function expectRecordingErrors(actual: unknown): Expectation {
  const at = where();
  if (isError(actual)) recordError(actual, 'expect(error)', at);
  else if (isThenable(actual)) actual.then(undefined, (e: unknown) => recordError(e, 'expect(promise).rejects', at));
  const expectation = expectOf(actual);
  if (typeof actual === 'function' && !jest.isMockFunction(actual)) {
    const viaTwin = expectOf(recordingTwin(actual as (...a: unknown[]) => unknown, at));
    for (const m of MATCHERS_THAT_CALL_THE_FUNCTION) {
      expectation[m] = viaTwin[m];
      if (m in expectation.not) expectation.not[m] = viaTwin.not[m];
    }
  }
  return expectation;
}
(globalThis as unknown as { expect: unknown }).expect = Object.assign(expectRecordingErrors, jestExpect);

// Secrets handed to the code under test in this process. The tests make many of their own (a PIN
// per URI test, a SECRETS_SYSTEM per suite); rather than a list kept by hand, loadConfig and Sealer
// are wrapped with jest.mock (jest's own way to replace a module for a test file: the real module
// otherwise, and lib's own imports of these modules get the wrapped ones too) to register what
// they are given.
jest.mock('../../lib/config', () => {
  const real = jest.requireActual<typeof ConfigModule>('../../lib/config');
  return {
    __esModule: true,
    ...real,
    loadConfig(...args: Parameters<typeof real.loadConfig>) {
      registerEnvSecrets(args[0], 'given to loadConfig');
      const config = real.loadConfig(...args);
      registerSecret('pin', 'the PIN loadConfig read', config.hsm?.pin);
      return config;
    },
  };
});
jest.mock('../../lib/store/sealing', () => {
  const real = jest.requireActual<typeof SealingModule>('../../lib/store/sealing');
  class Sealer extends real.Sealer {
    constructor(secrets: readonly string[]) {
      if (Array.isArray(secrets)) for (const s of secrets) registerSecret('secret', 'a secret given to Sealer', s);
      super(secrets);
    }
  }
  return { __esModule: true, ...real, Sealer };
});
