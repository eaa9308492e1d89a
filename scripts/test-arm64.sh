#!/usr/bin/env bash
# Cross-builds the linux-arm64 prebuild and tests it under qemu-user, on an x64 Debian 12 host (as
# root, or through sudo):
#   1. install (when missing): g++-aarch64-linux-gnu, qemu-user, cmake, and an arm64 sysroot in
#      /opt/hsm-jwks-arm64-root holding Debian bookworm's arm64 nodejs (18.x) and libsofthsm2 with
#      their library dependencies. The sysroot is made by a private apt (own sources, state and
#      cache, APT::Architecture=arm64) and dpkg-deb -x: no `dpkg --add-architecture`, nothing
#      arm64 in the host's dpkg database, no change to its apt sources.
#   2. build: scripts/build-prebuild-arm64.js (prebuilds/linux-arm64/hsm-jwks.node; a no-op when
#      it is newer than native/), checked to be an AArch64 ELF.
#   3. test: packs the package (`npm pack --ignore-scripts`), unpacks it as an install would lay
#      it out (no build/, no cmake-js), runs its scripts/install.js under the arm64 node (must
#      take the prebuild, not compile), then test/arm64/smoke.js under the arm64 node: node-gyp-build
#      picks prebuilds/linux-arm64, and an EC P-256 and an RSA 2048 key pair generated on a fresh
#      arm64 SoftHSM2 token sign, verified by node:crypto.
# Prints PASS/FAIL lines and the time of each phase; exits non-zero on any failure.
# Environment: HSM_JWKS_ARM64_ROOT (sysroot), HSM_JWKS_ARM64_APT (the private apt's directory),
# HSM_JWKS_ARM64_SUITE (default bookworm), DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR (default
# deb.debian.org), FORCE_BUILD=1 (rebuild the prebuild anyway). Remove the sysroot to refresh it.
set -euo pipefail
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYSROOT="${HSM_JWKS_ARM64_ROOT:-/opt/hsm-jwks-arm64-root}"
APT_DIR="${HSM_JWKS_ARM64_APT:-/opt/hsm-jwks-arm64-apt}"
# The sysroot's Debian release: bookworm's glibc (2.36) is the cross compiler's, so it runs what that builds.
SUITE="${HSM_JWKS_ARM64_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# What the sysroot is made of; their dependencies are added, except tools (perl, python3, debconf...).
SYSROOT_PACKAGES=(nodejs libsofthsm2 softhsm2-common)
PREBUILD=prebuilds/linux-arm64/hsm-jwks.node

log() { echo "[arm64] $*" >&2; }
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  exit 1
}
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
seconds_since() { awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1f", now - start }'; }

# The private apt: arm64 only, its own sources, lists, status (empty) and cache under $APT_DIR.
apt_arm64() {
  local tool=$1
  shift
  $SUDO "$tool" -q \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
    -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts="$APT_DIR/empty" \
    -o Dir::Etc::Preferences="$APT_DIR/empty/preferences" -o Dir::Etc::PreferencesParts="$APT_DIR/empty" \
    -o Dir::State="$APT_DIR/state" -o Dir::State::status="$APT_DIR/state/status" \
    -o Dir::Cache="$APT_DIR/cache" -o APT::Sandbox::User=root "$@"
}

install_host_packages() {
  local need=()
  command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || need+=(g++-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
  command -v cmake >/dev/null 2>&1 || need+=(cmake)
  command -v ninja >/dev/null 2>&1 || command -v make >/dev/null 2>&1 || need+=(make)
  command -v file >/dev/null 2>&1 || need+=(file)
  [ -e "$KEYRING" ] || need+=(debian-archive-keyring)
  if [ ${#need[@]} -eq 0 ]; then
    log "g++-aarch64-linux-gnu, qemu-user, cmake and file present"
    return
  fi
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# Names of the packages the sysroot needs: SYSROOT_PACKAGES and, recursively, their Depends and
# Pre-Depends that are libraries (lib*, zlib1g, gcc-*-base) or Node.js modules (node-*).
sysroot_package_list() {
  local -A seen=()
  local queue=("${SYSROOT_PACKAGES[@]}") next dep
  while [ ${#queue[@]} -gt 0 ]; do
    next=()
    for dep in "${queue[@]}"; do seen[$dep]=1; done
    while read -r dep; do
      [ -n "${seen[$dep]:-}" ] || next+=("$dep")
    done < <(apt_arm64 apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${queue[@]}" |
      sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^<> ]*\)$/\2/p' | sed 's/:any$//' |
      grep -E '^(lib.*|zlib1g|gcc-[0-9]+-base|node-.*|nodejs)$' | sort -u)
    queue=("${next[@]+"${next[@]}"}")
  done
  printf '%s\n' "${!seen[@]}" | sort
}

make_sysroot() {
  local stamp="$SYSROOT/.hsm-jwks-sysroot"
  if [ -f "$stamp" ] && [ "$(head -1 "$stamp")" = "suite $SUITE" ] && [ -x "$SYSROOT/usr/bin/node" ]; then
    log "arm64 sysroot $SYSROOT present (Debian $SUITE, $(($(wc -l <"$stamp") - 1)) packages)"
    return
  fi
  log "making the arm64 sysroot $SYSROOT (Debian $SUITE)"
  $SUDO mkdir -p "$APT_DIR/empty" "$APT_DIR/state/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/debs"
  $SUDO touch "$APT_DIR/state/status"
  printf '%s\n' \
    "deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE main" \
    "deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE-updates main" \
    "deb [arch=arm64 signed-by=$KEYRING] $SECURITY_MIRROR $SUITE-security main" |
    $SUDO tee "$APT_DIR/sources.list" >/dev/null
  apt_arm64 apt-get update -qq >&2
  local packages
  mapfile -t packages < <(sysroot_package_list)
  [ ${#packages[@]} -gt ${#SYSROOT_PACKAGES[@]} ] || fail "cannot resolve the dependencies of ${SYSROOT_PACKAGES[*]}"
  log "apt-get download (arm64): ${packages[*]}"
  $SUDO rm -f "$APT_DIR/debs/"*.deb
  (cd "$APT_DIR/debs" && apt_arm64 apt-get download -qq "${packages[@]}" >&2)
  # Only a directory this script made (or an empty one) is replaced.
  if [ -d "$SYSROOT" ] && [ ! -f "$stamp" ] && [ -n "$(ls -A "$SYSROOT")" ]; then
    fail "$SYSROOT exists and was not made by this script: remove it or set HSM_JWKS_ARM64_ROOT"
  fi
  $SUDO rm -rf "$SYSROOT"
  $SUDO mkdir -p "$SYSROOT"
  local deb
  for deb in "$APT_DIR/debs/"*.deb; do $SUDO dpkg-deb -x "$deb" "$SYSROOT"; done
  printf '%s\n' "suite $SUITE" "${packages[@]}" | $SUDO tee "$stamp" >/dev/null
}

# Runs an arm64 program of the sysroot under qemu-user (no binfmt_misc needed). The host's
# NODE_OPTIONS (npm's, Node 20's) are not the arm64 node's business.
arm64() { env -u NODE_OPTIONS qemu-aarch64 -L "$SYSROOT" "$@"; }

check_sysroot() {
  local node_version missing
  node_version="$(arm64 "$SYSROOT/usr/bin/node" --version)" || fail "the arm64 node does not start under qemu"
  pass "arm64 node $node_version runs under $(qemu-aarch64 --version | sed -n 1p)"
  SOFTHSM_MODULE="$(find "$SYSROOT/usr/lib" -name libsofthsm2.so -path '*aarch64-linux-gnu*' -print -quit)"
  [ -n "$SOFTHSM_MODULE" ] || fail "no arm64 libsofthsm2.so in $SYSROOT"
  missing="$(arm64 "$SYSROOT/lib/ld-linux-aarch64.so.1" --list "$SOFTHSM_MODULE" | grep 'not found' || true)"
  [ -z "$missing" ] || fail "libraries of $SOFTHSM_MODULE missing from the sysroot: $missing"
  pass "arm64 SoftHSM2 module ${SOFTHSM_MODULE#"$SYSROOT"} resolves all its libraries in the sysroot"
}

check_prebuild() {
  local description
  description="$(file -b "$REPO/$PREBUILD")"
  echo "$PREBUILD: $description"
  case "$description" in
    *"ELF 64-bit LSB shared object, ARM aarch64"*) ;;
    *) fail "$PREBUILD is not an AArch64 shared object" ;;
  esac
  if aarch64-linux-gnu-readelf -d "$REPO/$PREBUILD" | grep -E 'RPATH|RUNPATH|x86[-_]64'; then
    fail "$PREBUILD refers to host paths"
  fi
  aarch64-linux-gnu-readelf -d "$REPO/$PREBUILD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/needs \1/p'
  local other
  other="$(find "$REPO/build-arm64" -name '*.o' -exec file -b {} + | grep -v 'ARM aarch64' | sort -u || true)"
  [ -z "$other" ] || fail "build-arm64 holds objects of another machine: $other"
  pass "$PREBUILD is an AArch64 ELF shared object (no RPATH, every object in build-arm64 aarch64)"
}

WORK=
trap '[ -z "$WORK" ] || rm -rf "$WORK"' EXIT

run_smoke() {
  local tarball package install_log
  WORK="$(mktemp -d /tmp/hsm-jwks-arm64.XXXXXX)"
  # What an install from the registry gets: the packed files, node-gyp-build beside them; no build/
  # (node-gyp-build would look there first), no cmake-js, no compiler in the arm64 sysroot.
  tarball="$(cd "$REPO" && npm pack --ignore-scripts --silent --pack-destination "$WORK")"
  # grep without -q reads the whole list: with -q, tar could die of SIGPIPE and fail the pipeline.
  tar -tzf "$WORK/$tarball" | grep -x "package/$PREBUILD" >/dev/null || fail "npm pack leaves $PREBUILD out"
  pass "npm pack puts $PREBUILD in $tarball"
  tar -xzf "$WORK/$tarball" -C "$WORK"
  package="$WORK/package"
  mkdir -p "$package/node_modules"
  cp -r "$REPO/node_modules/node-gyp-build" "$package/node_modules/"
  install_log="$(cd "$package" && arm64 "$SYSROOT/usr/bin/node" scripts/install.js 2>&1)" ||
    fail "scripts/install.js under the arm64 node: $install_log"
  echo "$install_log"
  [ "$install_log" = "hsm-jwks: using $PREBUILD" ] || fail "scripts/install.js did not take $PREBUILD"
  [ ! -e "$package/build" ] || fail "scripts/install.js made a build/ directory"
  pass "scripts/install.js under the arm64 node takes the prebuild, compiles nothing"
  (cd "$WORK" && EXPECT_ARCH=arm64 SOFTHSM_MODULE="$SOFTHSM_MODULE" \
    arm64 "$SYSROOT/usr/bin/node" "$REPO/test/arm64/smoke.js" "$package") || fail "test/arm64/smoke.js"
}

started="$EPOCHREALTIME"
install_host_packages
make_sysroot
check_sysroot
install_time="$(seconds_since "$started")"
log "install: ${install_time} s"

started="$EPOCHREALTIME"
[ -d "$REPO/node_modules/cmake-js" ] || fail "node_modules missing: run npm ci first"
x64_before="$(sha256sum "$REPO/prebuilds/linux-x64/hsm-jwks.node" 2>/dev/null || true)"
build_args=()
[ "${FORCE_BUILD:-0}" = 1 ] && build_args+=(--force)
(cd "$REPO" && node scripts/build-prebuild-arm64.js "${build_args[@]+"${build_args[@]}"}") || fail "arm64 build"
check_prebuild
[ "$x64_before" = "$(sha256sum "$REPO/prebuilds/linux-x64/hsm-jwks.node" 2>/dev/null || true)" ] ||
  fail "the arm64 build changed prebuilds/linux-x64"
build_time="$(seconds_since "$started")"
log "build: ${build_time} s"

started="$EPOCHREALTIME"
run_smoke
test_time="$(seconds_since "$started")"
log "test: ${test_time} s"
echo "PASS: linux-arm64 prebuild (install ${install_time} s, build ${build_time} s, test ${test_time} s)"
