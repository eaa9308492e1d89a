#!/usr/bin/env bash
# Starts a PostgreSQL server on loopback for the tests (idempotent; root): installs the Debian
# package when missing, starts the first cluster, creates role "hsm" and database
# "hsm_jwks_test". Prints the DSN to export:   export PG_TEST_DSN="$(bash scripts/test-postgres.sh)"
set -euo pipefail
log() { echo "[postgres] $*" >&2; }
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  log "apt-get install postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
fi
read -r version cluster port status _ < <(pg_lsclusters -h | head -1)
if [ "$status" != online ]; then
  log "starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start >&2
fi
psql_su() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
[ "$(psql_su "SELECT 1 FROM pg_roles WHERE rolname = 'hsm'")" = 1 ] || psql_su "CREATE ROLE hsm LOGIN PASSWORD 'hsm-test'" >&2
[ "$(psql_su "SELECT 1 FROM pg_database WHERE datname = 'hsm_jwks_test'")" = 1 ] || su postgres -c "createdb -p $port -O hsm hsm_jwks_test" >&2
log "ready on 127.0.0.1:$port"
echo "postgres://hsm:hsm-test@127.0.0.1:$port/hsm_jwks_test"
