// setupFilesAfterEnv of every test file, for the leak check (see leak-collector.ts):
// - every error a test looks at through expect: expect(error), the rejection behind
//   expect(promise).rejects, the throw behind expect(fn).toThrow(); test failures themselves are
//   recorded by softhsm-environment.js, and so is console output;
// - the secrets the tests hand to the code under test in this process (loadConfig's HSM_PIN and
//   SECRETS_SYSTEM, every Sealer's secrets, which openKeyStore uses too), so the teardown greps
//   for them without a retyped list.
import { pendingChildren, recordError, registerEnvSecrets, registerSecret } from './leak-collector';
import type * as ConfigModule from '../../lib/config';
import type * as SealingModule from '../../lib/store/sealing';

const isError = (v: unknown) => v instanceof Error || Object.prototype.toString.call(v) === '[object Error]';
const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';
const THROW_MATCHERS = [
  'toThrow',
  'toThrowError',
  'toThrowErrorMatchingSnapshot',
  'toThrowErrorMatchingInlineSnapshot',
];

const realExpect = expect;
(globalThis as unknown as { expect: typeof expect }).expect = new Proxy(realExpect, {
  apply(target, thisArg, args: unknown[]) {
    const actual = args[0];
    if (isError(actual)) recordError(actual, 'expect(error)');
    else if (isThenable(actual)) actual.then(undefined, (e: unknown) => recordError(e, 'expect(promise).rejects'));
    const matchers = Reflect.apply(target, thisArg, args) as Record<string, unknown> & { not: Record<string, unknown> };
    if (typeof actual === 'function' && !jest.isMockFunction(actual)) {
      const fn = actual as (...a: unknown[]) => unknown;
      const probe = function (this: unknown, ...a: unknown[]) {
        try {
          return fn.apply(this, a);
        } catch (e) {
          recordError(e, 'expect(fn).toThrow');
          throw e;
        }
      };
      const viaProbe = Reflect.apply(target, thisArg, [probe, ...args.slice(1)]) as typeof matchers;
      for (const m of THROW_MATCHERS) {
        matchers[m] = viaProbe[m];
        matchers.not[m] = viaProbe.not[m];
      }
    }
    return matchers;
  },
});

/* eslint-disable @typescript-eslint/no-require-imports */
const config = require('../../lib/config') as { -readonly [K in keyof typeof ConfigModule]: (typeof ConfigModule)[K] };
const loadConfig = config.loadConfig;
config.loadConfig = (env?: Parameters<typeof ConfigModule.loadConfig>[0]) => {
  registerEnvSecrets(env, 'given to loadConfig');
  const c = loadConfig(env);
  registerSecret('pin', 'the PIN loadConfig read', c.hsm?.pin);
  return c;
};

const sealing = require('../../lib/store/sealing') as {
  -readonly [K in keyof typeof SealingModule]: (typeof SealingModule)[K];
};
const RealSealer = sealing.Sealer;
sealing.Sealer = class Sealer extends RealSealer {
  constructor(secrets: readonly string[]) {
    if (Array.isArray(secrets)) for (const s of secrets) registerSecret('secret', 'a secret given to Sealer', s);
    super(secrets);
  }
};

// Children still running when the file ends: softhsm-environment.js waits for their output.
(globalThis as unknown as { __leakPendingChildren: () => Promise<void>[] }).__leakPendingChildren = pendingChildren;
