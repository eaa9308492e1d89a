#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine: system packages, npm ci, build, a SoftHSM dev
# token, then the main job: generate a key of every type on the token and sign with it, printing
# the measured rate and a software verification of each signature.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
npm run build
eval "$(bash scripts/dev-token.sh)"
node bench/sign-rate.js "$@"
