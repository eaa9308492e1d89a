#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine: system packages, npm ci, build, then the main job:
# the key service (`npm start`: development defaults under ./data, a SoftHSM2 token included),
# in the foreground until Ctrl-C. Its JWKS: http://127.0.0.1:4444/.well-known/jwks.json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
npm run build
exec npm start
