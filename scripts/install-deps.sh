#!/usr/bin/env bash
# Installs every Debian 12 package gantry needs to build, test, demo and benchmark.
# Idempotent and non-interactive: packages already present are not touched.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang-format lld lld-16 ccache
  nlohmann-json3-dev libarchive-dev libzstd-dev libisal-dev libcli11-dev nettle-dev
  libgtest-dev libgmock-dev libseccomp-dev libcap-dev libcurl4-openssl-dev libyaml-dev
  liblz4-dev zlib1g-dev liblzma-dev libbz2-dev libre2-dev
  # the site's image policy: registries.conf (TOML) and policy.json's GPG signatures
  libtomlplusplus-dev libgpgme-dev gnupg libgnutls28-dev libsodium-dev
  # sigstore fixtures made to the cosign specification (tests/fixtures/sigstore.py)
  python3-cryptography python3-nacl
  # squashfs images (src/sqsh/): the reader's and the FUSE server's headers (the libraries are
  # dlopen'ed at run time: libsquashfs1, libfuse3-3), tar2sqfs for `save --format squashfs`,
  # and the peers the tests compare with (unsquashfs, mksquashfs, squashfuse)
  libsquashfs-dev libfuse3-dev squashfs-tools-ng squashfs-tools squashfuse fuse3
  # Apptainer's SIF files (src/sif/): the reference implementation's tool, which the tests make
  # SIFs with and list them with (tests/e2e/test_sif.py); its Go library, with ProtonMail's
  # go-crypto, signs and verifies SIFs for gantry verify's differential tests, built offline
  # (tests/fixtures/sifsign, tests/e2e/test_sif_verify.py)
  siftool golang-go golang-github-sylabs-sif-dev
  # tests and demo: sample images, peers for interoperability; clang builds a real HIP object
  # for the HIP fat-binary reader's unit test (no ROCm needed); pytest-xdist runs the e2e suite
  # in parallel (tests/conftest.py); strace records the system calls the durability tests check
  # (tests/e2e/durability.py)
  python3 python3-pytest python3-pytest-xdist python3-zstandard busybox-static zstd pigz
  util-linux attr clang strace
  # gantry analyze's GPU licence tests: Debian 12's ROCm HIP runtime (a real ROCm library with its
  # dpkg stanza and copyright file; tests/e2e/test_gpu_licences.py)
  libamdhip64-5
  # gantry build's tests: a Debian 12 base image made with debootstrap (tests/fixtures/debian_base.py)
  debootstrap
  skopeo umoci uidmap runc crun podman containerd
  # --network bridge (and the Engine API's default network): pasta, the user-mode network stack
  # (docs/networks.md); tests/e2e/test_networks.py
  passt
  # user networks (--network NAME, compose's project network): netavark with aardvark-dns, podman
  # 4's backend, run inside gantry's own namespace (docs/networks.md); test_networks_user.py
  netavark aardvark-dns
  # the differential: podman 4.3's root networks here are CNI's, which resolve names only with
  # the dnsname plugin (test_networks_user.py runs compose's stack through podman's service too)
  golang-github-containernetworking-plugin-dnsname
  # the CRI test (tests/e2e/test_cri.py): a gRPC client of containerd's CRI plugin, its messages
  # compiled at test time from the committed api.proto (tests/fixtures/cri/)
  # (and CNI's loopback plugin for its pod network)
  python3-grpcio python3-protobuf protobuf-compiler containernetworking-plugins
  # the lazy-pull differential: stargz-snapshotter's own eStargz writer (ctr-remote image convert)
  stargz-snapshotter
  docker-registry apache2-utils openssl chromium binutils
  # the Slurm plugin (src/spank/): <slurm/spank.h>; its tests run a 4-node Slurm (slurmctld,
  # slurmd, munge) with Open MPI's hello world over PMIx
  libslurm-dev slurm-wlm munge openmpi-bin libopenmpi-dev
  # the Debian packages (make deb, tests/e2e/test_package.py): lintian checks them, zsh runs
  # the generated zsh completion, man-db renders the man pages
  lintian zsh man-db
  # gantry system service (src/engine_api/): libmicrohttpd's header (the library is dlopen'ed
  # at run time: libmicrohttpd12; its TLS is GnuTLS's, libgnutls28-dev above); the real clients its tests drive: docker's CLI (docker.io;
  # its daemon is never started), docker-py (tests/e2e/test_engine_api.py) and docker-compose
  # 1.29 (tests/e2e/test_engine_api_compose.py)
  libmicrohttpd-dev docker.io python3-docker docker-compose
  # docker-py's own integration suite (make docker-py-suite, tests/dockerpy/run.py): what its
  # tests import (paramiko) and a per-test bound (pytest-timeout)
  python3-paramiko python3-pytest-timeout
  # foreign platforms (issue 80): qemu-user-static's emulators and their binfmt_misc lines, which
  # tests/e2e/test_foreign_platform.py registers to run an arm64 image as docker and podman do
  qemu-user-static
  # benchmarks
  hyperfine charliecloud
  # gantry for aarch64 (docs/aarch64.md): Debian's cross compilers, and the arm64 -dev packages
  # of the libraries gantry links statically or through pkg-config (multiarch, beside the amd64
  # ones: the architecture is added below). The headers of those it dlopens (ISA-L, Nettle,
  # GnuTLS, GPGME, libsodium, toml++) are the same for both and come from the amd64 packages
  # (libisal-dev and libgpgme-dev cannot be installed for two architectures at once).
  # `make build-aarch64` (make test's stage), `make test-aarch64` (the unit tests under qemu)
  crossbuild-essential-arm64
  libarchive-dev:arm64 libzstd-dev:arm64 libcap-dev:arm64 libyaml-dev:arm64 liblz4-dev:arm64
  zlib1g-dev:arm64 liblzma-dev:arm64 libbz2-dev:arm64 libre2-dev:arm64 libseccomp-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64
)

# The arm64 packages above need the architecture known to dpkg (once: they are then missing, and
# the apt-get update below fetches arm64's package lists)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" -eq 0 ]; then dpkg --add-architecture arm64; else sudo dpkg --add-architecture arm64; fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The aarch64 build's headers of libraries gantry loads with dlopen whose headers are generated per
# architecture (under /usr/include/<triplet>/): GPGME's gpg-error.h and gpgrt.h (libgpg-error-dev
# cannot be installed for amd64 and arm64 at once) and curl's. Their arm64 packages, of the amd64
# ones' versions, are unpacked and their headers copied into a folder of their own, which
# cmake/aarch64-linux-gnu.cmake puts on the include path: installing libcurl4-openssl-dev:arm64
# would have upgraded a dozen amd64 libraries in step (multiarch's same-version rule).
CROSS_INCLUDE=/usr/local/lib/gantry-cross/aarch64-linux-gnu/include
cross_headers() { # PACKAGE FILE...: the arm64 PACKAGE's FILEs (under its include/<triplet>/)
  local pkg=$1 version tmp
  shift
  version=$(dpkg-query -W -f='${Version}' "$pkg")
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download -qq "$pkg:arm64=$version" 2>/dev/null ||
    { $SUDO apt-get update -qq && apt-get download -qq "$pkg:arm64=$version"; }; })
  dpkg-deb -x "$tmp"/*_arm64.deb "$tmp/x"
  for f in "$@"; do
    $SUDO mkdir -p "$CROSS_INCLUDE/$(dirname "$f")"
    $SUDO cp -r "$tmp/x/usr/include/aarch64-linux-gnu/$f" "$CROSS_INCLUDE/$(dirname "$f")/"
  done
  rm -rf "$tmp"
  echo "install-deps: arm64 headers of $pkg $version in $CROSS_INCLUDE"
}
[ -f "$CROSS_INCLUDE/gpgrt.h" ] || cross_headers libgpg-error-dev gpg-error.h gpgrt.h
[ -f "$CROSS_INCLUDE/curl/curl.h" ] || cross_headers libcurl4-openssl-dev curl
