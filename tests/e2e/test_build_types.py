"""gantry builds as packagers and users build it (issue 42): CMake's Release, RelWithDebInfo and
Debug flags and Debian's dpkg-buildflags (hardening, -O2, _FORTIFY_SOURCE), with GCC 12 and
clang, warnings as errors (as CI has them; a release build has GANTRY_WERROR off). The
combinations make test's own builds already compile (TYPES) are not compiled again: 18 units,
not 30.

Compile only, and only the translation units where build types have differed: optimisation
levels change which warnings GCC's middle end emits (GCC 12's -Wrestrict false positive at -O3
in src/image_build/gpu_arch.cpp failed `cmake -DCMAKE_BUILD_TYPE=Release`) and _FORTIFY_SOURCE adds
warn_unused_result to calls whose results src/util/fs.cpp and src/rootfs/rootfs.cpp ignored, and
the fixed-buffer checks the Slurm plugin's C code meets. Each unit is compiled with the exact
command of the tested build (BUILD/compile_commands.json) with the type's flags instead of its
own: seconds, where a full build per type and compiler would cost make test minutes
(`make build-types` does those, docs/packaging.md)."""
import json
import shlex
import shutil
import subprocess

import pytest

from conftest import GANTRY, REPO, need_tool

BUILD = GANTRY.parent
# unit -> the flag sets it is compiled with (None: all): gpu_arch.cpp met GCC 12's -O3
# -Wrestrict; fs.cpp and rootfs.cpp ignored results _FORTIFY_SOURCE marks warn_unused_result
# (found by a full dpkg-buildflags build); the plugin's C meets the fortified string functions
UNITS = {"src/image_build/gpu_arch.cpp": None, "src/spank/options.c": None,
         "src/spank/stepdir.c": None, "src/util/fs.cpp": {"dpkg-buildflags"},
         "src/rootfs/rootfs.cpp": {"dpkg-buildflags"}, "src/runtime/child.cpp": {"dpkg-buildflags"}}
# CMake 3.25's defaults for each type (CMAKE_<LANG>_FLAGS_<TYPE>) that a compile here can tell
# apart from the builds make test makes anyway, every file with warnings as errors: RelWithDebInfo
# is the tested gcc build's own type (its flags, -O2 -g1), and clang's warnings come from its
# front end, the same at every level, which build-san (-O0) has; what optimisation adds to them,
# _FORTIFY_SOURCE's checks, is in dpkg-buildflags. GCC's middle end warns differently at -O3 and
# -O0. `make build-types` builds every type whole (docs/packaging.md).
TYPES = {"gcc": {"Release": ["-O3", "-DNDEBUG"], "Debug": ["-g"]}, "clang": {}}
# ccache where the builds have it (the Makefile's CCACHE): a compile of the same source, headers,
# compiler and flags in the same checkout is answered from the cache; a failed one (a warning
# under -Werror) is never cached, so it fails again. Off with CCACHE_DISABLE=1, as ccache reads.
LAUNCHER = ["ccache"] if shutil.which("ccache") else []
OWN = {"-O2", "-g1", "-DNDEBUG", "-MD"}  # the tested build's, replaced
GCC_ONLY = {"-Wno-format-truncation"}  # CMakeLists.txt adds them for GCC only


def dpkg_buildflags(lang):
    flags = []
    for var in ("CPPFLAGS", "CXXFLAGS" if lang == "cxx" else "CFLAGS"):
        out = subprocess.run(["dpkg-buildflags", "--get", var], capture_output=True, text=True,
                             check=True).stdout
        flags += out.split()
    return flags


def unit_commands():
    """{unit: (its target's compile command, directory)}: the flags of any file of the unit's
    target (a unity build lists its batches, not the files)."""
    db = BUILD / "compile_commands.json"
    if not db.exists():
        pytest.fail(f"{db} is missing: configure the build first (make build-gantry)")
    entries = json.loads(db.read_text())
    commands = {}
    for unit in UNITS:
        module = unit.split("/")[1]
        target = "spank_gantry" if module == "spank" else f"gantry_{module}"
        for entry in entries:
            if f"CMakeFiles/{target}.dir/" in entry["command"]:
                commands[unit] = (entry["command"], entry["directory"])
                break
    return commands


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_units_compile_with_every_build_types_flags(compiler, tmp_path):
    need_tool("dpkg-buildflags")
    need_tool("clang" if compiler == "clang" else "gcc")
    commands = unit_commands()
    assert "src/image_build/gpu_arch.cpp" in commands, sorted(commands)
    failures = []
    for unit, (command, directory) in commands.items():
        args = shlex.split(command)[1:]  # the compiler's arguments (no launcher is listed)
        cxx = unit.endswith(".cpp")
        cc = {"gcc": "g++" if cxx else "gcc", "clang": "clang++" if cxx else "clang"}[compiler]
        kept, skip = [], False  # without the output, its source, dependency files, own flags
        for a in args:
            if skip:
                skip = False
            elif a in ("-o", "-MF", "-MT", "-c"):
                skip = True
            elif a not in OWN and not (compiler == "clang" and a in GCC_ONLY):
                kept.append(a)
        flag_sets = dict(TYPES[compiler],
                         **{"dpkg-buildflags": dpkg_buildflags("cxx" if cxx else "c")})
        if compiler == "gcc" and cxx:  # as CMakeLists.txt has it for GCC 12's -O3
            flag_sets["Release"] = flag_sets["Release"] + ["-Wno-restrict"]
        for name, flags in flag_sets.items():
            if UNITS[unit] is not None and name not in UNITS[unit]:
                continue
            cmd = [*LAUNCHER, cc, *kept, *flags, "-Werror", "-c", str(REPO / unit), "-o",
                   str(tmp_path / "u.o")]
            p = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
            if p.returncode != 0:
                failures.append(f"{unit} {compiler} {name}:\n{p.stderr[-2000:]}")
    assert not failures, "\n".join(failures)
