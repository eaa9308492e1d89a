#!/usr/bin/env bash
# Checks (or, with --fix, applies) the C++ format of .clang-format on every tracked C++ file.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "lint-cpp: clang-format is not installed (bash scripts/install-system-deps.sh installs it)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
fi
