"""gantry analyze: per-layer table, dive's metrics (checked against numbers computed by hand
here), findings that fire on samples and stay quiet on near misses, JSON, the HTML report
rendered by headless Chromium, and the --ci gate with flags and a .dive-ci file."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import need_nvcc, need_tool


def load(g, mk, tmp_path, image, tag):
    path = tmp_path / (tag.replace(":", "_").replace("/", "_") + ".tar")
    mk.write_docker_archive(path, [(image, [tag])], layer_compression="layer")
    g.run("load", path)
    return tag


def analyze(g, ref, *args, code=0):
    res = g.run("analyze", ref, "--json", *args, check=False)
    assert res.code == code, res
    return res.json()


def by_id(report):
    return {f["id"]: f for f in report["findings"]}


def dive_image(mk):
    """Layers whose dive numbers are computed by hand in test_dive_metrics_hand_computed."""
    E = mk.Entry
    l0 = mk.Layer([E.dir("etc"), E.file("etc/passwd", b"p" * 50), E.dir("bin"),
                   E.file("bin/sh", b"s" * 1000)])
    l1 = mk.Layer([E.dir("etc"), E.file("etc/passwd", b"q" * 60), E.dir("tmp"),
                   E.file("tmp/big", b"b" * 500), E.dir("opt"), E.file("opt/x", b"x" * 30)])
    l2 = mk.Layer([E.dir("tmp"), E.whiteout("tmp/big"), E.whiteout("opt"), E.dir("bin"),
                   E.file("bin/sh", b"s" * 1000)], compression="zstd")
    return mk.Image([l0, l1, l2], history=["ADD base /", {"created_by": "ENV A=1", "empty_layer": True},
                                           "RUN make", "RUN rm -rf /tmp/big /opt"])


def test_dive_metrics_hand_computed(g, mk, tmp_path):
    ref = load(g, mk, tmp_path, dive_image(mk), "dive/case:1")
    r = analyze(g, ref)
    # Leaf paths per layer (directories with children are not leaves):
    #   layer 1: /etc/passwd 50, /bin/sh 1000                  -> layer size 1050
    #   layer 2: /etc/passwd 60, /tmp/big 500, /opt/x 30       -> 590
    #   layer 3: /tmp/big whiteout (a file below: 0), /opt whiteout (a directory below: 30),
    #            /bin/sh 1000                                  -> 1000
    # min per path: 50 + 1000 + 0 + 30 + 30 = 1110; cumulative: 110 + 2000 + 500 + 30 + 30 = 2670
    d = r["dive"]
    assert d["efficiency"] == pytest.approx(1110 / 2670, abs=1e-12)
    assert d["wasted_bytes"] == 110 + 2000 + 500
    assert d["size_bytes"] == 2640
    assert d["user_size_bytes"] == 1590
    assert d["user_wasted_percent"] == pytest.approx(2610 / 1590, abs=1e-12)
    paths = {x["path"]: x for x in d["inefficiencies"]}
    assert set(paths) == {"/bin/sh", "/tmp/big", "/etc/passwd"}
    assert paths["/bin/sh"]["cumulative_size"] == 2000 and paths["/bin/sh"]["count"] == 2
    # per layer: sizes, files and history (the empty_layer ENV entry is skipped)
    ls = r["layers"]
    assert [l["size"] for l in ls] == [1050, 590, 1000]
    assert [l["files"] for l in ls] == [2, 3, 1]
    assert [l["created_by"] for l in ls] == ["ADD base /", "RUN make", "RUN rm -rf /tmp/big /opt"]
    assert all(l["compressed_size"] > 0 and l["uncompressed_size"] >= l["size"] for l in ls)
    # the merged view: passwd 60 + sh 1000
    assert r["final_size"] == 1060 and r["final_files"] == 2
    f = by_id(r)
    assert f["LAYER-DELETED"]["bytes"] == 500 + 30
    assert f["LAYER-OVERWRITTEN"]["bytes"] == 50 + 1000


def test_table_output(g, mk, tmp_path):
    ref = load(g, mk, tmp_path, dive_image(mk), "dive/case:1")
    out = g.run("analyze", ref).out
    assert re.search(r"^LAYER\s+COMPRESSED\s+UNCOMPRESSED\s+FILES\s+CREATED BY", out, re.M), out
    assert "RUN rm -rf /tmp/big /opt" in out
    assert "Efficiency score: 41.5730 %" in out  # 1110 / 2670
    assert "LAYER-DELETED" in out and "fix:" in out


SP = "usr/local/lib/python3.11/site-packages"


def findings_image(mk, near_miss=False):
    E = mk.Entry
    if not near_miss:
        files = {
            "usr/local/cuda/bin/nvcc": b"\x7fELF" + b"n" * 4000,
            "usr/local/cuda/include/cuda_runtime.h": b"h" * 3000,
            "usr/local/cuda/lib64/libcudart_static.a": b"a" * 5000,
            "var/lib/apt/lists/deb_Packages": b"l" * 6000,
            "root/.cache/pip/http/x": b"p" * 7000,
            "opt/conda/pkgs/numpy-2/info.json": b"c" * 8000,
            f"{SP}/demo/__pycache__/m.cpython-311.pyc": b"y" * 900,
            f"{SP}/demo/tests/test_m.py": b"t" * 1100,
            "usr/share/doc/demo/README": b"d" * 1200,
            "root/.cache/huggingface/hub/model.safetensors": b"m" * 1300,
            "data/big.bin": b"B" * 2_000_000,
            "lib/one.so": b"D" * 70_000,
            "lib/two.so": b"D" * 70_000,
        }
        env = ["NVIDIA_DRIVER_CAPABILITIES=all"]
        labels = {"org.opencontainers.image.base.name": "docker.io/library/debian:latest"}
    else:
        files = {
            "usr/local/bin/nvcc-wrapper.sh": b"n" * 4000,
            "opt/app/config.h": b"h" * 3000,
            "usr/local/cuda/lib64/libcudart.so.13": b"a" * 5000,
            "var/lib/apt/lists/lock": b"",
            "var/lib/apt/extended_states": b"l" * 6000,
            "root/.cache/pipx/x": b"p" * 7000,
            "opt/conda/lib/libz.so": b"c" * 8000,
            f"{SP}/demo/pycache_util.py": b"y" * 900,
            f"{SP}/demo/tests.py": b"t" * 1100,
            "usr/share/doc/demo/copyright": b"d" * 1200,
            "root/.cache/hugging/x": b"m" * 1300,
            "data/big.bin": b"B" * 1_999_999,
            "lib/one.so": b"D" * 70_000,
            "lib/two.so": b"E" * 70_000,
        }
        env = ["NVIDIA_DRIVER_CAPABILITIES=compute,utility"]
        labels = {"org.opencontainers.image.base.name": "docker.io/library/debian:12.7",
                  "org.opencontainers.image.base.digest": "sha256:" + "0" * 64}
    env = list(mk.DEFAULT_ENV) + env
    return mk.Image([mk.Layer.from_files(files)], env=env, labels=labels)


EXPECTED = {
    "DEVEL-TOOLCHAIN": 4004, "DEVEL-HEADERS": 3000, "DEVEL-STATIC-LIBS": 5000, "APT-LISTS": 6000,
    "PIP-CACHE": 7000, "CONDA-CACHE": 8000, "PYCACHE": 900, "SITE-PACKAGES-EXTRAS": 1100,
    "DOCS": 1200, "MODEL-CACHE": 1300, "LARGE-FILE": 2_000_000, "DUPLICATE-FILES": 70_000,
    "NVIDIA-CAPS-ALL": 0, "BASE-LATEST": 0,
}


def test_each_finding_fires_and_near_misses_do_not(g, mk, tmp_path):
    ref = load(g, mk, tmp_path, findings_image(mk), "find/yes:1")
    f = by_id(analyze(g, ref, "--large-file", "2MB"))
    for fid, size in EXPECTED.items():
        assert fid in f, (fid, sorted(f))
        assert f[fid]["bytes"] == size, (fid, f[fid])
    assert f["DUPLICATE-FILES"]["details"]["groups"][0]["paths"] == ["lib/one.so", "lib/two.so"]
    assert f["DEVEL-TOOLCHAIN"]["paths"][0]["path"] == "usr/local/cuda/bin/nvcc"
    ref = load(g, mk, tmp_path, findings_image(mk, near_miss=True), "find/no:1")
    f = by_id(analyze(g, ref, "--large-file", "2MB"))
    assert not set(EXPECTED) & set(f), sorted(f)


def test_ci_gate_flags_and_config(g, mk, tmp_path):
    ref = load(g, mk, tmp_path, dive_image(mk), "dive/case:1")
    # dive's defaults: efficiency 0.4157 < 0.9 fails
    res = g.run("analyze", ref, "--ci", check=False)
    assert res.code == 10, res
    assert "FAIL: lowestEfficiency" in res.out and "Result: FAIL" in res.out
    res = g.run("analyze", ref, "--ci", "--lowest-efficiency", "0.4",
                "--highest-user-wasted-percent", "disabled", check=False)
    assert res.code == 0, res
    assert "PASS: lowestEfficiency" in res.out and "SKIP: highestUserWastedPercent" in res.out
    cfg = tmp_path / "dive-ci.yaml"
    cfg.write_text("rules:\n  lowestEfficiency: 0.4\n  highestWastedBytes: 2KB\n"
                   "  highestUserWastedPercent: 2\n")
    res = g.run("analyze", ref, "--ci-config", cfg, check=False)  # 2 is not a ratio
    assert res.code == 2 and "outside [0, 1]" in res.err, res
    cfg.write_text("rules:\n  lowestEfficiency: 0.4\n  highestWastedBytes: 2KB\n"
                   "  highest-user-wasted-percent: disabled\n")
    res = g.run("analyze", ref, "--json", "--ci-config", cfg, check=False)
    assert res.code == 10, res  # wasted 2610 B > 2 kB
    ci = res.json()["ci"]
    assert not ci["pass"] and any(l.startswith("FAIL: highestWastedBytes") for l in ci["results"])
    cfg.write_text("rules:\n  lowestEfficiency: 0.4\n  highestWastedBytes: 3KB\n"
                   "  highest-user-wasted-percent: disabled\n")
    assert g.run("analyze", ref, "--ci-config", cfg, check=False).code == 0


def test_errors(g, mk, tmp_path):
    res = g.fail("analyze", "no/such:image", code=3)
    assert "no/such" in res.err
    ref = load(g, mk, tmp_path, dive_image(mk), "dive/case:1")
    res = g.fail("analyze", ref, "--highest-wasted-bytes", "lots", code=2)
    assert "--highest-wasted-bytes" in res.err and "hint:" in res.err


def test_fatbin_and_unstripped_elf(g, mk, tmp_path_factory, tmp_path):
    need_nvcc()
    from fixtures import devel_image as dv
    app = dv.build_app(tmp_path_factory.mktemp("app"))
    img = mk.Image([mk.Layer([mk.Entry.file("app/devel-app", app.read_bytes(), mode=0o755)])])
    ref = load(g, mk, tmp_path, img, "fat/app:1")
    f = by_id(analyze(g, ref))
    fat = f["FATBIN-ARCHES"]
    per = fat["details"]["bytes_per_arch"]
    assert {"sm_75", "sm_80", "sm_90", "compute_90"} <= set(per), per
    assert fat["bytes"] == fat["details"]["total"] - per["sm_90"]
    assert "keeping only sm_90 saves" in fat["message"]
    assert f["UNSTRIPPED-ELF"]["bytes"] > 0 and f["UNSTRIPPED-ELF"]["count"] == 1


def test_html_report_renders_in_chromium(g, mk, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        need_tool("chromium")
    ref = load(g, mk, tmp_path, dive_image(mk), "dive/case:1")
    page = tmp_path / "report.html"
    g.run("analyze", ref, "--html", page)
    html = page.read_text()
    assert "<script src" not in html and "http://" not in html and "https://" not in html
    prof = tmp_path / "chrome-profile"
    base = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={prof}", "--window-size=1200,1400"]
    dom = subprocess.run(base + ["--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    # what the script built: treemap nodes for the three layers, findings rows, layer rows
    nodes = re.findall(r'<div class="tm-node" data-path="([^"]*)" data-size="(\d+)"', dom)
    assert len(nodes) == 3, dom[:3000]
    assert sorted(int(s) for _, s in nodes) == sorted([1050, 590, 1000])
    assert any(p.startswith("layer 2: RUN make") for p, _ in nodes), nodes
    assert 'data-id="LAYER-DELETED"' in dom and 'data-id="LAYER-OVERWRITTEN"' in dom
    assert "RUN rm -rf /tmp/big /opt" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(base + ["--virtual-time-budget=3000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to ~5 kB
