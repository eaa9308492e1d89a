#!/usr/bin/env bash
# The container's entry point (also run on the host by scripts/test-deploy.sh). What Hydra's
# quickstart-hsm.yml did, without its flaws (its image initialised the token at build time, PINs in
# the image): on first start, in the data volume,
#  - a SoftHSM2 token is initialised through the module (hsm-jwks token init: C_InitToken and
#    C_InitPIN, no PIN on any command line) with random user and SO PINs in 0600 files, unless
#    HSM_INIT_TOKEN=false or HSM_LIBRARY is another module (a real HSM's token is set up by its admin);
#  - SECRETS_SYSTEM (unless given, or read from SECRETS_SYSTEM_FILE) is made once and kept 0600;
#  - ADMIN_TOKEN may come from ADMIN_TOKEN_FILE (a compose or Kubernetes secret);
# then `hsm-jwks serve` generates the public key sets that are missing (JWKS_PUBLIC_SETS) on the
# token and serves them. Arguments replace `serve` (e.g. `keys list`, `doctor`).
set -euo pipefail
DATA=${HSM_JWKS_DATA:-/var/lib/hsm-jwks}
HSM_JWKS_BIN=${HSM_JWKS_BIN:-hsm-jwks}
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
umask 077
mkdir -p "$DATA"

is_true() { # a flag as the service reads it (lib/config-env.ts flag): true, 1 or yes, in any case
  case "$(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]' | tr -d '[:space:]')" in
    true | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}

read_file() { # the content of $1 without its trailing newline (a shell read: no command line)
  local value
  IFS= read -r value < "$1" || [ -n "$value" ]
  printf '%s' "$value"
}

if is_true "${HSM_ENABLED:-false}" && [ "${HSM_LIBRARY:-}" = "$SOFTHSM" ] && is_true "${HSM_INIT_TOKEN:-true}"; then
  mkdir -p "$DATA/softhsm/tokens"
  if [ -z "${SOFTHSM2_CONF:-}" ]; then
    export SOFTHSM2_CONF="$DATA/softhsm/softhsm2.conf"
    [ -e "$SOFTHSM2_CONF" ] || printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
      "$DATA/softhsm/tokens" > "$SOFTHSM2_CONF"
  fi
  if [ -z "${HSM_PIN:-}" ]; then export HSM_PIN_FILE=${HSM_PIN_FILE:-$DATA/softhsm/pin}; fi
  if [ -n "${HSM_PIN:-}" ] && [ ! -e "$DATA/softhsm/pin" ]; then printf '%s\n' "$HSM_PIN" > "$DATA/softhsm/pin"; fi
  "$HSM_JWKS_BIN" token init --label "${HSM_TOKEN_LABEL:?HSM_TOKEN_LABEL is required}" \
    --pin-file "${HSM_PIN_FILE:-$DATA/softhsm/pin}" --so-pin-file "${HSM_SO_PIN_FILE:-$DATA/softhsm/so-pin}" >/dev/null
fi

if [ -z "${SECRETS_SYSTEM:-}" ]; then
  file=${SECRETS_SYSTEM_FILE:-$DATA/secrets-system}
  if [ ! -e "$file" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file"
    echo "hsm-jwks: made SECRETS_SYSTEM in $file (back it up: software keys cannot be opened without it)" >&2
  fi
  SECRETS_SYSTEM=$(read_file "$file")
  export SECRETS_SYSTEM
fi
if [ -z "${ADMIN_TOKEN:-}" ] && [ -n "${ADMIN_TOKEN_FILE:-}" ]; then
  ADMIN_TOKEN=$(read_file "$ADMIN_TOKEN_FILE")
  export ADMIN_TOKEN
fi
export DSN=${DSN:-sqlite://$DATA/keys.sqlite}

if [ $# -eq 0 ]; then set -- serve; fi
exec "$HSM_JWKS_BIN" "$@"
