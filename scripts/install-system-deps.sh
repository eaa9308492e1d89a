#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages hsm-jwks needs to build and test, when they are missing:
# SoftHSM2 (the reference token), OpenSC (pkcs11-tool), cmake and a C++ compiler, NSS
# (libsoftokn3 + certutil: a second PKCS#11 implementation, PKCS#11 3.0 with init args),
# clang-format (the C++ formatter `npm run lint` checks with),
# p11-kit-proxy (a proxy module in front of SoftHSM2) and openCryptoki (a software token with
# cryptoki 2.20 and no EC; its daemon is started by scripts/opencryptoki-token.sh, not here);
# libp11's pkcs11 engine for openssl (the certificate tests sign certificates with token keys);
# GnuTLS's p11tool (gnutls-bin: PKCS#11 URIs are checked against the ones it prints).
# Run as root (or through sudo). Progress goes to stderr.
set -euo pipefail
need=()
{ [ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null 2>&1; } || need+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || need+=(opensc)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
ls /usr/lib/*/libsoftokn3.so >/dev/null 2>&1 || need+=(libnss3)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
ls /usr/lib/*/p11-kit-proxy.so >/dev/null 2>&1 || need+=(p11-kit-modules)
{ [ -x /usr/sbin/pkcsslotd ] && ls /usr/lib/*/pkcs11/libopencryptoki.so >/dev/null 2>&1; } || need+=(opencryptoki)
ls /usr/lib/*/engines-3/pkcs11.so >/dev/null 2>&1 || need+=(libengine-pkcs11-openssl)
command -v p11tool >/dev/null 2>&1 || need+=(gnutls-bin)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -eq 0 ]; then
  echo "[deps] softhsm2, opensc, cmake, g++, clang-format, nss, p11-kit-modules, opencryptoki, libengine-pkcs11-openssl, gnutls-bin, openssl present" >&2
  exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "[deps] apt-get install ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
