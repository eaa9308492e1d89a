#!/usr/bin/env bash
# The deployment, tried on the host where no container engine runs (`docker` here is a client
# without a daemon): the Dockerfile's build stage (its COPY lines, then deploy/build.sh) and runtime
# stage (its COPY --from=build lines, its symlink, its ENV) are run in a temporary directory, then its
# entry point (deploy/docker-entrypoint.sh) as the container would start it: the SoftHSM2 token is
# initialised, the public sets are generated, the service comes up; then it is checked over HTTP on
# loopback, stopped, and started again on the same data. deploy/compose.yml and deploy/hsm-jwks.service
# are checked for what can be checked without docker compose or systemd running them.
# Not tried here: `docker build` and `docker compose up` themselves (no daemon; no compose plugin),
# the apt-get lines (the host's SoftHSM2, cmake and g++ are used), the node:20-bookworm-slim base, and
# `npm ci` (node_modules is copied from the checkout unless TEST_DEPLOY_NPM_CI=1). Prints one line per
# check and a closing "N passed, N failed" line; exit 0 only when every check passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hsm-jwks-deploy-XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
passed=0
failed=0
check() { # check NAME COMMAND...: runs the command, records the result
  local name=$1
  shift
  if "$@" >"$WORK/check.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    tail -n 20 "$WORK/check.log" | sed 's/^/     /'
  fi
}
log() { echo "[test-deploy] $*" >&2; }

# --- build stage ----------------------------------------------------------------------------------
SRC="$WORK/src"
mkdir -p "$SRC"
stage=
while IFS= read -r line; do
  case "$line" in
    FROM*' AS build'*) stage=build ;;
    FROM*) stage=runtime ;;
    'COPY --from=build '*) ;;
    COPY\ *)
      [ "$stage" = build ] || continue
      read -r -a words <<<"${line#COPY }"
      dest=${words[-1]}
      unset 'words[-1]'
      for src in "${words[@]}"; do
        if [ "$dest" = ./ ]; then cp -a "$ROOT/$src" "$SRC/"; else mkdir -p "$SRC/$dest" && cp -a "$ROOT/$src/." "$SRC/$dest/"; fi
      done
      ;;
  esac
done <"$ROOT/Dockerfile"
grep -q '^RUN bash deploy/build.sh /src$' "$ROOT/Dockerfile" || { log "the Dockerfile no longer runs deploy/build.sh"; exit 1; }
if [ "${TEST_DEPLOY_NPM_CI:-0}" = 1 ]; then
  log "build stage: npm ci, build:native, build:ts, prune (in $SRC)"
  deps=0
else
  log "build stage: node_modules copied from the checkout, then build:native, build:ts, prune (in $SRC)"
  cp -a "$ROOT/node_modules" "$SRC/node_modules"
  deps=1
fi
check 'build stage (deploy/build.sh)' env HSM_JWKS_DEPS_PRESENT=$deps bash "$SRC/deploy/build.sh" "$SRC"
check 'dev dependencies pruned' test ! -e "$SRC/node_modules/jest"

# --- runtime stage --------------------------------------------------------------------------------
OPT="$WORK/opt/hsm-jwks"
BIN="$WORK/bin"
mkdir -p "$OPT" "$BIN"
while IFS= read -r line; do
  read -r -a words <<<"${line#COPY --from=build }"
  src=${words[0]#/src/}
  dest=${words[1]}
  case "$dest" in
    /usr/local/bin/*) target="$BIN/${dest#/usr/local/bin/}" ;;
    /*) log "unexpected destination $dest"; exit 1 ;;
    *) target="$OPT/$dest" ;;
  esac
  mkdir -p "$(dirname "$target")"
  cp -a "$SRC/$src" "$target"
done < <(grep '^COPY --from=build ' "$ROOT/Dockerfile")
chmod 755 "$OPT/dist/lib/cli/main.js" "$BIN/docker-entrypoint.sh"
ln -s "$OPT/dist/lib/cli/main.js" "$BIN/hsm-jwks"
check 'runtime image has no sources, tests or dev tools' bash -c "! ls '$OPT' | grep -qvE '^(package.json|node_modules|dist|build)$' && test ! -e '$OPT/node_modules/typescript'"
check 'hsm-jwks --version in the runtime layout' "$BIN/hsm-jwks" --version

# The image's ENV, then what differs on this host: loopback only, free ports, the data in $WORK.
while IFS= read -r assignment; do export "${assignment?}"; done < <(
  awk '/^ENV /{on=1; sub(/^ENV /,"")} on{line=$0; cont=sub(/\\$/,"",line); gsub(/^ +| +$/,"",line); if(line!="") print line; if(!cont) on=0}' "$ROOT/Dockerfile"
)
export PATH="$BIN:$PATH" HSM_JWKS_DATA="$WORK/data" SERVE_PUBLIC_HOST=127.0.0.1 SERVE_ADMIN_HOST=127.0.0.1 \
  SERVE_PUBLIC_PORT=0 SERVE_ADMIN_PORT=0 ADMIN_TOKEN_FILE="$WORK/admin-token"
unset SOFTHSM2_CONF HSM_PIN HSM_PIN_FILE SECRETS_SYSTEM ADMIN_TOKEN DSN LOG_LEVEL
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/admin-token"

start() { # start the entry point in the background; wait for its "serving" line
  : >"$WORK/server.err"
  docker-entrypoint.sh >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 240); do
    if grep -q 'serving http' "$WORK/server.err"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; return 1; }
    sleep 0.5
  done
  cat "$WORK/server.err" >&2
  return 1
}
stop() {
  kill -TERM "$SERVER_PID"
  local code=0
  wait "$SERVER_PID" || code=$?
  SERVER_PID=
  return "$code"
}
http() { # http URL [TOKEN]: prints "STATUS BODY"
  node -e '
    const [url, token] = process.argv.slice(1);
    fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })
      .then(async (r) => console.log(r.status, await r.text()))
      .catch((e) => { console.log(0, e.message); process.exitCode = 1; });' "$@"
}

log "first start (token initialised, keys generated)"
check 'the service starts from the entry point' start
PUBLIC=$(grep -o 'serving http://[0-9.:]*' "$WORK/server.err" | head -1 | sed 's/serving //')
ADMIN=$(grep -o 'admin API at http://[0-9.:]*' "$WORK/server.err" | head -1 | sed 's/admin API at //')
jwks_kids() { http "$PUBLIC/.well-known/jwks.json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const [st,...b]=s.split(" ");if(st!=="200")process.exit(1);const k=JSON.parse(b.join(" ")).keys;if(!k.length)process.exit(1);console.log(k.map(x=>x.kid).sort().join(","))})'; }
check 'the JWKS is served with the generated keys' jwks_kids
KIDS=$(jwks_kids || true)
check 'the keys are on the SoftHSM2 token' bash -c "SOFTHSM2_CONF='$WORK/data/softhsm/softhsm2.conf' HSM_PIN_FILE='$WORK/data/softhsm/pin' SECRETS_SYSTEM=\$(cat '$WORK/data/secrets-system') DSN='sqlite://$WORK/data/keys.sqlite' hsm-jwks keys list | grep -q '\"where\": \"hsm\"'"
check 'PIN, SO PIN and SECRETS_SYSTEM files are 0600' bash -c "for f in '$WORK/data/softhsm/pin' '$WORK/data/softhsm/so-pin' '$WORK/data/secrets-system'; do [ \"\$(stat -c %a \"\$f\")\" = 600 ] || exit 1; done"
no_pin_on_command_lines() {
  local f pin so
  pin=$(cat "$WORK/data/softhsm/pin")
  so=$(cat "$WORK/data/softhsm/so-pin")
  for f in /proc/[0-9]*/cmdline; do
    if grep -qaF -e "$pin" -e "$so" "$f" 2>/dev/null; then echo "a PIN on the command line of $f"; return 1; fi
  done
  ! grep -qF -e "$pin" -e "$so" "$WORK/server.out" "$WORK/server.err"
}
check 'no PIN on any command line or in the output' no_pin_on_command_lines
health() { http "$PUBLIC/health/alive" | grep -q '^200 '; }
check 'health on the public port' health
admin_get() { http "$ADMIN/admin/keys/hydra.openid.id-token" "$(cat "$WORK/admin-token")" | grep -q '^200 '; }
admin_refused() { http "$ADMIN/admin/keys/hydra.openid.id-token" | grep -q '^401 '; }
check 'the admin API answers with ADMIN_TOKEN_FILE' admin_get
check 'the admin API refuses without the token' admin_refused
check 'SIGTERM stops it cleanly (exit 0)' stop

log "second start on the same data"
check 'the service starts again' start
PUBLIC=$(grep -o 'serving http://[0-9.:]*' "$WORK/server.err" | head -1 | sed 's/serving //')
same_keys() { [ -n "$KIDS" ] && [ "$(jwks_kids)" = "$KIDS" ]; }
check 'the same token and keys are served' same_keys
check 'stops again' stop

# --- compose file and systemd unit ----------------------------------------------------------------
compose_ok() {
  node -e '
    const yaml = require(require.resolve("js-yaml", { paths: [process.argv[1]] }));
    const c = yaml.load(require("fs").readFileSync(process.argv[2], "utf8"));
    const s = c.services["hsm-jwks"];
    const env = s.environment;
    const ok = s.build.dockerfile === "Dockerfile" && env.HSM_ENABLED === "true" && env.HSM_TOKEN_LABEL &&
      env.ADMIN_TOKEN_FILE === "/run/secrets/admin_token" && s.secrets.includes("admin_token") &&
      s.volumes.some((v) => v.endsWith(":/var/lib/hsm-jwks")) && s.ports.includes("127.0.0.1:4445:4445");
    process.exit(ok ? 0 : 1);' "$ROOT" "$ROOT/deploy/compose.yml"
}
if [ -e "$ROOT/node_modules/js-yaml" ]; then check 'deploy/compose.yml: service, secret, volume, loopback admin port' compose_ok; else log "js-yaml missing: compose.yml not parsed"; fi
if command -v systemd-analyze >/dev/null 2>&1; then
  check 'deploy/hsm-jwks.service: systemd-analyze verify' systemd-analyze verify "$ROOT/deploy/hsm-jwks.service"
else
  log "systemd-analyze missing: the unit is not verified"
fi

echo "test-deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
