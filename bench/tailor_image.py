#!/usr/bin/python3
"""The CUDA 13 libraries image for bench/tailor.sh (issue 23), from this machine's toolkit:

    /usr/bin/python3 bench/tailor_image.py OUT.tar [--tag cuda-libs:13]

One layer (pigz -6, as registries serve them) holding, at /usr/local/cuda/lib64/, the real files
of cuBLAS, cuBLASLt, cuFFT, cuSPARSE, cuSOLVER, NCCL, cuDNN (every libcudnn*.so.9 present) and
the CUDA runtime, plus their usual symlinks; written as a `docker save` archive. Deterministic:
sorted members, mtime 0, uid/gid 0."""
import argparse
import glob
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

LIB = Path("/usr/local/cuda/lib64")
PATTERNS = ["libcublas.so.*", "libcublasLt.so.*", "libcufft.so.*", "libcusparse.so.*",
            "libcusolver.so.*", "libnccl.so.*", "libcudnn*.so.*", "libcudart.so.*"]


def members():
    files, links = {}, {}
    for pat in PATTERNS:
        for p in sorted(glob.glob(str(LIB / pat))):
            p = Path(p)
            if p.is_symlink():
                links[p.name] = os.readlink(p)
            elif p.is_file():
                files[p.name] = p
    return files, links


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--tag", default="cuda-libs:13")
    a = ap.parse_args()
    files, links = members()
    if not any(n.startswith("libcublas") for n in files):
        raise SystemExit(f"no cuBLAS in {LIB}: install the CUDA toolkit")
    tmp = Path(tempfile.mkdtemp(prefix="tailor-image-", dir=Path(a.out).parent))
    tar_path, gz_path = tmp / "layer.tar", tmp / "layer.tar.gz"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as t:
        for d in ("usr", "usr/local", "usr/local/cuda", "usr/local/cuda/lib64"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(ti)
        for name in sorted(set(files) | set(links)):
            ti = tarfile.TarInfo("usr/local/cuda/lib64/" + name)
            ti.mtime = 0
            if name in links:
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, links[name], 0o777
                t.addfile(ti)
            else:
                ti.size, ti.mode = files[name].stat().st_size, 0o644
                with open(files[name], "rb") as f:
                    t.addfile(ti, f)
    diff = hashlib.sha256()
    with open(tar_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            diff.update(chunk)
    with open(gz_path, "wb") as out:
        subprocess.run(["pigz", "-n", "-T", "-6", "-c", str(tar_path)], stdout=out, check=True)
    tar_path.unlink()
    layer_dir = hashlib.sha256(diff.hexdigest().encode()).hexdigest()
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                 "CUDA_VERSION=13.0.1",
                                 "LD_LIBRARY_PATH=/usr/local/cuda/lib64"]},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]},
              "history": [{"created_by": "COPY cuda-libraries /usr/local/cuda/lib64"}]}
    cfg = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [a.tag],
                            "Layers": [layer_dir + "/layer.tar"]}]).encode()
    with tarfile.open(a.out, "w") as t:
        for name, data in ((cfg_name, cfg), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 0
            t.addfile(ti, io.BytesIO(data))
        t.add(gz_path, arcname=layer_dir + "/layer.tar")
    gz_size = gz_path.stat().st_size
    gz_path.unlink()
    tmp.rmdir()
    total = sum(p.stat().st_size for p in files.values())
    print(json.dumps({"tag": a.tag, "files": sorted(files), "bytes": total,
                      "layer_gzip_bytes": gz_size}))


if __name__ == "__main__":
    main()
