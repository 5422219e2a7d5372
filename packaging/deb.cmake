# Debian packages from the tree already built: CPack's DEB generator (`make deb`).
# docs/packaging.md says why CPack and not dpkg-buildpackage: the packages are made from the
# build CI has just tested, in seconds, where debian/rules would compile gantry again.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gantry)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "gantry developers <gantry@lists.example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL gantry)
if(TARGET spank_gantry)
  list(APPEND CPACK_COMPONENTS_ALL gantry-slurm)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # NAME_VERSION-RELEASE_ARCH.deb
# CPack asks `dpkg --print-architecture`, which names the build host's: a cross build's packages
# are its target's (cmake/aarch64-linux-gnu.cmake, `make deb-arm64`; docs/aarch64.md)
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON)
# Depends: from the shared libraries the files load (dpkg-shlibdeps), as debhelper computes it
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)

set(CPACK_DEBIAN_GANTRY_PACKAGE_NAME gantry)
# (CPack indents the long description's lines itself)
set(CPACK_COMPONENT_GANTRY_DESCRIPTION "rootless, daemonless GPU container engine
gantry pulls, builds and runs OCI container images without a daemon and
without root, with NVIDIA and AMD GPUs made available to the containers
through CDI. It is also an OCI runtime (gantry-oci, for podman and
containerd) and checks, slims and tailors GPU images.")
# What dpkg-shlibdeps cannot see: the libraries gantry loads with dlopen (src/util/library.hpp:
# each Library names its SONAME) and the programs it runs. Depends: what pull, run and build
# need (a user must never be told "install X" by them); Recommends: what other commands need;
# Suggests: what few need. docs/packaging.md's table says which command needs each, and why that
# strength; tests/e2e/test_package.py checks that the list names every SONAME in src/.
set(CPACK_DEBIAN_GANTRY_PACKAGE_DEPENDS
  "libcurl4 (>= 7.80.0), libisal2, libnettle8 (>= 3.6), libseccomp2, libsquashfs1, libfuse3-3, ca-certificates, golang-github-containers-common")
set(CPACK_DEBIAN_GANTRY_PACKAGE_RECOMMENDS "uidmap, squashfs-tools-ng, libgnutls30, libmicrohttpd12, passt, netavark, aardvark-dns, iptables")
set(CPACK_DEBIAN_GANTRY_PACKAGE_SUGGESTS "libgpgme11, gpgconf, libsodium23, binutils, podman, gantry-slurm")
# The AppArmor profile into /etc/apparmor.d where AppArmor 4 is (packaging/apparmor/gantry)
set(CPACK_DEBIAN_GANTRY_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_GANTRY_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# The SPANK plugin works only in the Slurm release whose headers it was compiled against
# (slurm/spank.h; Slurm refuses a plugin of another major.minor release). It links nothing
# (`ldd spank_gantry.so`: libc): its spank_* calls bind to libslurmfull.so, loaded by srun and
# slurmstepd, which slurm-wlm-basic-plugins holds. So gantry-slurm depends on that package of
# that release: the least that pins the ABI (slurmd and slurm-client depend on it with `=`), and
# a Depends, not a Breaks, so that a build for another release fails to install instead of apt
# removing the node's Slurm to make room (docs/packaging.md has the measured package counts).
if(TARGET spank_gantry)
  file(STRINGS ${SLURM_SPANK_INCLUDE_DIR}/slurm/slurm_version.h slurm_version_line
    REGEX "^#define SLURM_VERSION_NUMBER ")
  string(REGEX REPLACE ".*0x([0-9a-fA-F][0-9a-fA-F])([0-9a-fA-F][0-9a-fA-F]).*" "\\1;\\2"
    slurm_mm "${slurm_version_line}")
  list(GET slurm_mm 0 slurm_major_hex)
  list(GET slurm_mm 1 slurm_minor_hex)
  math(EXPR slurm_major "0x${slurm_major_hex}")
  math(EXPR slurm_minor "0x${slurm_minor_hex}")
  math(EXPR slurm_next "${slurm_minor} + 1")
  set(slurm_release "${slurm_major}.${slurm_minor}")
  if(slurm_minor LESS 10)
    set(slurm_release "${slurm_major}.0${slurm_minor}")
  endif()
  set(slurm_next_release "${slurm_major}.${slurm_next}")
  if(slurm_next LESS 10)
    set(slurm_next_release "${slurm_major}.0${slurm_next}")
  endif()
  set(CPACK_DEBIAN_GANTRY-SLURM_PACKAGE_NAME gantry-slurm)
  set(CPACK_DEBIAN_GANTRY-SLURM_PACKAGE_SECTION admin)
  set(CPACK_COMPONENT_GANTRY-SLURM_DESCRIPTION "Slurm SPANK plugin for gantry containers
srun --container-image=IMAGE runs each task of a job step in a gantry
container, with the step's GPUs. Built for Slurm ${slurm_release}.")
  set(CPACK_DEBIAN_GANTRY-SLURM_PACKAGE_DEPENDS
    "gantry (= ${PROJECT_VERSION}-1), slurm-wlm-basic-plugins (>= ${slurm_release}), slurm-wlm-basic-plugins (<< ${slurm_next_release})")
  # mksquashfs: `srun --container-save` (src/spank/save.c)
  set(CPACK_DEBIAN_GANTRY-SLURM_PACKAGE_RECOMMENDS "squashfs-tools")
  set(CPACK_DEBIAN_GANTRY-SLURM_PACKAGE_ENHANCES "slurmd, slurm-client")
endif()
include(CPack)
