# Cross-compiling gantry for 64-bit Arm Linux (aarch64, Debian's arm64) on an amd64 Debian host
# (docs/aarch64.md): Debian's cross compilers (crossbuild-essential-arm64) and the arm64 -dev
# packages of the libraries gantry links, installed beside the amd64 ones through multiarch
# (`dpkg --add-architecture arm64`; scripts/install-deps.sh installs both).
#
#   cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# Programs the build runs (tools/seccomp_bpf, which compiles the default seccomp profile for the
# architecture it runs on; gantry_unit --gtest_list_tests after each link) run under
# qemu-aarch64-static, so that what they produce is the target's, not the build host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(GANTRY_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${GANTRY_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${GANTRY_CROSS_TRIPLET}-g++)

find_program(GANTRY_QEMU_AARCH64 qemu-aarch64-static)
if(NOT GANTRY_QEMU_AARCH64)
  message(FATAL_ERROR "qemu-aarch64-static not found (apt-get install qemu-user-static): the "
    "aarch64 build runs tools/seccomp_bpf for the target to compile its seccomp profile")
endif()
# The target's dynamic loader and libraries (libseccomp.so.2, libstdc++) are the arm64 multiarch
# packages' (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu), where qemu finds them.
set(CMAKE_CROSSCOMPILING_EMULATOR ${GANTRY_QEMU_AARCH64})

# Libraries and headers: the arm64 multiarch ones (/usr/lib/aarch64-linux-gnu,
# /usr/include/aarch64-linux-gnu) and the architecture-independent headers in /usr/include;
# programs from the host.
set(CMAKE_LIBRARY_ARCHITECTURE ${GANTRY_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_FIND_ROOT_PATH / /usr/${GANTRY_CROSS_TRIPLET})
# GPGME's arch-specific gpg-error.h and gpgrt.h, unpacked by scripts/install-deps.sh (the arm64
# libgpg-error-dev cannot be installed beside the amd64 one)
set(GANTRY_CROSS_INCLUDE /usr/local/lib/gantry-cross/${GANTRY_CROSS_TRIPLET}/include)
if(NOT EXISTS ${GANTRY_CROSS_INCLUDE}/gpgrt.h)
  message(FATAL_ERROR "${GANTRY_CROSS_INCLUDE}/gpgrt.h not found: run scripts/install-deps.sh")
endif()
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${GANTRY_CROSS_INCLUDE})
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${GANTRY_CROSS_INCLUDE})
# pkg-config: the arm64 .pc files only (an amd64 one would add amd64 library paths)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${GANTRY_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
