#!/usr/bin/env bash
# Makes a SoftHSM2 development token in a private directory (never /var/lib/softhsm) and prints
# the environment to use it:   eval "$(bash scripts/dev-token.sh)"
# The token is initialised by `hsm-jwks token init` through the PKCS#11 module itself (C_InitToken,
# C_InitPIN): no PIN is ever on a command line (softhsm2-util --init-token only takes PINs as
# arguments, visible in /proc/*/cmdline). The user PIN and the SO PIN are random, each in a 0600 file
# next to the token directory (the SO PIN resets the token: hsm-jwks token init --reset …); the
# printed environment reads the user PIN from its file, so no PIN is printed either.
# Knobs: HSM_DEV_DIR (default ./.tmp/softhsm), HSM_DEV_LABEL (hsm-jwks-dev), HSM_DEV_PIN and
#        HSM_DEV_SO_PIN (PINs of your choice, written to the files when they do not exist yet).
# Idempotent: an existing token with the label is kept. Needs the built package (npm run build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(realpath -m "${HSM_DEV_DIR:-./.tmp/softhsm}")
LABEL=${HSM_DEV_LABEL:-hsm-jwks-dev}
MODULE=/usr/lib/softhsm/libsofthsm2.so
CLI="$ROOT/dist/lib/cli/main.js"
[ -e "$MODULE" ] || { echo "[dev-token] $MODULE missing: run scripts/install-system-deps.sh" >&2; exit 1; }
[ -e "$CLI" ] || { echo "[dev-token] $CLI missing: run npm run build first" >&2; exit 1; }
mkdir -p "$DIR/tokens"
chmod 700 "$DIR"
cat > "$DIR/softhsm2.conf" <<CONF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
export SOFTHSM2_CONF=$DIR/softhsm2.conf
# PINs given through the environment go to their files with printf, a shell builtin: no command line.
umask 077
if [ -n "${HSM_DEV_PIN:-}" ] && [ ! -e "$DIR/pin" ]; then printf '%s\n' "$HSM_DEV_PIN" > "$DIR/pin"; fi
if [ -n "${HSM_DEV_SO_PIN:-}" ] && [ ! -e "$DIR/so-pin" ]; then printf '%s\n' "$HSM_DEV_SO_PIN" > "$DIR/so-pin"; fi
echo "[dev-token] token '$LABEL' in $DIR/tokens" >&2
HSM_LIBRARY="$MODULE" LOG_LEVEL=warn node "$CLI" token init --label "$LABEL" \
  --pin-file "$DIR/pin" --so-pin-file "$DIR/so-pin" >/dev/null
if [ ! -e "$DIR/pin" ]; then
  # A token made by an older version of this script (user PIN 1234 on softhsm2-util's command line).
  echo "[dev-token] token '$LABEL' predates the PIN file: assuming the old default PIN, written to $DIR/pin" >&2
  printf '%s\n' 1234 > "$DIR/pin"
fi
printf 'export SOFTHSM2_CONF=%q\n' "$SOFTHSM2_CONF"
printf 'export HSM_LIBRARY=%q\n' "$MODULE"
printf 'export HSM_TOKEN_LABEL=%q\n' "$LABEL"
printf 'export HSM_PIN="$(cat %q)"\n' "$DIR/pin"
