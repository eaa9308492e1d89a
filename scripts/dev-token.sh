#!/usr/bin/env bash
# Makes a SoftHSM2 development token in a private directory (never /var/lib/softhsm) and prints
# the environment to use it:   eval "$(bash scripts/dev-token.sh)"
# Knobs: HSM_DEV_DIR (default ./.tmp/softhsm), HSM_DEV_LABEL (hsm-jwks-dev), HSM_DEV_PIN (1234),
#        HSM_DEV_SO_PIN (0000). Idempotent: an existing token with the label is kept.
set -euo pipefail
DIR=$(realpath -m "${HSM_DEV_DIR:-./.tmp/softhsm}")
LABEL=${HSM_DEV_LABEL:-hsm-jwks-dev}
PIN=${HSM_DEV_PIN:-1234}
SO_PIN=${HSM_DEV_SO_PIN:-0000}
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -e "$MODULE" ] || { echo "[dev-token] $MODULE missing: run scripts/install-system-deps.sh" >&2; exit 1; }
mkdir -p "$DIR/tokens"
cat > "$DIR/softhsm2.conf" <<CONF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
export SOFTHSM2_CONF=$DIR/softhsm2.conf
slots=$(softhsm2-util --show-slots 2>/dev/null || true)
if grep -Eq "^[[:space:]]+Label:[[:space:]]+${LABEL}[[:space:]]*$" <<<"$slots"; then
  echo "[dev-token] token '$LABEL' already in $DIR/tokens" >&2
else
  echo "[dev-token] initialising token '$LABEL' in $DIR/tokens" >&2
  softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN" >&2
fi
printf 'export SOFTHSM2_CONF=%q\n' "$SOFTHSM2_CONF"
printf 'export HSM_LIBRARY=%q\n' "$MODULE"
printf 'export HSM_TOKEN_LABEL=%q\n' "$LABEL"
printf 'export HSM_PIN=%q\n' "$PIN"
