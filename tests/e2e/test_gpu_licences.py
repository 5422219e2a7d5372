"""Which GPU vendor files an image carries and under which licence (issue 43): gantry analyze's
per-layer inventory and licence findings on images made from real files (this machine's CUDA 13
toolkit and its wheels' dist-info with their licence texts, cuDNN, Debian 12's ROCm HIP runtime
with its dpkg stanza and copyright file, the simulated GPU host's driver libraries, a vendor file
deleted in a later layer), no GPU finding on busybox, a Debian base and a pure-Python image,
hostile metadata and licence files, `push --licence-check` against a real docker-registry
(refuse pushes nothing), and lint's GL018 on COPY --from of toolkit files."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTS, Gantry, need_nvcc, need_tool

CUDA = Path("/usr/local/cuda-13.0")
GPU_IDS = {"CUDA-NOT-IN-ATTACHMENT-A", "CUDNN-NOT-LISTED", "GPU-DRIVER-IN-IMAGE",
           "VENDOR-FILE-IN-LOWER-LAYER", "NGC-CONTAINER-LICENSE"}


def load(g, mk, tmp_path, image, tag):
    path = tmp_path / (tag.replace(":", "_").replace("/", "_") + ".tar")
    mk.write_docker_archive(path, [(image, [tag])], layer_compression="layer")
    g.run("load", path)
    return tag


def analyze(g, ref):
    res = g.run("analyze", ref, "--json", check=False)
    assert res.code == 0, res
    return res.json()


def by_id(report):
    return {f["id"]: f for f in report["findings"]}


def comps(report):
    return {(c["layer"], c["component"]): c for c in report["gpu_components"]["components"]}


def real(mk, rel, src):
    return mk.Entry.file(rel, Path(src).read_bytes(), mode=0o755)


def dist_info(mk, prefix, name):
    """A wheel's dist-info as installed on this machine (METADATA and its licence file)."""
    d = CUDA / "dist-info" / name
    return [real(mk, f"{prefix}/{name}/METADATA", d / "METADATA"),
            real(mk, f"{prefix}/{name}/licenses/License.txt", d / "licenses" / "License.txt")]


def cuda_dist(name):
    hits = sorted((CUDA / "dist-info").glob(name + "-*.dist-info"))
    if not hits:
        pytest.skip(f"{name} wheel metadata is not on this machine ({CUDA}/dist-info)")
    return hits[0].name


def version_of(dist_info):
    """nvidia_cudnn_cu13-9.19.0.56.dist-info -> 9.19.0.56"""
    return dist_info.split("-", 1)[1].removesuffix(".dist-info")


@pytest.fixture(scope="module")
def cuda_files():
    need_nvcc()
    for f in ("lib/libcudart.so.13", "bin/fatbinary", "include/cuda_runtime.h",
              "include/cuda_fp16.h"):
        if not (CUDA / f).exists():
            pytest.skip(f"{CUDA / f} is not on this machine")
    return CUDA


def test_cuda_toolkit_wheels_and_cudnn(g, mk, tmp_path, cuda_files):
    E = mk.Entry
    rt, cudnn, nccl = cuda_dist("nvidia_cuda_runtime"), cuda_dist("nvidia_cudnn_cu13"), \
        cuda_dist("nvidia_nccl_cu13")
    site = "usr/local/lib/python3.11/dist-packages"
    files = [real(mk, "usr/local/cuda-13.0/lib/libcudart.so.13", CUDA / "lib/libcudart.so.13"),
             real(mk, "usr/local/cuda-13.0/bin/fatbinary", CUDA / "bin/fatbinary"),
             real(mk, "usr/local/cuda-13.0/include/cuda_runtime.h",
                  CUDA / "include/cuda_runtime.h"),
             real(mk, "usr/local/cuda-13.0/include/cuda_fp16.h", CUDA / "include/cuda_fp16.h"),
             E.symlink("usr/local/cuda", "cuda-13.0")]
    files += dist_info(mk, site, rt) + dist_info(mk, site, nccl)
    layers = [mk.Layer(files, compression="none", created_by="COPY cuda-13.0")]
    if (CUDA / "lib/libcudnn.so.9").exists():
        layers.append(mk.Layer([real(mk, f"{site}/nvidia/cudnn/lib/libcudnn.so.9",
                                     CUDA / "lib/libcudnn.so.9")] + dist_info(mk, site, cudnn),
                               compression="none", created_by="pip install nvidia-cudnn-cu13"))
    ref = load(g, mk, tmp_path, mk.Image(layers), "lic/cuda:13")
    r = analyze(g, ref)
    c = comps(r)
    run = c[(1, "cuda-runtime")]
    # the licence comes from the wheel's own License.txt, which is the 2018 EULA text
    assert run["licence"] == "cuda-eula", run
    assert run["licence_from"].endswith(rt + "/licenses/License.txt"), run
    assert run["list"] == "cuda-eula-2018-08" and run["listed"] is True, run
    # the SONAME's major from the file name, the wheel's version from its METADATA
    assert run["versions"] == ["13", version_of(rt)], run
    assert set(run["recognised_by"]) >= {"file name", "pip"}, run
    assert run["source"].startswith("cuda-eula-2018 §2.6 'CUDA Runtime'"), run
    assert "August 16, 2018" in run["source_document"], run
    tools = c[(1, "cuda-tools")]
    assert tools["listed"] is False and tools["recognised_by"] == ["file name"], tools
    # cuda_fp16.h is in both Attachment A versions; cuda_runtime.h is in neither
    assert c[(1, "fp16-headers")]["listed"] is True
    assert c[(1, "cuda-toolkit-other")]["listed"] is False
    f = by_id(r)
    na = f["CUDA-NOT-IN-ATTACHMENT-A"]
    paths = {p["path"] for p in na["paths"]}
    assert paths == {"usr/local/cuda-13.0/bin/fatbinary",
                     "usr/local/cuda-13.0/include/cuda_runtime.h"}, na
    assert na["severity"] == "warn" and na["count"] == 2
    assert na["details"]["list"] == "cuda-eula-2018-08"
    assert "August 16, 2018" in na["message"] and rt in na["message"], na["message"]
    lics = {Path(x["path"]).parent.parent.name: x for x in r["gpu_components"]["licence_files"]}
    assert lics[nccl]["licence"] == "BSD-3-Clause" and lics[nccl]["open_source"] is True
    if len(layers) == 2:
        dnn = c[(2, "cudnn")]
        assert dnn["licence"] == "cudnn-sla" and dnn["listed"] is True, dnn
        assert dnn["licence_from"].endswith(cudnn + "/licenses/License.txt")
        assert dnn["versions"] == ["9", version_of(cudnn)], dnn
    assert GPU_IDS & set(f) == {"CUDA-NOT-IN-ATTACHMENT-A"}, sorted(f)
    # the text rendering names the components and the list; the HTML carries the table
    out = g.run("analyze", ref, "--html", tmp_path / "r.html").out
    assert "GPU vendor components" in out and "CUDA Runtime" in out
    assert "LISTED: whether cuda-eula-2018-08 names the files" in out
    html = (tmp_path / "r.html").read_text()
    assert 'id="gpu"' in html and '"component":"cuda-runtime"' in html


def test_rocm_from_debian_packages(g, mk, tmp_path):
    lib = Path("/usr/lib/x86_64-linux-gnu/libamdhip64.so.5")
    if not lib.exists():
        need_tool("libamdhip64.so.5 (apt-get install libamdhip64-5)")
    status = subprocess.run(["dpkg", "-s", "libamdhip64-5"], capture_output=True, text=True,
                            check=True).stdout
    real_lib = lib.resolve()
    E = mk.Entry
    files = [E.file("usr/lib/x86_64-linux-gnu/" + real_lib.name, real_lib.read_bytes()),
             E.symlink("usr/lib/x86_64-linux-gnu/libamdhip64.so.5", real_lib.name),
             E.file("usr/share/doc/libamdhip64-5/copyright",
                    Path("/usr/share/doc/libamdhip64-5/copyright").read_bytes()),
             E.file("var/lib/dpkg/status", "Package: base-files\nStatus: install ok installed\n"
                    "Version: 12.4\n\n" + status)]
    ref = load(g, mk, tmp_path, mk.Image([mk.Layer(files, compression="none")]), "lic/rocm:1")
    r = analyze(g, ref)
    hip = comps(r)[(1, "hip-runtime")]
    assert hip["vendor"] == "amd" and hip["licence"] == "Expat", hip
    assert hip["licence_from"] == "/usr/share/doc/libamdhip64-5/copyright"
    assert hip["open_source"] is True
    assert "dpkg" in hip["recognised_by"] and "5.2.3-8" in hip["versions"], hip
    pk = r["gpu_components"]["packages"]
    assert [(p["manager"], p["name"]) for p in pk] == [("dpkg", "libamdhip64-5")], pk
    assert not GPU_IDS & set(by_id(r))


def test_driver_root_in_image(g, mk, tmp_path):
    sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
    import gpuhost
    need_tool("cc")
    host = gpuhost.build_host(tmp_path / "host", gpuhost.preset(1), devices="files")
    E = mk.Entry
    files = [E.file(str(p.relative_to(host.driver_root)), p.read_bytes())
             for p in sorted(host.lib_dir.iterdir()) if p.is_file() and not p.is_symlink()]
    assert any("libcuda.so." in e.name for e in files)
    ref = load(g, mk, tmp_path, mk.Image([mk.Layer(files, compression="none")]), "lic/drv:1")
    r = analyze(g, ref)
    d = by_id(r)["GPU-DRIVER-IN-IMAGE"]
    assert d["count"] == len([e for e in files if "nvidia" in e.name or "libcuda" in e.name])
    assert any("libcuda.so.580.95.05" in p["path"] for p in d["paths"]), d
    assert "License For Customer Use of NVIDIA Software" in d["message"]
    c = comps(r)
    assert c[(1, "driver-cuda")]["versions"] == ["580.95.05"], c[(1, "driver-cuda")]


def test_vendor_file_deleted_in_a_later_layer(g, mk, tmp_path, cuda_files):
    E = mk.Entry
    l1 = mk.Layer([real(mk, "usr/local/cuda/bin/fatbinary", CUDA / "bin/fatbinary"),
                   real(mk, "usr/local/cuda/lib64/libcudart.so.13", CUDA / "lib/libcudart.so.13")],
                  compression="none")
    l2 = mk.Layer([E.dir("usr/local/cuda/bin"), E.whiteout("usr/local/cuda/bin/fatbinary")],
                  compression="none")
    ref = load(g, mk, tmp_path, mk.Image([l1, l2]), "lic/deleted:1")
    r = analyze(g, ref)
    f = by_id(r)
    low = f["VENDOR-FILE-IN-LOWER-LAYER"]
    assert [p["path"] for p in low["paths"]] == ["usr/local/cuda/bin/fatbinary"], low
    assert low["details"]["layers"] == [1]
    assert low["bytes"] == (CUDA / "bin/fatbinary").stat().st_size
    # gone from the final view: not reported as a file the final image carries
    assert "CUDA-NOT-IN-ATTACHMENT-A" not in f
    assert comps(r)[(1, "cuda-tools")]["final_files"] == 0


def python_image(mk):
    site = "usr/lib/python3/dist-packages"
    E = mk.Entry
    return mk.Layer([E.file(f"{site}/requests/__init__.py", "x = 1\n"),
                     E.file(f"{site}/requests-2.28.1.dist-info/METADATA",
                            "Name: requests\nVersion: 2.28.1\nLicense: Apache 2.0\n"),
                     E.file(f"{site}/requests-2.28.1.dist-info/LICENSE", "Apache License\n"
                            "Version 2.0\n"),
                     E.file("usr/share/doc/python3/copyright", "Format: x\n\nFiles: *\n"
                            "License: PSF-2.0\n"),
                     E.file("var/lib/dpkg/status", "Package: python3\nStatus: install ok "
                            "installed\nVersion: 3.11.2-1\n")], compression="none")


def test_no_gpu_findings_on_plain_images(g, mk, tmp_path):
    from fixtures import debian_base
    plain = {"busybox": mk.busybox_image(), "python": mk.Image([mk.busybox_layer("none"),
                                                                python_image(mk)])}
    for name, img in plain.items():
        r = analyze(g, load(g, mk, tmp_path, img, f"plain/{name}:1"))
        assert r["gpu_components"]["components"] == [], name
        assert r["gpu_components"]["licence_files"] == [], name
        assert not GPU_IDS & set(by_id(r)), (name, sorted(by_id(r)))
        assert "GPU vendor components" not in g.run("analyze", f"plain/{name}:1").out
    if not debian_base.CACHE.joinpath("debian-bookworm.tar").exists():
        need_tool("debootstrap")
    g.run("load", debian_base.debian_archive())
    r = analyze(g, debian_base.BASE)
    assert r["gpu_components"]["components"] == [] and not GPU_IDS & set(by_id(r))


def test_hostile_metadata_and_licence_files(g, mk, tmp_path):
    E = mk.Entry
    site = "usr/lib/python3/dist-packages"
    huge_licence = b"CUDA Toolkit Supplement to Software License Agreement\n" + \
        b"\xff\x00garbage " * 400_000  # 3.6 MB: only its first MiB is read
    files = [E.file("NGC-DL-CONTAINER-LICENSE", b"\x00\x01" * 2_000_000),
             E.file("usr/local/cuda/EULA.txt", huge_licence),
             E.file(f"{site}/nvidia_cublas-1.dist-info/METADATA", b"\x00\xff\n:\n \n" * 50_000),
             E.file(f"{site}/nvidia_cufft-2.dist-info/METADATA",
                    b"Name: nvidia-cufft\nVersion: " + b"9" * 3_000_000 + b"\n"),
             E.file(f"{site}/nvidia_curand-3.dist-info/licenses/License.txt", b""),
             E.file("usr/share/doc/libcuda1/copyright", b"Format: x\nFiles: *\nLicense:\n"),
             E.file("var/lib/dpkg/status", b"Package: libcuda1\nStatus: install ok installed\n"
                    b"Version: " + b"1" * 2_000_000 + b"\n\n" + b"Package:\n\n" * 100_000 +
                    b" continuation of nothing\n"),
             E.file("usr/local/cuda/lib64/libcudart.so.13", b"\x7fELF" + b"\x00" * 100)]
    ref = load(g, mk, tmp_path, mk.Image([mk.Layer(files, compression="none")]), "lic/bad:1")
    r = analyze(g, ref)
    lf = {x["path"]: x for x in r["gpu_components"]["licence_files"]}
    assert lf["/usr/local/cuda/EULA.txt"]["cut"] is True
    assert lf["/usr/local/cuda/EULA.txt"]["licence"] == "cuda-eula"
    assert lf["/NGC-DL-CONTAINER-LICENSE"]["licence"] == "ngc-dl-container"
    f = by_id(r)
    assert f["NGC-CONTAINER-LICENSE"]["severity"] == "info"
    # the EULA text carries no known list's markers: the newest list of the table applies
    run = comps(r)[(1, "cuda-runtime")]
    assert run["list"] == "cuda-eula-2026-01" and run["listed"] is True, run
    assert r["gpu_components"]["lists"]["cuda-eula"]["from"] == "table: newest"
    pk = {p["name"]: p for p in r["gpu_components"]["packages"]}
    assert pk["nvidia-cufft"]["version"] == ""  # 256 KiB of nines is no version
    assert pk["libcuda1"]["version"] == ""
    # licence texts are not components: the EULA itself is not "a file Attachment A omits"
    assert "CUDA-NOT-IN-ATTACHMENT-A" not in f, f.get("CUDA-NOT-IN-ATTACHMENT-A")


@pytest.fixture
def registry(tmp_path):
    for t in ("docker-registry",):
        need_tool(t)
    from fixtures.registry.harness import Registry
    r = Registry(tmp_path / "reg").start()
    yield r
    r.stop()


def test_push_licence_check(tmp_path, mk, gantry_bin, registry):
    home = tmp_path / "home"
    (home / ".config" / "gantry").mkdir(parents=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    g = Gantry(tmp_path / "store", env=env)
    E = mk.Entry
    drv = mk.Layer([E.file("usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05", b"\x7fELF" + b"d" * 99),
                    E.file("NGC-DL-CONTAINER-LICENSE", "NVIDIA DEEP LEARNING CONTAINER LICENSE\n")],
                   compression="none")
    ref = load(g, mk, tmp_path, mk.Image([mk.busybox_layer("none"), drv]), "localhost/lic:1")
    dest = f"{registry.addr}/lic/app:1"

    def pushed():
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://{registry.addr}/v2/lic/app/manifests/1"],
                           capture_output=True, text=True)
        return r.stdout == "200"

    r = g.run("push", "--tls-verify=false", "--licence-check", "refuse", ref, dest, check=False)
    assert r.code == 11, r
    assert "refused by the licence check" in r.err and "GPU-DRIVER-IN-IMAGE" in r.err, r.err
    assert "gantry analyze localhost/lic:1" in r.err
    assert not pushed()
    # the config file's key, per registry: refuse here, warn elsewhere
    cfg = home / ".config" / "gantry" / "config.yaml"
    cfg.write_text(f"licence_check:\n  default: warn\n  registries:\n    {registry.addr}: refuse\n")
    r = g.run("push", "--tls-verify=false", ref, dest, check=False)
    assert r.code == 11 and not pushed(), r
    # the flag wins over the file; warn prints one line and pushes
    r = g.run("push", "--tls-verify=false", "--licence-check", "warn", ref, dest)
    line = [x for x in r.err.splitlines() if x.startswith("GPU vendor files:")]
    assert len(line) == 1, r.err
    assert "GPU-DRIVER-IN-IMAGE (1)" in line[0] and "NGC" not in line[0], line
    assert line[0].endswith("details: gantry analyze localhost/lic:1")
    assert pushed()
    # the NGC licence counts where the registry is public (here: the config says it is)
    cfg.write_text(f"licence_check:\n  public: ['{registry.addr}']\n")
    r = g.run("push", "--tls-verify=false", ref, dest)
    assert "NGC-CONTAINER-LICENSE" in r.err, r.err
    # off: no analysis, no line
    r = g.run("push", "--tls-verify=false", "--licence-check", "off", ref, dest)
    assert "GPU vendor files" not in r.err
    # a bad mode or key is an error naming it, before anything is pushed
    r = g.run("push", "--licence-check", "maybe", ref, dest, check=False)
    assert r.code == 2 and "--licence-check \"maybe\"" in r.err, r
    cfg.write_text("licence_check:\n  registrys: {x: refuse}\n")
    r = g.run("push", ref, dest, check=False)
    assert r.code == 4 and "registrys" in r.err and "line 2" in r.err, r


DOCKERFILE = """FROM debian:12 AS devel
RUN echo build
FROM debian:12 AS unused
COPY --from=devel /usr/local/cuda/bin/nvcc /usr/bin/nvcc
FROM debian:12
COPY --from=devel /usr/local/cuda/lib64/libcudart.so.13 /usr/lib/
COPY --from=devel /usr/local/cuda /usr/local/cuda
COPY --from=devel ["/usr/local/cuda-13.0/include/cuda_fp16.h", "/usr/include/"]
COPY --from=devel /usr/local/cuda-13.0/bin/ /opt/bin/
COPY --from=devel /app/build /app
COPY usr/local/cuda/bin/nvcc /usr/bin/
"""


def test_lint_gl018(g, tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_text(DOCKERFILE)
    r = g.run("lint", "--format", "json", df, check=False)
    found = [f for f in json.loads(r.out) if f["code"] == "GL018"]
    assert [f["line"] for f in found] == [7, 9], found
    assert "Attachment A" in found[0]["message"] and "COPY --from=devel /usr/local/cuda" in \
        found[0]["message"]
    # the clause and the example are the licence's row in NVIDIA's component table
    assert "§1.1.2(iv)" in found[0]["message"], found[0]
    assert "COPY --from=devel /usr/local/cuda/lib64/libcudart.so.*" in json.dumps(found[0]), found[0]


def test_html_section_renders_in_chromium(g, mk, tmp_path, cuda_files):
    import shutil
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        need_tool("chromium")
    E = mk.Entry
    # a wheel's library as auditwheel renames it (torch.libs/libcudart-<8 hex>.so.13)
    lib = (CUDA / "lib/libcudart.so.13").read_bytes()
    img = mk.Image([mk.Layer([E.file("usr/lib/python3/dist-packages/torch.libs/"
                                     "libcudart-9f1e2d3c.so.13", lib)], compression="none")])
    ref = load(g, mk, tmp_path, img, "lic/html:1")
    r = analyze(g, ref)
    run = comps(r)[(1, "cuda-runtime")]
    assert run["recognised_by"] == ["file name"] and run["versions"] == ["13"], run
    page = tmp_path / "r.html"
    g.run("analyze", ref, "--html", page)
    dom = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", f"--user-data-dir={tmp_path / 'prof'}",
                          "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'class="gpu-component" data-id="cuda-runtime"' in dom, dom[-3000:]
    assert "NVIDIA CUDA Toolkit End User License Agreement (table)" in dom
