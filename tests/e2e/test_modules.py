"""The module layering (src/modules.cmake, docs/architecture.md "Modules"): the includes keep to
the declared graph, the page shows the declared graph, and the build refuses an include of an
undeclared module: one of a module's own compile commands (compile_commands.json of the build
gantry came from) fails on an upward include and passes on a declared one."""

import json
import re
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


def declared_closure(module):
    """the modules MODULE may include: its DEPENDS in src/modules.cmake, and theirs"""
    text = (REPO / "src" / "modules.cmake").read_text()
    deps = {}
    for block in re.split(r"^gantry_module\(", text, flags=re.M)[1:]:
        name = re.match(r"\w+", block).group(0)
        m = re.search(r"^  DEPENDS ([^)]*)\)", block, re.M)
        deps[name] = m.group(1).split() if m else []
    seen, todo = set(), list(deps[module])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += deps[m]
    return seen


def test_the_image_store_does_not_depend_on_the_container_runtime():
    # issue 74: runtime/ was five things and store/ depended on all of them for a user-namespace
    # helper; the store sees userns/ and nothing that runs, records or confines a container
    below_store = declared_closure("store")
    assert {"userns", "layer", "oci", "util"} <= below_store, below_store
    assert {"oci", "seccomp", "userns", "util"} <= declared_closure("runtime")
    assert not {"runtime", "records", "container_log", "seccomp", "sandbox"} & below_store
    # and the runtime itself knows nothing of stores, images, GPUs or records
    assert not {"store", "layer", "records", "gpu_vendors", "cdi"} & declared_closure("runtime")


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


# build outputs, the only repository-relative `word/` tokens that need not exist
BUILT = {"build/", "build-san/", "build-fuzz/"}
# the repository's folders a path in prose or a diagram starts with
REPO_FOLDERS = ("src", "tests", "docs", "tools", "fuzz", "bench", "packaging", "scripts")
PATH_CHARS = r"[A-Za-z0-9_./*{},-]"


def expand_braces(path):
    """`gpu_vendors/{nvidia,amd}/` as the shell expands it"""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [p for alt in m.group(1).split(",")
            for p in expand_braces(path[:m.start()] + alt + path[m.end():])]


def architecture_paths(page, src_folders):
    """Every path docs/architecture.md names, as (token, base path to look for): each backticked
    `folder/path` (a module's when its first part is a folder of src/, else the repository's),
    and anywhere else, prose and diagrams alike, a path under one of the repository's folders
    (docs/storage.md) or a module's source file (engine/launch.cpp)"""
    found = []
    for token in re.findall(r"`([^`\n]+)`", page):
        if token in BUILT or not re.fullmatch(r"[a-z0-9_-]+/" + PATH_CHARS + "*", token):
            continue  # host paths (/proc/...), placeholders (STORE/...), names (intel.com/gpu)
        found.append(token)
    lead = r"(?<![A-Za-z0-9_./`-])"
    found += re.findall(lead + r"((?:%s)/%s*[A-Za-z0-9_*/])" % ("|".join(REPO_FOLDERS),
                                                              PATH_CHARS), page)
    found += re.findall(lead + r"((?:%s)/[A-Za-z0-9_./-]*\.[ch](?:pp)?)\b" %
                        "|".join(sorted(src_folders, key=len, reverse=True)), page)
    out = [(name, REPO / "src" / "**" / name)  # a source file named alone: in some folder
           for name in re.findall(lead + r"([a-z0-9_]+\.[ch](?:pp)?)\b", page)]
    for token in found:
        for path in expand_braces(token):
            first = path.split("/")[0]
            out.append((token, REPO / "src" / path if first in src_folders and
                        first not in REPO_FOLDERS else REPO / path))
    return out


def test_architecture_page_names_only_what_exists():
    # every path the page names is a folder or file of the repository (a name without its
    # extension, `gpu_vendors/nvidia/host`, stands for host.hpp/.cpp; `*` for any folder): the
    # page once named files that had moved, put AMD under gpu/, named gpu/gpus_flag after gpu/
    # had become gpu_host/, and skipped paths into removed modules; no path is exempt but the
    # build's outputs
    import glob
    page = (REPO / "docs" / "architecture.md").read_text()
    src_folders = {p.name for p in (REPO / "src").iterdir() if p.is_dir()}
    paths = architecture_paths(page, src_folders)
    missing = sorted({token for token, base in paths
                      if not any(glob.glob(str(base) + ext, recursive=True)
                              for ext in ("", ".hpp", ".cpp"))})
    assert len(paths) > 150, len(paths)
    assert not missing, f"docs/architecture.md names what the repository does not have: {missing}"


def test_the_page_check_sees_every_kind_of_path():
    # the rule above, on a page of each kind of path it must see: a stale one of each kind is
    # reported, paths that exist are not, host paths and build outputs are no repository's
    src_folders = {p.name for p in (REPO / "src").iterdir() if p.is_dir()}
    page = ("`gpu/gpus_flag` `compat/` `runtime/state` `src/runtime/events.hpp`\n"
            " cli/cmd_run.cpp runtime/output.cpp see docs/no-such-page.md and\n"
            "`gpu_vendors/{nvidia,gone}/host` `records/state` `/proc/cpuinfo` `build/`\n"
            "`../shared/DESIGN.md` docs/storage.md `tcp://` engine/launch.cpp `STORE/tmp`\n"
            "`intel.com/gpu` `cdi.k8s.io/*` (clone.cpp, cgroup.cpp)\n")
    import glob
    missing = sorted({t for t, base in architecture_paths(page, src_folders)
                      if not any(glob.glob(str(base) + ext, recursive=True)
                                 for ext in ("", ".hpp", ".cpp"))})
    assert missing == ["cgroup.cpp", "compat/", "docs/no-such-page.md", "gpu/gpus_flag",
                       "gpu_vendors/{nvidia,gone}/host", "runtime/output.cpp",
                       "runtime/state", "src/runtime/events.hpp"], missing


def test_unit_tests_live_beside_their_modules():
    # every folder of tests/unit is a module's (src/<same path>), but for what several share and
    # the stub vendor the interface test registers: NVIDIA's and AMD's tests once lived under
    # tests/unit/compat and tests/unit/tailor after those modules had moved into the vendors
    unit = REPO / "tests" / "unit"
    stray = sorted(str(d.relative_to(unit)) for d in unit.rglob("*")
                   if d.is_dir() and not (REPO / "src" / d.relative_to(unit)).is_dir()
                   and str(d.relative_to(unit)) not in ("support", "gpu_vendors/stub"))
    assert not stray, f"tests/unit folders that are no module of src/: {stray}"


VENDOR_WORD = re.compile(r"amd|nvidia|intel", re.I)
# not a GPU vendor: the amd64 architecture; the OCI and CDI field intelRdt (Intel's RDT cache
# allocation, a CPU feature)
NOT_A_VENDOR = re.compile(r"amd64|intel_?rdt", re.I)
VENDOR_FOLDERS = ("src/gpu_vendors/nvidia/", "src/gpu_vendors/amd/", "src/gpu_vendors/intel/")
# the registration list and the module list: the two places a vendor is added
LISTS = ("src/gpu_vendors/all/backends.cpp", "src/modules.cmake")


def c_lines(text):
    """Each line of a C or C++ file as (code, strings): the code with comments and literals
    taken out, and the string literals' contents (raw strings and character literals
    included)."""
    out, code, strings, cur = [], [], [], None
    i, n, state, raw_end = 0, len(text), "code", ""
    while i < n:
        c = text[i]
        if c == "\n":
            if state == "line":
                state = "code"
            if cur is not None:  # a literal running on (a raw string): what is read so far
                strings.append("".join(cur))
                cur = []
            out.append(("".join(code), strings))
            code, strings = [], []
            i += 1
            continue
        if state == "code":
            if text.startswith("//", i):
                state, i = "line", i + 2
            elif text.startswith("/*", i):
                state, i = "block", i + 2
            elif c == "R" and i + 1 < n and text[i + 1] == '"' and not (
                    i and (text[i - 1].isalnum() or text[i - 1] == "_")):
                paren = text.index("(", i)
                raw_end = ")" + text[i + 2:paren] + '"'
                state, cur, i = "raw", [], paren + 1
            elif c in "\"'":
                state, cur, i = c, [], i + 1
            else:
                code.append(c)
                i += 1
        elif state == "line":
            i += 1
        elif state == "block":
            if text.startswith("*/", i):
                state = "code"
                i += 2
            else:
                i += 1
        elif state == "raw":
            if text.startswith(raw_end, i):
                strings.append("".join(cur))
                state, cur, i = "code", None, i + len(raw_end)
            else:
                cur.append(c)
                i += 1
        else:  # in a '"' or '\'' literal
            if c == "\\":
                cur.append(text[i:i + 2])
                i += 2
            elif c == state:
                strings.append("".join(cur))
                state, cur, i = "code", None, i + 1
            else:
                cur.append(c)
                i += 1
    out.append(("".join(code), strings))
    return out


def vendor_mentions():
    """(path, line number, 'code' or 'string', text) for each place outside the vendor folders
    where a vendor is named other than in a comment"""
    found = []
    for f in sorted((REPO / "src").rglob("*")):
        rel = str(f.relative_to(REPO))
        if f.suffix not in (".c", ".h", ".cpp", ".hpp") or rel.startswith(VENDOR_FOLDERS):
            continue
        for no, (code, strings) in enumerate(c_lines(f.read_text()), 1):
            if VENDOR_WORD.search(NOT_A_VENDOR.sub("", code)):
                found.append((rel, no, "code", code.strip()))
            for s in strings:
                if VENDOR_WORD.search(NOT_A_VENDOR.sub("", s)):
                    found.append((rel, no, "string", s))
    return found


def test_c_lines_tells_code_strings_and_comments_apart():
    lines = c_lines('int nvidia = 1; // amd\n/* intel\n amd */ f("a // b", \'"\');\n'
                    'auto r = R"x(amd "q")x"; g(R"(\nnvidia)");\n')
    assert lines[0] == ("int nvidia = 1; ", [])
    assert lines[1] == ("", [])
    assert lines[2] == (" f(, );", ["a // b", '"'])
    assert lines[3] == ("auto r = ; g(", ['amd "q"', ""])
    assert lines[4] == (");", ["nvidia"])


def test_no_code_outside_the_vendor_folders_names_a_vendor():
    # issue 55's measure as a rule: outside src/gpu_vendors/{nvidia,amd,intel}/ a vendor is named
    # in comments, in messages and help texts (a string with a space: "e.g. nvidia.com/gpu=0"),
    # and in the registration and module lists, never in code or in a string code matches on
    # (starts_with("nvidia-cudnn"): a vendor's knowledge, which belongs in its folder)
    found = vendor_mentions()
    assert len(found) > 10, found  # the messages are there: the scan reads the tree
    wrong = [m for m in found if not m[0].startswith(LISTS)
             and (m[2] == "code" or " " not in m[3])]
    assert not wrong, "name the vendor in its folder, behind gpu_vendors::Backend: " + repr(wrong)


def test_adding_intel_touched_only_its_folder_and_the_two_lists():
    # issue 55: Intel was added through the interface alone, so outside src/gpu_vendors/intel/
    # nothing but comments and the two lists names it (help texts list the registered vendors:
    # gpu_vendors::vendor_flag_help)
    intel = re.compile(r"intel", re.I)
    wrong = [m for m in vendor_mentions()
             if intel.search(NOT_A_VENDOR.sub("", m[3])) and not m[0].startswith(LISTS)]
    assert not wrong, wrong
