// The package's version, as `/version` answers it (Hydra: `{"version": "<version>"}` on both ports).
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The version in this package's package.json (found upward from here: lib/server in the sources, dist/lib/server when built). */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hsm-jwks' && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    }
    if (path.dirname(dir) === dir) {
      cached = 'unknown';
      return cached;
    }
  }
}
