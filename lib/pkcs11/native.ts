// Loads the native addon once per JS environment: a prebuild from prebuilds/<platform>-<arch>/ or a
// local build in build/Release, found by node-gyp-build. Two environment variables are read here,
// below config.ts, because they concern the addon itself, before any configuration exists:
// HSM_JWKS_ADDON_PATH (the path of another build of the .node file, e.g. the sanitizer build) and
// HSM_JWKS_DEEPBIND=0 (the default of `deepBind`: AddressSanitizer cannot run with RTLD_DEEPBIND).
import * as fs from 'node:fs';
import * as path from 'node:path';

import type * as Binding from '../../binding';
import { AddonLoadError } from './errors';

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

/** The addon's exports, as declared in binding.d.ts. */
export function nativeBinding(): NativeBinding {
  if (cached) return cached;
  const override = process.env.HSM_JWKS_ADDON_PATH;
  try {
    cached = (override ? require(path.resolve(override)) : require('node-gyp-build')(packageRoot())) as NativeBinding;
  } catch (e) {
    throw new AddonLoadError(
      `cannot load the hsm-jwks native addon for ${process.platform}-${process.arch} ` +
        `(${(e as Error).message}). Possible fixes: reinstall without --ignore-scripts so it can be ` +
        'compiled with cmake-js (needs cmake and a C++17 compiler), or run `npm run build:native` ' +
        'in the package, or set HSM_JWKS_ADDON_PATH to a built hsm_jwks.node.',
      e,
    );
  }
  return cached;
}

/** The default of `deepBind` when a load does not say (true unless HSM_JWKS_DEEPBIND=0). */
export function defaultDeepBind(): boolean {
  return process.env.HSM_JWKS_DEEPBIND !== '0';
}
