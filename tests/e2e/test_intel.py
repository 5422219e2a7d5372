"""Intel GPUs end to end on simulated Intel hosts (tests/fixtures/intelhost: four Data Center GPU
Max 1550 on i915 behind a BMC's card0, with the host's Level Zero and compute runtime under a
driver root; one Arc A770 on xe; an i915 iGPU gantry's table does not know, without user space).

`gantry run --gpus ... --gpu-vendor intel` gets exactly the chosen GPUs' card and render nodes,
their /dev/dri/by-path links, and the host's Level Zero/OpenCL libraries (mounted read-only, SONAME
links, intel.icd); `gantry cdi generate --vendor intel` writes intel.com/gpu, which `run --device
intel.com/gpu=N` consumes; the doctor passes a good host, warns on missing user space and reads
an image's SYCL offload binaries (tests/fixtures/intelhost/offload_bin.py): AOT code only for
another device fails (and stops a run before launch), SPIR-V gets a JIT note; an unknown device
is refused. Root only: the simulated device nodes are real char nodes (mknod).

Run: flock /tmp/gantry-e2e.lock /usr/bin/python3 -m pytest -q -p no:cacheprovider \
         tests/e2e/test_intel.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import GANTRY, NOBODY, TESTS, Gantry
from fixtures import mkimage as mk

sys.path.insert(0, str(TESTS / "fixtures" / "intelhost"))
import intelhost as ih  # noqa: E402
import linked_bin as lb  # noqa: E402
import offload_bin as ob  # noqa: E402

ROOT = os.geteuid() == 0
LIB = "/usr/lib/x86_64-linux-gnu"
# what a container sees: its DRM nodes (name major:minor), by-path links, Intel's files
PROBE = ("for n in /dev/dri/*; do [ -c \"$n\" ] && stat -c 'node %n %t:%T %g' \"$n\"; done; "
         "for l in /dev/dri/by-path/*; do [ -L \"$l\" ] && echo \"link $l $(readlink $l)\"; done; "
         f"echo icd $(cat /etc/OpenCL/vendors/intel.icd 2>/dev/null); "
         f"for f in {LIB}/libze_loader.so.1 {LIB}/libze_intel_gpu.so.1 {LIB}/libigc.so.2 "
         f"{LIB}/intel-opencl/libigdrcl.so {LIB}/libigdgmm.so.12; do "
         "[ -e \"$f\" ] && echo \"lib $f\"; done; "
         "echo groups $(id -G)")

pytestmark = pytest.mark.skipif(not ROOT, reason="the simulated hosts' device nodes need root")


def app_layer(name, targets):
    data = targets if isinstance(targets, bytes) else ob.sycl_app(targets)
    return mk.Layer([mk.Entry.dir("opt"), mk.Entry.dir("opt/app"),
                     mk.Entry.file(f"opt/app/{name}", data, 0o755)])


def libs_layer():
    """An image's own Level Zero loader 1.17.6 and the general-purpose libraries Debian 12's
    graphics compiler needs (stand-in files: nothing loads them)."""
    lib = LIB[1:]
    parts = lib.split("/")
    entries = [mk.Entry.dir("/".join(parts[:i + 1])) for i in range(len(parts))]
    entries += [mk.Entry.file(f"{lib}/libze_loader.so.1.17.6", b"\x7fELF stand-in"),
                mk.Entry.symlink(f"{lib}/libze_loader.so.1", "libze_loader.so.1.17.6")]
    entries += [mk.Entry.file(f"{lib}/{n}", b"\x7fELF stand-in")
                for n in ("libz.so.1", "libedit.so.2")]
    return mk.Layer(entries)


@pytest.fixture(scope="module")
def lab(gantry_bin):
    base = Path(tempfile.mkdtemp(prefix="gantry-intel-", dir="/tmp"))
    os.chmod(base, 0o755)

    class Lab:
        pass

    lab = Lab()
    lab.base = base
    try:
        lab.hosts = {shape: (base / shape, ih.build(base / shape, shape, devices="nodes",
                                                     user_space=shape == "max1550"))
                     for shape in ("max1550", "arc-xe", "unknown", "flex-sriov")}
        # driver roots beside the max1550 host's (its sys and dev roots): Debian 12's packages,
        # Intel's legacy1 build, and a 2020 driver (20.35.17767) without a loader
        lab.drivers = {"debian12": base / "deb12", "legacy1": base / "legacy1",
                       "old": base / "old-noloader", "deb12-noloader": base / "deb12-noloader"}
        ih.build_user_space(lab.drivers["debian12"], "debian12")
        ih.build_user_space(lab.drivers["legacy1"], "legacy1")
        ih.build_user_space(lab.drivers["old"], "debian12", loader=False, driver_build=17767)
        ih.build_user_space(lab.drivers["deb12-noloader"], "debian12", loader=False)
        archive = base / "images.tar"
        mk.write_docker_archive(archive, [
            (mk.busybox_image(), ["intel/plain:1"]),
            (mk.busybox_image(extra_layers=[app_layer("pvc_only", ["pvc"])]), ["intel/pvc:1"]),
            (mk.busybox_image(extra_layers=[app_layer("jit", ["pvc", "spirv"])]),
             ["intel/jit:1"]),
            (mk.busybox_image(extra_layers=[libs_layer()]), ["intel/loader:1"]),
            # linked programs: the older driver's PIE (descriptors, relocations, .tgtimg) with
            # AOT code for pvc only; the linker wrapper's with SPIR-V only
            (mk.busybox_image(extra_layers=[app_layer("linked_pvc", lb.linked_app(
                lb.pvc_only(), pie=True))]), ["intel/linked-pvc:1"]),
            (mk.busybox_image(extra_layers=[app_layer("linked_jit", lb.linked_app(
                [("spirv64-unknown-unknown", 6, ob.spirv_image(), "")], version=3))]),
             ["intel/linked-jit:1"]),
            (mk.busybox_image(extra_layers=[app_layer("linked_two", lb.linked_app(
                lb.acm_pvc_spirv()))]), ["intel/linked-two:1"]),
        ])
        os.chmod(archive, 0o644)
        lab.archive = archive
        lab.gan = Gantry(base / "store")
        lab.gan.run("load", archive)
        yield lab
    finally:
        shutil.rmtree(base, ignore_errors=True)


def roots(lab, shape, driver=None):
    out, _ = lab.hosts[shape]
    return ["--sys-root", out / "sys", "--dev-root", out / "dev", "--driver-root",
            lab.drivers[driver] if driver else
            out / "driver" if (out / "driver").exists() else out / "none"]


def probe(res):
    rep = {"nodes": set(), "links": {}, "libs": set(), "icd": "", "groups": set()}
    for line in res.out.splitlines():
        w = line.split()
        if w and w[0] == "node":
            rep["nodes"].add(w[1])
        elif w and w[0] == "link":
            rep["links"][w[1]] = w[2]
        elif w and w[0] == "lib":
            rep["libs"].add(w[1])
        elif w and w[0] == "icd":
            rep["icd"] = " ".join(w[1:])
        elif w and w[0] == "groups":
            rep["groups"] = {int(x) for x in w[1:]}
    return rep


def test_run_gets_the_chosen_gpus_nodes_and_the_hosts_level_zero(lab):
    desc = lab.hosts["max1550"][1]
    g1 = desc["gpus"][1]
    res = lab.gan.run("run", "--rm", *roots(lab, "max1550"), "--gpu-vendor", "intel",
                      "--gpus", "device=1", "intel/plain:1", "sh", "-c", PROBE)
    rep = probe(res)
    assert rep["nodes"] == {g1["card"], g1["render"]}, res
    assert rep["links"] == {f"/dev/dri/by-path/pci-{g1['bdf']}-card": "../card2",
                            f"/dev/dri/by-path/pci-{g1['bdf']}-render": "../renderD129"}, res
    assert rep["libs"] == {f"{LIB}/libze_loader.so.1", f"{LIB}/libze_intel_gpu.so.1",
                           f"{LIB}/libigc.so.2", f"{LIB}/intel-opencl/libigdrcl.so",
                           f"{LIB}/libigdgmm.so.12"}, res  # the drivers' NEEDED libigdgmm
    assert rep["icd"] == f"{LIB}/intel-opencl/libigdrcl.so", res
    # as root the nodes' groups are the process's: render (the render node's), video (the card's)
    assert {ih.RENDER_GID, ih.VIDEO_GID} <= rep["groups"], res
    # the only vendor on this host: plain --gpus means Intel; driver= names it too
    res = lab.gan.run("run", "--rm", *roots(lab, "max1550"), "--gpus", "all,driver=intel",
                      "intel/plain:1", "sh", "-c", PROBE)
    assert probe(res)["nodes"] == {n for g in desc["gpus"] for n in (g["card"], g["render"])}, res


def test_an_unknown_device_is_refused(lab):
    res = lab.gan.fail("run", "--rm", *roots(lab, "max1550"), "--gpu-vendor", "intel",
                       "--gpus", "device=card0", "intel/plain:1", "true", code=125)
    assert 'unknown Intel GPU "card0"' in res.err and "0 (card1, 0000:18:00.0)" in res.err, res


def test_cdi_generate_and_run_device(lab):
    spec_dir = lab.base / "cdi"
    spec_dir.mkdir(exist_ok=True)
    res = lab.gan.run("cdi", "generate", "--vendor", "intel", *roots(lab, "max1550"), "-o",
                      spec_dir)
    assert "warning" not in res.err, res
    spec = (spec_dir / "intel.yaml")
    assert spec.is_file(), res
    names = lab.gan.run("cdi", "list", "--spec-dir", spec_dir).out.split()
    assert names[:2] == ["intel.com/gpu=0", "intel.com/gpu=card1"], names
    assert names[-1] == "intel.com/gpu=all" and len(names) == 9, names
    assert "ok" in lab.gan.run("cdi", "validate", spec).out
    g0 = lab.hosts["max1550"][1]["gpus"][0]
    res = lab.gan.run("run", "--rm", "--device", "intel.com/gpu=0", "--cdi-spec-dir", spec_dir,
                      "intel/plain:1", "sh", "-c", PROBE)
    rep = probe(res)
    assert rep["nodes"] == {g0["card"], g0["render"]}, res
    assert f"{LIB}/libze_intel_gpu.so.1" in rep["libs"], res
    # the GPU's by-path entries, as Intel's resource driver mounts them: the nodes themselves
    res = lab.gan.run("run", "--rm", "--device", "intel.com/gpu=0", "--cdi-spec-dir", spec_dir,
                      "intel/plain:1", "sh", "-c",
                      "stat -c '%n %F %t:%T' /dev/dri/by-path/* " + g0["card"] + " " + g0["render"])
    seen = {w[0]: (" ".join(w[1:-1]), w[-1]) for w in map(str.split, res.out.splitlines())}
    by_path = f"/dev/dri/by-path/pci-{g0['bdf']}"
    assert set(seen) == {g0["card"], g0["render"], by_path + "-card", by_path + "-render"}, res
    assert seen[by_path + "-card"] == seen[g0["card"]] == ("character special file",
                                                         seen[g0["card"]][1]), res
    assert seen[by_path + "-render"] == seen[g0["render"]], res


def test_an_sriov_physical_function_is_not_handed_out(lab):
    """A Flex 170 whose physical function has two virtual functions enabled, and a second Flex
    170 with SR-IOV off: as Intel's device plugin, gantry hands out the VFs and the second card,
    never the PF, and numbers them in PCI order without it (counting the PF put every VF one
    index off); cdi generate describes the same GPUs and the doctor names the PF."""
    desc = lab.hosts["flex-sriov"][1]
    given = [g for g in desc["gpus"] if not g["sriov_pf_with_vfs"]]
    pf = next(g for g in desc["gpus"] if g["sriov_pf_with_vfs"])
    assert [g["bdf"] for g in given] == ["0000:4d:00.1", "0000:4d:00.2", "0000:9a:00.0"]
    res = lab.gan.run("run", "--rm", *roots(lab, "flex-sriov"), "--gpus", "all", "intel/plain:1",
                      "sh", "-c", PROBE)
    assert probe(res)["nodes"] == {n for g in given for n in (g["card"], g["render"])}, res
    for i, g in enumerate(given):
        res = lab.gan.run("run", "--rm", *roots(lab, "flex-sriov"), "--gpus", f"device={i}",
                          "intel/plain:1", "sh", "-c", PROBE)
        assert probe(res)["nodes"] == {g["card"], g["render"]}, res
    res = lab.gan.fail("run", "--rm", *roots(lab, "flex-sriov"), "--gpus",
                       f"device={pf['bdf']}", "intel/plain:1", "true", code=125)
    assert f'unknown Intel GPU "{pf["bdf"]}"' in res.err, res
    spec_dir = lab.base / "cdi-sriov"
    spec_dir.mkdir(exist_ok=True)
    lab.gan.run("cdi", "generate", "--vendor", "intel", *roots(lab, "flex-sriov"), "-o", spec_dir)
    names = lab.gan.run("cdi", "list", "--spec-dir", spec_dir).out.split()
    assert names == ["intel.com/gpu=0", "intel.com/gpu=card2", "intel.com/gpu=1",
                     "intel.com/gpu=card3", "intel.com/gpu=2", "intel.com/gpu=card4",
                     "intel.com/gpu=all"], names
    f = findings(doctor(lab, "flex-sriov", check=False))
    assert pf["bdf"] in f["INTEL-SRIOV-PF"]["message"], f
    assert "2 virtual functions" in f["INTEL-SRIOV-PF"]["message"], f


def doctor(lab, shape, *args, check=True):
    return lab.gan.run("doctor", "--gpu-vendor", "intel", *roots(lab, shape), "--json", *args,
                       check=check)


def findings(res):
    return {f["id"]: f for f in json.loads(res.out)["findings"]}


def test_doctor_host_rules(lab):
    f = findings(doctor(lab, "max1550"))
    assert f["INTEL-GPU"]["severity"] == "pass" and "Max 1550" in f["INTEL-GPU"]["message"]
    assert "2 tiles" in f["INTEL-GPU"]["message"]
    assert f["INTEL-USER-SPACE"]["severity"] == "pass", f
    f = findings(doctor(lab, "unknown", check=False))
    assert f["INTEL-USER-SPACE"]["severity"] == "warn", f
    assert "INTEL-DEVICE-UNKNOWN" in f, f


def test_doctor_and_run_judge_the_images_device_code(lab):
    res = doctor(lab, "arc-xe", "intel/pvc:1", check=False)
    f = findings(res)
    assert res.code != 0 and f["INTEL-AOT-OTHER-DEVICE"]["severity"] == "fail", res
    assert "/opt/app/pvc_only" in f["INTEL-AOT-OTHER-DEVICE"]["message"], f
    assert "intel_gpu_acm_g10" in f["INTEL-AOT-OTHER-DEVICE"]["fix"], f
    f = findings(doctor(lab, "arc-xe", "intel/jit:1", check=False))
    assert f["INTEL-SPIRV-JIT"]["severity"] == "info", f
    f = findings(doctor(lab, "max1550", "intel/pvc:1"))
    assert "INTEL-AOT-OTHER-DEVICE" not in f and f["INTEL-DEVICE-CODE"]["severity"] == "pass", f
    # the run stops before launch; --no-require runs it anyway
    res = lab.gan.fail("run", "--rm", *roots(lab, "arc-xe"), "--gpus", "all", "intel/pvc:1",
                       "true", code=125)
    assert "/opt/app/pvc_only" in res.err and "acm-g10" in res.err, res
    lab.gan.run("run", "--rm", *roots(lab, "arc-xe"), "--gpus", "all", "--no-require",
                "intel/pvc:1", "true")
    # the run's verdict is cached per image and GPUs under the runtime dir: an entry emptied by
    # hand is what the next run goes by (nothing of the image is read again)
    entries = [p for d in ("/run/gantry", f"/tmp/gantry-{os.geteuid()}")
               for p in Path(d).glob("intel-doctor-cache/intel-doctor-*.json")
               if "/opt/app/pvc_only" in p.read_text()]
    assert len(entries) == 1, entries
    try:
        entries[0].write_text('{"findings": []}')
        lab.gan.run("run", "--rm", *roots(lab, "arc-xe"), "--gpus", "all", "intel/pvc:1", "true")
    finally:
        entries[0].unlink()


def test_doctor_judges_linked_programs(lab):
    # the device images a linked program keeps wrapped (docs/reference/intel-gpu.md §6)
    res = doctor(lab, "arc-xe", "intel/linked-pvc:1", check=False)
    f = findings(res)
    assert res.code != 0 and f["INTEL-AOT-OTHER-DEVICE"]["severity"] == "fail", res
    assert "/opt/app/linked_pvc" in f["INTEL-AOT-OTHER-DEVICE"]["message"], f
    assert "pvc" in f["INTEL-AOT-OTHER-DEVICE"]["message"], f
    f = findings(doctor(lab, "arc-xe", "intel/linked-jit:1", check=False))
    assert f["INTEL-SPIRV-JIT"]["severity"] == "info", f
    assert "/opt/app/linked_jit" in f["INTEL-SPIRV-JIT"]["message"], f
    assert "INTEL-AOT-OTHER-DEVICE" not in f and "INTEL-OFFLOAD-UNREADABLE" not in f, f
    f = findings(doctor(lab, "max1550", "intel/linked-pvc:1"))
    assert f["INTEL-DEVICE-CODE"]["severity"] == "pass", f


CC = os.environ.get("CC", "cc")


@pytest.mark.skipif(not shutil.which(CC), reason="needs a C compiler ($CC or cc)")
def test_doctor_fatbin_reads_programs_the_system_linker_built(lab):
    # the wrapper's globals as C (linked_bin.c_source), linked by the system's linker: a
    # fixed-address executable, a PIE (pointers through .rela.dyn) and, when there, lld's PIE
    src = lab.base / "linked.c"
    src.write_text(lb.c_source(lb.with_spirv()))
    builds = [["-no-pie"], ["-pie", "-fPIE"]]
    if shutil.which("ld.lld"):
        builds.append(["-pie", "-fPIE", "-fuse-ld=lld"])
    for flags in builds:
        out = lab.base / "linked"
        subprocess.run([CC, *flags, "-O0", "-o", out, src], check=True)
        doc = json.loads(lab.gan.run("doctor", "--fatbin", out, "--json").out)
        got = [(i["target"], i["format"], i["from"]) for i in doc["intel_device_images"]]
        assert got == [("pvc", "native", "descriptor"), ("spirv", "SPIR-V", "descriptor")], \
            (flags, doc)


@pytest.mark.skipif(not shutil.which(CC), reason="needs a C compiler ($CC or cc)")
def test_tailor_rewrites_programs_the_system_linker_built_and_they_still_load(lab):
    # static programs (no libc in the image), fixed-address and PIE (self-relocating: the moved
    # relocations are applied when it starts), GNU ld and lld; each walks its own descriptor and
    # exits with the count of images it reaches: 3 before tailor --keep-arch pvc, 2 after
    src = lab.base / "three.c"
    src.write_text(lb.c_source(lb.acm_pvc_spirv()))
    builds = [["-static"], ["-static-pie"]]
    if shutil.which("ld.lld"):
        builds.append(["-static-pie", "-fuse-ld=lld"])
    for i, flags in enumerate(builds):
        prog = lab.base / f"three-{i}"
        subprocess.run([CC, *flags, "-O0", "-o", prog, src], check=True)
        archive = lab.base / f"three-{i}.tar"
        mk.write_docker_archive(archive, [(mk.busybox_image(extra_layers=[
            app_layer("three", prog.read_bytes())]), [f"intel/three{i}:1"])])
        lab.gan.run("load", archive)
        assert lab.gan.run("run", "--rm", f"intel/three{i}:1", "/opt/app/three",
                           check=False).code == 3, flags
        r = lab.gan.run("tailor", f"intel/three{i}:1", "-t", f"intel/three{i}-t:1",
                        "--keep-arch", "pvc", "--json").json()
        [f] = [f for f in r["tailor"]["files"] if f["path"] == "/opt/app/three"]
        assert f["outcome"] == "changed", (flags, f)
        assert lab.gan.run("run", "--rm", f"intel/three{i}-t:1", "/opt/app/three",
                           check=False).code == 2, flags


def test_bundle_takes_the_gpus_from_the_cdi_spec(lab):
    g2 = lab.hosts["max1550"][1]["gpus"][2]
    out = lab.base / "bundle"
    lab.gan.run("bundle", "--gpus", "device=2", *roots(lab, "max1550"), "intel/plain:1", out)
    cfg = json.loads((out / "config.json").read_text())
    assert sorted(d["path"] for d in cfg["linux"]["devices"]) == sorted(
        [g2["card"], g2["render"]]), cfg["linux"]["devices"]
    assert any(m["destination"] == f"{LIB}/libze_intel_gpu.so.1.6.32224.5"
               for m in cfg["mounts"]), cfg["mounts"]
    hooks = [h["args"][2] for h in cfg["hooks"]["createContainer"]]
    assert hooks == ["create-symlinks", "update-ldcache"], hooks


def test_a_caller_who_cannot_open_the_render_node_is_told_before_launch(lab):
    # nobody without the render group: the node (mode 0660, gid RENDER_GID) is not openable
    binary = Path(str(lab.base) + "-bin") / "gantry"
    binary.parent.mkdir(mode=0o755, exist_ok=True)
    try:
        shutil.copy2(GANTRY, binary)
        os.chmod(binary, 0o755)
        store = lab.base / "nobody-store"
        store.mkdir(exist_ok=True)
        os.chown(store, NOBODY.pw_uid, NOBODY.pw_gid)
        nobody = Gantry(store, user=NOBODY, binary=binary)
        nobody.run("load", lab.archive)
        res = nobody.fail("run", "--rm", *roots(lab, "max1550"), "--gpus", "device=0",
                          "intel/plain:1", "true", code=125)
        assert "renderD128" in res.err and "cannot open it read-write" in res.err, res
        assert f"gid {ih.RENDER_GID}" in res.err, res
    finally:
        shutil.rmtree(binary.parent, ignore_errors=True)


def test_doctor_fatbin_lists_intel_device_images(lab):
    app = lab.base / "sycl_app.o"
    app.write_bytes(ob.sycl_app(["pvc", "spirv"]))
    out = lab.gan.run("doctor", "--fatbin", app).out
    assert "2 Intel GPU device images" in out, out
    rows = [line.split() for line in out.splitlines() if line.startswith("sycl")]
    assert [(r[2], r[3]) for r in rows] == [("pvc", "native"), ("spirv", "SPIR-V")], out
    doc = json.loads(lab.gan.run("doctor", "--fatbin", app, "--json").out)
    assert [i["target"] for i in doc["intel_device_images"]] == ["pvc", "spirv"], doc


def test_tailor_analyze_and_lint_read_intel_device_code(lab):
    # the device-code facet end to end: --keep-arch host names the host's Intel devices (pvc on
    # the Max 1550 host), tailor keeps a file with Intel device code whole and says so; analyze
    # counts its bytes per target; lint knows oneAPI's toolkit images and device selection
    r = lab.gan.run("tailor", "intel/jit:1", "-t", "intel/jit-tailored:1",
                    *roots(lab, "max1550"), "--json").json()
    t = r["tailor"]
    assert t["keep_arch"] == "pvc", t
    [f] = [f for f in t["files"] if f["path"] == "/opt/app/jit"]
    assert f["vendor"] == "intel" and f["outcome"] == "unchanged", f
    assert any("not rewritten" in w for w in f["left_alone"]), f
    assert f["arch_bytes"]["spirv"]["before"] == f["arch_bytes"]["spirv"]["after"] > 0, f
    assert f["arch_bytes"]["pvc"]["before"] == f["arch_bytes"]["pvc"]["after"] > 0, f
    # a linked program's descriptors are rewritten: acm-g10's AOT image leaves, pvc's and the
    # SPIR-V stay, and the tailored image's program reads back so
    r = lab.gan.run("tailor", "intel/linked-two:1", "-t", "intel/linked-two-tailored:1",
                    *roots(lab, "max1550"), "--json").json()
    [f] = [f for f in r["tailor"]["files"] if f["path"] == "/opt/app/linked_two"]
    assert f["vendor"] == "intel" and f["outcome"] == "changed", f
    assert "acm-g10" not in {a for a, b in f["arch_bytes"].items() if b["after"]}, f
    assert f["arch_bytes"]["pvc"]["after"] == 64, f
    f = findings(doctor(lab, "arc-xe", "intel/linked-two-tailored:1", check=False))
    assert f["INTEL-SPIRV-JIT"]["severity"] == "info", f
    assert f["INTEL-SPIRV-JIT"]["message"].endswith("its AOT code is for pvc"), f
    findings_ = {x["id"]: x for x in lab.gan.run("analyze", "intel/jit:1", "--json").json()
                 ["findings"]}
    found = findings_["INTEL-DEVICE-TARGETS"]
    assert "pvc" in json.dumps(found) and "spirv" in json.dumps(found), found
    df = lab.base / "Dockerfile.oneapi"
    df.write_text("FROM intel/oneapi-basekit:2024.2.0-1-devel-ubuntu22.04\n"
                  "ENV ZE_AFFINITY_MASK=0.0\nRUN make\n")
    res = lab.gan.run("lint", "--format", "json", df, check=False)
    codes = {f["code"]: f for f in json.loads(res.out)}
    assert "intel/oneapi-runtime:2024.2.0-1-devel-ubuntu22.04" in codes["GL001"]["message"] + \
        codes["GL001"].get("fix", ""), codes
    assert "ZE_AFFINITY_MASK=0.0" in codes["GL016"]["message"], codes


DEB12_OWN = ("libigdgmm.so.12", "libLLVM-14.so.1", "libLLVMSPIRVLib.so.14", "libopencl-clang.so.14",
             "libclang-cpp.so.14")
# what the container has of Debian 12's driver dependencies, and whether its linker cache names
# them (gantry's ldconfig run over the injected directories)
DEPS_PROBE = " ".join(
    f"[ -e {LIB}/{n} ] && echo has {n}; grep -q {n} /etc/ld.so.cache && echo cached {n};"
    for n in DEB12_OWN + ("libz.so.1", "libedit.so.2", "libze_loader.so.1"))


def test_debian12_drivers_own_dependencies_are_injected_and_cached(lab):
    res = lab.gan.run("run", "--rm", *roots(lab, "max1550", "debian12"), "--gpus", "device=0",
                      "intel/plain:1", "sh", "-c", DEPS_PROBE)
    lines = set(res.out.splitlines())
    for n in DEB12_OWN + ("libze_loader.so.1",):
        assert f"has {n}" in lines and f"cached {n}" in lines, (n, res)
    # general-purpose libraries the compiler needs are left to the image, never injected
    assert not any("libz.so.1" in x or "libedit.so.2" in x for x in lines), res
    # and the doctor says which of them the image lacks, and what needs them
    f = findings(lab.gan.run("doctor", "--gpu-vendor", "intel", *roots(lab, "max1550", "debian12"),
                             "--json", "intel/plain:1", check=False))
    assert f["INTEL-USER-SPACE"]["severity"] == "pass", f
    assert "libedit.so.2 (needed by libLLVM-14.so.1)" in f["INTEL-USER-SPACE"]["message"], f
    deps = f["INTEL-DRIVER-DEPS"]
    assert deps["severity"] == "warn", deps
    assert "libz.so.1 (needed by libigc.so.1)" in deps["message"], deps
    assert "libedit.so.2 (needed by libLLVM-14.so.1)" in deps["message"], deps
    f = findings(lab.gan.run("doctor", "--gpu-vendor", "intel", *roots(lab, "max1550", "debian12"),
                             "--json", "intel/loader:1", check=False))
    assert "INTEL-DRIVER-DEPS" not in f, f
    # the CDI spec mounts them too
    spec_dir = lab.base / "cdi-deb12"
    spec_dir.mkdir(exist_ok=True)
    lab.gan.run("cdi", "generate", "--vendor", "intel", *roots(lab, "max1550", "debian12"), "-o",
                spec_dir)
    spec = (spec_dir / "intel.yaml").read_text()
    for n in DEB12_OWN:
        assert f"{LIB}/{n}" in spec, (n, spec)
    assert "libz.so.1" not in spec and "libstdc++" not in spec, spec


def test_the_legacy1_build_is_injected(lab):
    probe = (f"cat /etc/OpenCL/vendors/intel_legacy1.icd; for f in {LIB}/libze_intel_gpu_legacy1.so.1 "
             f"{LIB}/intel-opencl/libigdrcl_legacy1.so {LIB}/libigdgmm.so.12 "
             f"{LIB}/libze_loader.so.1; do [ -e $f ] && echo lib $f; done; "
             "grep -q libze_intel_gpu_legacy1.so.1 /etc/ld.so.cache && echo cached")
    res = lab.gan.run("run", "--rm", *roots(lab, "max1550", "legacy1"), "--gpus", "device=0",
                      "intel/plain:1", "sh", "-c", probe)
    out = res.out.splitlines()
    assert out[0] == f"{LIB}/intel-opencl/libigdrcl_legacy1.so", res
    assert {f"lib {LIB}/libze_intel_gpu_legacy1.so.1", f"lib {LIB}/intel-opencl/libigdrcl_legacy1.so",
            f"lib {LIB}/libigdgmm.so.12", f"lib {LIB}/libze_loader.so.1", "cached"} <= set(out), res
    f = findings(lab.gan.run("doctor", "--gpu-vendor", "intel", *roots(lab, "max1550", "legacy1"),
                             "--json", check=False))
    assert f["INTEL-USER-SPACE"]["severity"] == "pass", f
    assert "intel_legacy1.icd" in f["INTEL-USER-SPACE"]["message"], f


def test_the_images_loader_against_a_host_driver_without_a_loader(lab):
    # a 2020 driver (20.35.17767) and no loader on the host: the image's loader 1.17.6 needs
    # 21.09.19150 (the loader's release notes)
    res = lab.gan.run("doctor", "--gpu-vendor", "intel", *roots(lab, "max1550", "old"), "--json",
                      "intel/loader:1", check=False)
    f = findings(res)
    rule = f["INTEL-LOADER-DRIVER"]
    assert rule["severity"] == "warn", rule
    for part in ("loader 1.17.6", f"{LIB}/libze_loader.so.1.17.6", "21.09.19150",
                 "1.3.17767", "libze_intel_gpu.so.1.3.17767"):
        assert part in rule["message"], (part, rule)
    assert "libze1" in rule["fix"] and "21.09.19150" in rule["fix"], rule
    # a run goes on with the warning
    res = lab.gan.run("run", "--rm", *roots(lab, "max1550", "old"), "--gpus", "device=0",
                      "intel/loader:1", "true")
    assert "21.09.19150" in res.err, res
    # Debian 12's driver (22.43.24595) is new enough; a host with its own loader: no rule
    f = findings(lab.gan.run("doctor", "--gpu-vendor", "intel",
                             *roots(lab, "max1550", "deb12-noloader"), "--json", "intel/loader:1",
                             check=False))
    assert f["INTEL-LOADER-DRIVER"]["severity"] == "pass", f
    f = findings(lab.gan.run("doctor", "--gpu-vendor", "intel", *roots(lab, "max1550", "debian12"),
                             "--json", "intel/loader:1", check=False))
    assert "INTEL-LOADER-DRIVER" not in f, f


def test_the_install_hint_names_debian12s_packages(lab):
    # the Debian 12 root without its loader: the hint is Debian's (no libze-intel-gpu1 there)
    f = findings(lab.gan.run("doctor", "--gpu-vendor", "intel",
                             *roots(lab, "max1550", "deb12-noloader"), "--json", check=False))
    us = f["INTEL-USER-SPACE"]
    assert us["severity"] == "warn" and "libze_loader.so.1" in us["message"], us
    assert "Debian 12's packages: libze1 intel-opencl-icd" in us["fix"], us
    # elsewhere both Debian 12's and Intel's names
    f = findings(doctor(lab, "unknown", check=False))
    assert "libze-intel-gpu1" in f["INTEL-USER-SPACE"]["fix"], f
    assert "Debian 12: libze1 intel-opencl-icd" in f["INTEL-USER-SPACE"]["fix"], f
