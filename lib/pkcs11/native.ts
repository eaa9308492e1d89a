// Loads the native addon once per JS environment: a prebuild from prebuilds/<platform>-<arch>/ or a
// local build in build/Release, found by node-gyp-build. Two environment variables are read here,
// below config.ts, because they concern the addon itself, before any configuration exists:
// HSM_JWKS_ADDON_PATH (the path of another build of the .node file, e.g. the sanitizer build) and
// HSM_JWKS_DEEPBIND=0 (the default of `deepBind`: AddressSanitizer cannot run with RTLD_DEEPBIND).
// Loading hands the addon this package's error classes (setErrorClasses): every failure of the addon
// then reaches JS typed (Pkcs11Error, ClosedError, …), in this environment; a worker that loads the
// package hands over its own.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type * as Binding from '../../binding';
import { argTypeError, argValueError, ClosedError } from '../errors';
import {
  AddonFailureError,
  AddonLoadError,
  ModuleBusyError,
  ModuleLoadError,
  ModuleNotOwnedError,
  ModuleReinitializedError,
  Pkcs11Error,
  QueueFullError,
  SessionBusyError,
} from './errors';

export type NativeBinding = typeof Binding;

let cached: NativeBinding | undefined;

function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'hsm-jwks') return dir;
      } catch {
        // not ours: keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new AddonLoadError('cannot find the hsm-jwks package root');
    dir = parent;
  }
}

/** What the addon constructs its failures as (binding.d.ts NativeErrorClasses). */
const ERROR_CLASSES: Binding.NativeErrorClasses = {
  Pkcs11Error,
  ClosedError,
  ModuleReinitializedError,
  QueueFullError,
  ModuleNotOwnedError,
  ModuleBusyError,
  SessionBusyError,
  ModuleLoadError,
  AddonFailureError,
  invalidArgType: argTypeError,
  invalidArgValue: argValueError,
};

/** The addon's exports, as declared in binding.d.ts, with this package's error classes set. */
export function nativeBinding(): NativeBinding {
  if (cached) return cached;
  const override = process.env.HSM_JWKS_ADDON_PATH;
  let binding: NativeBinding;
  try {
    binding = (override ? require(path.resolve(override)) : require('node-gyp-build')(packageRoot())) as NativeBinding;
  } catch (e) {
    throw new AddonLoadError(
      `cannot load the hsm-jwks native addon for ${process.platform}-${process.arch} ` +
        `(${(e as Error).message}). Possible fixes: reinstall without --ignore-scripts so it can be ` +
        'compiled with cmake-js (needs cmake and a C++17 compiler), or run `npm run build:native` ' +
        'in the package, or set HSM_JWKS_ADDON_PATH to a built hsm_jwks.node.',
      e,
    );
  }
  if (typeof binding.setErrorClasses !== 'function') {
    throw new AddonLoadError(
      'the hsm-jwks native addon predates this package (it has no setErrorClasses): rebuild it with `npm run build:native`',
    );
  }
  binding.setErrorClasses(ERROR_CLASSES);
  cached = binding;
  return cached;
}

/** The default of `deepBind` when a load does not say (true unless HSM_JWKS_DEEPBIND=0). */
export function defaultDeepBind(): boolean {
  return process.env.HSM_JWKS_DEEPBIND !== '0';
}
