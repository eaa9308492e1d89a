#!/usr/bin/env bash
# openCryptoki 3.8.1 software token (swtok) for test/native/vendor-opencryptoki.test.ts. Root only:
# openCryptoki's paths are fixed (/etc/opencryptoki, /var/lib/opencryptoki, /run/pkcsslotd.pid,
# SysV shared memory), so there is one swtok per machine and its daemon pkcsslotd must run.
#   bash scripts/opencryptoki-token.sh start   # daemon up + a fresh token; prints "started <pid>"
#                                              # on stdout when it started the daemon itself
#   bash scripts/opencryptoki-token.sh stop    # stops pkcsslotd (by its pid file)
# Knobs: OCK_LABEL (hsm-jwks-ock), OCK_USER_PIN (1234), OCK_SO_PIN (12345678); swtok PINs are 4-8
# characters. A token with another label is left alone (exit 3): it may hold someone's keys.
# A token with our label is wiped and made again, so a PIN locked by the tests is reset too.
set -euo pipefail
LABEL=${OCK_LABEL:-hsm-jwks-ock}
USER_PIN=${OCK_USER_PIN:-1234}
SO_PIN=${OCK_SO_PIN:-12345678}
FACTORY_SO_PIN=87654321 # the SO PIN of a fresh swtok
SLOT=3                  # the swtok's slot in the stock /etc/opencryptoki/opencryptoki.conf
PIDFILE=/run/pkcsslotd.pid
SLOTD=/usr/sbin/pkcsslotd
STATE=/var/lib/opencryptoki
log() { echo "[opencryptoki] $*" >&2; }

running_pid() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"; }
stop_daemon() {
  local pid
  pid=$(running_pid || true)
  if [ -n "$pid" ]; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}
start_daemon() {
  rm -f "$PIDFILE" /run/pkcsslotd.socket
  "$SLOTD" # forks and writes $PIDFILE
  for _ in $(seq 50); do [ -S /run/pkcsslotd.socket ] && [ -s "$PIDFILE" ] && return 0; sleep 0.1; done
  log "pkcsslotd did not come up within 5 s"
  exit 1
}

if [ "${1:-}" = stop ]; then
  stop_daemon
  rm -f /dev/shm/var.lib.opencryptoki.tpm.* # made by clients for the unused TPM slot
  exit 0
fi
[ "${1:-}" = start ] || { log "usage: $0 start|stop"; exit 2; }
[ "$(id -u)" -eq 0 ] || { log "must run as root (fixed paths under /var and /run)"; exit 1; }
MODULE=$(ls /usr/lib/*/pkcs11/libopencryptoki.so 2>/dev/null | head -1 || true)
[ -x "$SLOTD" ] && [ -n "$MODULE" ] || { log "opencryptoki missing: run scripts/install-system-deps.sh"; exit 1; }

# What systemd-tmpfiles would make (containers usually run no systemd).
for d in /var/lock/opencryptoki /var/lock/opencryptoki/swtok /var/log/opencryptoki "$STATE" "$STATE/swtok" "$STATE/swtok/TOK_OBJ"; do
  mkdir -p "$d" && chgrp pkcs11 "$d" && chmod 0770 "$d"
done
# NVTOK.DAT starts with the token's CK_TOKEN_INFO (label: bytes 0-31; flags: a 32-bit word at 96),
# readable without the daemon: a token with our label is wiped before pkcsslotd starts (stopping
# the daemon takes 1.5 s). An uninitialised swtok has no CKF_TOKEN_INITIALIZED (0x400).
NVTOK=$STATE/swtok/NVTOK.DAT
label=
if [ -s "$NVTOK" ] && (( $(od -An -tu4 -j96 -N4 "$NVTOK") & 0x400 )); then label=$(head -c 32 "$NVTOK" | sed 's/ *$//'); fi
was_running=$(running_pid || true)
if [ -n "$label" ]; then
  [ "$label" = "$LABEL" ] || { log "the swtok is labelled '$label', not '$LABEL': left alone"; exit 3; }
  stop_daemon
  rm -rf "$NVTOK" "$STATE"/swtok/MK_* "$STATE"/swtok/TOK_OBJ/* /dev/shm/var.lib.opencryptoki.swtok
fi
[ -n "$(running_pid || true)" ] || start_daemon
tool() { # pkcs11-tool on the swtok; its own output (which never holds a PIN) only on failure
  local out
  out=$(pkcs11-tool --module "$MODULE" --slot "$SLOT" "$@" 2>&1) || { log "pkcs11-tool $1 failed: $(tail -2 <<<"$out")"; exit 1; }
}
# A fresh swtok: init with the factory SO PIN, set the user PIN, then change the SO PIN (until it
# is changed, an SO session gets CKR_PIN_EXPIRED).
tool --init-token --label "$LABEL" --so-pin "$FACTORY_SO_PIN"
tool --login --login-type so --so-pin "$FACTORY_SO_PIN" --init-pin --pin "$USER_PIN"
tool --login --login-type so --so-pin "$FACTORY_SO_PIN" --change-pin --new-pin "$SO_PIN"
log "token '$LABEL' ready in slot $SLOT (pkcsslotd pid $(cat "$PIDFILE"))"
[ -n "$was_running" ] || echo "started $(cat "$PIDFILE")"
