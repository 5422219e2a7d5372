"""The module layering (src/modules.cmake, docs/architecture.md "Modules"): the includes keep to
the declared graph, the page shows the declared graph, and the build refuses an include of an
undeclared module: one of a module's own compile commands (compile_commands.json of the build
gantry came from) fails on an upward include and passes on a declared one."""

import json
import shlex
import subprocess
import sys

import pytest

from conftest import GANTRY, REPO

GRAPH = [sys.executable, str(REPO / "tools" / "module_graph.py")]


def test_includes_keep_to_the_declared_modules():
    r = subprocess.run(GRAPH + ["--declared"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no cycles" in r.stdout
    assert "undeclared" not in r.stdout


def test_architecture_page_shows_the_declared_graph():
    table = subprocess.run(GRAPH + ["--markdown"], capture_output=True, text=True,
                           check=True).stdout
    assert table.count("\n") > 20  # a row per module
    page = (REPO / "docs" / "architecture.md").read_text()
    assert table in page, "docs/architecture.md: paste `tools/module_graph.py --markdown`"


def module_compile_command(module):
    """(directory, argv) of a compile command of gantry_<module>, its source left out"""
    db = GANTRY.parent / "compile_commands.json"
    if not db.exists():
        pytest.skip(f"{db} missing: configure the build gantry comes from (CMake writes it)")
    root = f"module-include/{module}"
    for entry in json.loads(db.read_text()):
        argv = shlex.split(entry["command"])
        if not any(a.endswith(root) for a in argv):
            continue
        out, skip = [], False
        for a in argv:
            if skip:
                skip = False
            elif a in ("-o", "-c", "-MF", "-MT"):
                skip = True
            elif a in ("-MD", "-MMD") or a == entry["file"]:
                pass
            else:
                out.append(a)
        return entry["directory"], out
    raise AssertionError(f"no compile command of module {module} in {db}")


def compile_include(module, header, tmp_path):
    directory, argv = module_compile_command(module)
    src = tmp_path / "probe.cpp"
    src.write_text(f'#include "{header}"\n')
    return subprocess.run(argv + ["-fsyntax-only", str(src)], cwd=directory,
                          capture_output=True, text=True, check=False)


def test_an_upward_include_fails_the_build(tmp_path):
    # layer/ sits below the engine: its files cannot see engine/ (nor analyze/, which once
    # held the tar reader layer/ now owns)
    for header in ("engine/engine.hpp", "analyze/scan.hpp"):
        r = compile_include("layer", header, tmp_path)
        assert r.returncode != 0, header
        assert header in r.stderr, r.stderr
        assert "No such file" in r.stderr or "file not found" in r.stderr, r.stderr  # gcc, clang
    # the same command compiles an include of a module layer/ depends on, and its own
    r = compile_include("layer", "oci/digest.hpp", tmp_path)
    assert r.returncode == 0, r.stderr
    r = compile_include("layer", "layer/tar_reader.hpp", tmp_path)
    assert r.returncode == 0, r.stderr


def test_a_vendor_never_sees_another_vendor(tmp_path):
    # each GPU vendor is a module nested in gpu_vendors/ (issue 55): it sees the interface, not
    # another vendor; the interface sees no vendor; the list (gpu_vendors/all) sees them all
    refused = [("amd", "gpu_vendors/nvidia/host.hpp"), ("nvidia", "gpu_vendors/amd/topology.hpp"),
               ("gpu_vendors", "gpu_vendors/nvidia/backend.hpp"),
               ("gpu_vendors", "gpu_vendors/all/backends.hpp"),
               ("nvidia", "gpu_vendors/all/backends.hpp"),
               ("intel", "gpu_vendors/nvidia/host.hpp"), ("intel", "gpu_vendors/amd/topology.hpp"),
               ("amd", "gpu_vendors/intel/topology.hpp")]
    for module, header in refused:
        r = compile_include(module, header, tmp_path)
        assert r.returncode != 0, f"{module} compiled an include of {header}"
        assert "No such file" in r.stderr or "file not found" in r.stderr, r.stderr
    # (light headers: each is a compile)
    for module, header in [("amd", "gpu_vendors/in_root.hpp"),
                           ("gpu_vendors_all", "gpu_vendors/amd/topology.hpp"),
                           ("gpu_vendors_all", "gpu_vendors/nvidia/require.hpp")]:
        r = compile_include(module, header, tmp_path)
        assert r.returncode == 0, f"{module}: {header}: {r.stderr}"
    # and the graph the includes make has no edge between two vendors
    out = subprocess.run(GRAPH, capture_output=True, text=True, check=True).stdout
    deps = {line.split()[0]: line.split("->")[1].split() for line in out.splitlines() if "->" in line}
    assert "nvidia" not in deps["amd"] and "amd" not in deps["nvidia"], out
    assert not {"amd", "nvidia"} & set(deps["intel"]), out
    assert "intel" not in deps["amd"] and "intel" not in deps["nvidia"], out
    assert not {"amd", "nvidia", "intel", "gpu_vendors_all"} & set(deps["gpu_vendors"]), out


def test_the_intel_vendor_includes_no_other_vendor():
    # issue 55's measure: Intel was added through the interface alone, so its folder names no
    # other vendor's header (the build refuses one too: test above)
    import re
    folder = REPO / "src" / "gpu_vendors" / "intel"
    files = sorted(folder.glob("*.[ch]pp"))
    assert len(files) >= 10, files
    for f in files:
        for inc in re.findall(r'^#include "([^"]+)"', f.read_text(), re.M):
            assert not inc.startswith(("gpu_vendors/nvidia/", "gpu_vendors/amd/",
                                       "gpu_vendors/all/")), f"{f.name}: {inc}"


def test_architecture_page_names_only_what_exists():
    # every `module/path` the page names is a folder or file of src/ (a name without its
    # extension, `gpu_vendors/nvidia/host`, stands for host.hpp/.cpp; `*` for any folder): the
    # page once named files that had moved and put AMD under gpu/
    import glob
    import re
    page = (REPO / "docs" / "architecture.md").read_text()
    top = {p.name for p in (REPO / "src").iterdir() if p.is_dir()}
    named, missing = 0, []
    for token in re.findall(r"`([a-z_0-9]+/[A-Za-z0-9_./*-]*)`", page):
        if token.split("/")[0] not in top:
            continue
        named += 1
        base = str(REPO / "src" / token)
        if not any(glob.glob(base + ext) for ext in ("", ".hpp", ".cpp")):
            missing.append(token)
    assert named > 100, named
    assert not missing, f"docs/architecture.md names what src/ does not have: {missing}"
