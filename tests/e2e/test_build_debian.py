"""gantry build on a real Debian 12 base made with debootstrap (tests/fixtures/debian_base.py):
`apt-get install` in RUN as root and rootless (fake-root mode, one mapped id), and a multi-stage
CUDA build that compiles a kernel with the real nvcc in a devel stage, copies only the binary
into a runtime stage, compiles for exactly the --gpu-arch asked (or the simulated host's GPU with
--gpu-arch host), and runs on a simulated GPU host with the driver injected."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTS, Gantry, need_tool
from fixtures import debian_base as deb

sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import gpuhost as gh  # noqa: E402

NVCC = Path("/usr/local/cuda/bin/nvcc")

APT = """\
FROM debian-base:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends jq \\
    && rm -rf /var/lib/apt/lists/*
RUN useradd -m builder && chown builder /home/builder && jq --version > /jq-version
"""

KERNEL = r"""
#include <cstdio>
#include <cuda_runtime.h>
__global__ void twice(float* x) { x[threadIdx.x] *= 2.0f; }
int main() {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    std::printf("kernel-app: cudaGetDeviceCount -> %s, %d device(s)\n", cudaGetErrorName(e), n);
    return 0;
}
"""

CUDA = """\
FROM cuda-devel:13 AS devel
ARG CMAKE_CUDA_ARCHITECTURES=75
COPY kernel.cu /src/kernel.cu
RUN mkdir /out && flags="" \\
    && for a in $(echo "$CMAKE_CUDA_ARCHITECTURES" | tr ';' ' '); do \\
         flags="$flags -gencode arch=compute_$a,code=sm_$a"; done \\
    && nvcc $flags -o /out/kernel-app /src/kernel.cu

FROM debian-base:bookworm
COPY --from=devel /out/kernel-app /usr/local/bin/kernel-app
CMD ["kernel-app"]
"""


@pytest.fixture(scope="module")
def debian():
    need_tool("debootstrap")
    return deb.debian_archive()


def context(where: Path, files: dict, owner=None) -> Path:
    ctx = where / "ctx"
    ctx.mkdir()
    for name, text in files.items():
        (ctx / name).write_text(text)
        os.chmod(ctx / name, 0o644)
    os.chmod(ctx, 0o755)
    if owner is not None:
        os.chown(ctx, owner, owner)
    return ctx


def test_apt_get_install_as_root(g, debian, tmp_path):
    g.run("load", debian)
    r = g.run("build", "-t", "apt:root", context(tmp_path, {"Dockerfile": APT}), timeout=900)
    assert "RUN steps ran as root" in r.err
    assert g.run("run", "--rm", "apt:root", "cat", "/jq-version").out.startswith("jq-1.6")
    st = g.run("run", "--rm", "apt:root", "stat", "-c", "%U", "/home/builder").out.strip()
    assert st == "builder"  # a real chown, kept in the layer


def test_apt_get_install_rootless_in_fake_root_mode(rootless, debian):
    g = rootless
    g.run("load", debian)
    ctx = context(Path(g.base), {"Dockerfile": APT}, owner=65534)
    r = g.run("build", "-t", "apt:rootless", ctx, timeout=900)
    assert "RUN steps ran as fake-root" in r.err, r
    assert g.run("run", "--rm", "apt:rootless", "cat", "/jq-version").out.startswith("jq-1.6")
    # dpkg's files are root's in the layer (one id was mapped: every owner is root)
    st = g.run("run", "--rm", "apt:rootless", "stat", "-c", "%u", "/usr/bin/jq").out.strip()
    assert st == "0"


def device_code(g, binary: Path):
    """(kind, arch) of every entry of the binary's fatbin, read by gantry doctor --fatbin."""
    fb = g.run("doctor", "--fatbin", binary, "--json").json()
    return sorted({(e["kind"], e["arch"]) for e in fb["entries"] if not e["nvlink_stub"]})


@pytest.fixture(scope="module")
def cuda_store(debian, tmp_path_factory):
    """One store with the Debian base and the CUDA devel image for both builds below: loading
    the two (1 GB of layers) was a third of each test's time. Each build makes its own image
    and compiles again (its --gpu-arch is the devel stage's build argument)."""
    if not NVCC.exists():
        pytest.skip("the CUDA toolkit is not at /usr/local/cuda")
    g = Gantry(tmp_path_factory.mktemp("cuda-build") / "store")
    g.run("load", debian)
    g.run("load", deb.cuda_devel_archive())
    return g


# "host" resolves to the simulated host's sm_80 and runs there; a list, to what it names, refused
# on that host (an explicit single arch, e.g. sm_80, takes the list's path: each build is a real
# nvcc in a container, 20-60 s of make test)
@pytest.mark.parametrize("arch,expect", [("8.6,sm_90", ["sm_86", "sm_90"]), ("host", ["sm_80"])])
def test_cuda_multistage_compiles_only_the_gpu_arch(cuda_store, tmp_path, arch, expect):
    g = cuda_store
    host = gh.build_host(tmp_path / "gpuhost", gh.preset(1, cc="8.0"))
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    ctx = context(tmp_path, {"Dockerfile": CUDA, "kernel.cu": KERNEL})
    r = g.run("build", "-t", "cuda-app:1", "--gpu-arch", arch, "--driver-root", host.driver_root,
              "--dev-root", host.dev_root, ctx, timeout=900)
    assert "compiling for GPUs: " + ",".join(expect) in r.err, r
    out = tmp_path / "out"
    out.mkdir()
    g.run("run", "--rm", "-v", f"{out}:/out", "cuda-app:1", "cp", "/usr/local/bin/kernel-app",
          "/out/")
    assert device_code(g, out / "kernel-app") == [("sass", a) for a in expect]
    # the runtime stage has the binary, not the toolchain
    assert g.run("run", "--rm", "cuda-app:1", "test", "-e", "/usr/local/cuda/bin/nvcc",
                 check=False).code == 1
    # it runs on the simulated sm_80 host, the driver injected; built for other GPUs, gantry's
    # doctor refuses it before launch, naming the fix
    res = g.run("run", "--rm", "--gpus", "all", "--driver-root", host.driver_root, "--dev-root",
                host.dev_root, "cuda-app:1", "sh", "-c",
                "ls /usr/lib/x86_64-linux-gnu/libcuda.so.1 && kernel-app", check=False)
    if "sm_80" in expect:
        assert res.code == 0, res
        assert "libcuda.so.1" in res.out and "kernel-app: cudaGetDeviceCount ->" in res.out, res
    else:
        assert res.code == 125 and "no kernels for compute capability 8.0" in res.err, res
