# CMake toolchain file: cross-compile for linux-arm64 (aarch64, glibc) with Debian's
# g++-aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu). Used by
# scripts/build-prebuild-arm64.js through cmake-js (--CDCMAKE_TOOLCHAIN_FILE=...).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(HSM_JWKS_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${HSM_JWKS_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${HSM_JWKS_CROSS_TRIPLE}-g++)
# ar, ranlib, strip, objcopy...: CMake finds the prefixed binutils next to the compiler.

# Libraries and headers from the cross sysroot only (libc6-dev-arm64-cross); programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${HSM_JWKS_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
