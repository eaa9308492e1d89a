#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine: system packages, npm ci, build, a SoftHSM dev
# token, then the main job: generate a key of every type on the token and sign with it (measured
# rate and a software verification of each), then publish a JWKS from the HSM and sign a JWT with
# the hsm-jwks command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
npm run build
eval "$(bash scripts/dev-token.sh)"
node bench/sign-rate.js "$@"

export HSM_ENABLED=true DSN=sqlite://.tmp/quickstart.sqlite LOG_LEVEL=warn
export SECRETS_SYSTEM=${SECRETS_SYSTEM:-quickstart-dev-secret-change-me}
hsm_jwks() { node dist/lib/cli/main.js "$@"; }
hsm_jwks keys get quickstart >/dev/null 2>&1 || hsm_jwks keys create quickstart --alg ES256 --kid quickstart-1 >/dev/null
echo "JWKS of the key set \"quickstart\" (the private key stays on the token):"
hsm_jwks keys get quickstart
echo "A JWT signed by it:"
hsm_jwks jwt sign quickstart --claims '{"sub":"quickstart","iss":"hsm-jwks"}'
