#!/usr/bin/env bash
# The image's build steps (the Dockerfile's build stage runs exactly this; scripts/test-deploy.sh runs
# it on the host in a temporary copy). In directory $1, a copy of the sources: install the
# dependencies, compile the native addon (cmake-js) and the TypeScript, then drop the dev dependencies.
# HSM_JWKS_DEPS_PRESENT=1: node_modules is there already (the host test copies it; no registry call).
set -euo pipefail
cd "$1"
if [ "${HSM_JWKS_DEPS_PRESENT:-0}" != 1 ]; then
  # Without scripts: hsm-jwks's own install step would compile the addon before its sources are all here.
  npm ci --ignore-scripts --no-audit --no-fund
  npm rebuild better-sqlite3
fi
npm run build:native
npm run build:ts
npm prune --omit=dev --no-audit --no-fund
