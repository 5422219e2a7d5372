"""The shapes of bench/make_big_image.py's images, and the generated Python-like tree.

A profile: a tag, and its layers as (kind, spec, layer max bytes, layer max entries); spec is a
list of (source dir, max bytes, max entries) copied from this machine (None: no own cap), or
"random" (incompressible), "pytree" (generated, see fill_pytree) or "config". `archives`: which
of docker-archive.tar / oci-archive.tar to write, `keep_layers`: keep layers/*.tar.gz beside
them (the 5g profile writes the docker archive only, to save ~6 GB of disk); `rev`: bumped when
a profile's image changes (a cached image of another rev is rebuilt).
"""

from __future__ import annotations

import random

MB = 1000 * 1000
SEED = 20240601

PROFILES = {
    "full": {
        "tag": "gantry-bench:full",
        "layers": [
            ("library", [("/usr/local/cuda/lib", None, None),
                         ("/usr/lib/x86_64-linux-gnu", None, None)],
             420 * MB, 800),
            ("small", [("/usr/include", None, None),
                       ("/usr/share/doc", None, None),
                       ("/usr/share/man", None, None)],
             300 * MB, 13500),
            ("random", "random", 210 * MB, None),
            ("docs", [("/usr/share/locale", 150 * MB, 3000),
                      ("/usr/share/man", 15 * MB, 500),
                      ("/usr/share/info", 10 * MB, 150),
                      ("/usr/share/i18n", 20 * MB, 250)],
             200 * MB, 3900),
            ("config", "config", None, None),
        ],
    },
    "quick": {
        "tag": "gantry-bench:quick",
        "layers": [
            ("library", [("/usr/local/cuda/lib", None, None),
                         ("/usr/lib/x86_64-linux-gnu", None, None)],
             40 * MB, 150),
            ("small", [("/usr/include", None, None),
                       ("/usr/share/doc", None, None)],
             30 * MB, 1500),
            ("random", "random", 20 * MB, None),
            ("docs", [("/usr/share/locale", 11 * MB, 140),
                      ("/usr/share/man", 3 * MB, 90),
                      ("/usr/share/info", 1 * MB, 20)],
             15 * MB, 280),
            ("config", "config", None, None),
        ],
    },
    # issue 40's benchmark image: >= 5 GB in 6 layers (CUDA libraries, a Python-like tree of
    # 50k small files, incompressible data, system libraries, docs, config)
    "5g": {
        "tag": "gantry-bench:5g",
        "rev": 2,  # 1 hid the Python tree under the config layer's opaque directory
        "archives": ("docker",),
        "keep_layers": False,
        "layers": [
            ("library", [("/usr/local/cuda/lib", None, None),
                         ("/usr/local/cuda/nvvm", None, None),
                         ("/usr/local/cuda/bin", None, None)],
             2500 * MB, 3000),
            ("small", "pytree", 560 * MB, 50000),
            ("random", "random", 1300 * MB, None),
            ("syslib", [("/usr/lib/x86_64-linux-gnu", None, None)], 900 * MB, 6000),
            ("docs", [("/usr/share/locale", 150 * MB, 3000),
                      ("/usr/share/man", 15 * MB, 500),
                      ("/usr/share/info", 10 * MB, 150),
                      ("/usr/share/i18n", 20 * MB, 250)],
             200 * MB, 3900),
            ("config", "config", None, None),
        ],
    },
}

_WORDS = ("self", "return", "def", "import", "from", "class", "if", "else", "for", "in",
          "None", "True", "False", "tensor", "module", "forward", "weight", "bias", "shape",
          "dtype", "device", "grad", "kwargs", "args", "name", "value", "config", "cache",
          "torch", "numpy", "array", "index", "layer", "batch", "size", "dim", "axis", "out")


def _pools(rnd: random.Random):
    """~2 MB of Python-like source lines and ~1 MB of byte-code-like bytes to cut files from
    (cheap: a file is slices of the pools at random offsets, not generated word by word)."""
    lines = []
    n = 0
    while n < 2 * MB:
        indent = "    " * rnd.randint(0, 3)
        words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(2, 9)))
        line = f"{indent}{words}({rnd.randint(0, 999)})\n"
        lines.append(line)
        n += len(line)
    text = "".join(lines).encode()
    code = bytes(b if rnd.random() < 0.6 else rnd.randint(0, 255) for b in text[:MB])
    return text, code


def fill_pytree(lw, max_bytes, max_entries):
    """A site-packages-like tree: packages of modules (__init__.py, *.py, __pycache__/*.pyc,
    a few data files), sizes skewed small (median ~5 kB), until max_entries files or max_bytes."""
    rnd = random.Random(SEED + 7)
    text, code = _pools(rnd)
    # first a small sibling: the config layer makes the first directory 3 levels deep opaque
    # (make_big_image.first_file_and_dir), which must not be site-packages itself
    lw.add_bytes("usr/lib/python3/dist-packages/README.txt", b"site-wide packages\n")
    base = "usr/lib/python3/site-packages"
    lw.add_dir(base)
    files = 0
    pkg = 0
    while files < max_entries and lw.bytes < max_bytes:
        top = f"{base}/pkg{pkg:04d}"
        pkg += 1
        for sub in range(rnd.randint(1, 6)):
            d = top if sub == 0 else f"{top}/sub{sub}"
            for m in range(rnd.randint(3, 16)):
                if files >= max_entries or lw.bytes >= max_bytes:
                    return ["generated (python-like sources, byte code, data)"]
                size = min(int(rnd.lognormvariate(8.5, 1.2)), 400_000)
                name = "__init__" if m == 0 else f"mod{m:02d}"
                at = rnd.randrange(len(text) - size) if size < len(text) else 0
                lw.add_bytes(f"{d}/{name}.py", text[at:at + size])
                files += 1
                if m % 2 == 0:
                    csize = min(size, len(code) - 1)
                    at = rnd.randrange(len(code) - csize)
                    lw.add_bytes(f"{d}/__pycache__/{name}.cpython-311.pyc", code[at:at + csize])
                    files += 1
            if sub == 0 and rnd.random() < 0.3:
                at = rnd.randrange(len(text) // 2)
                lw.add_bytes(f"{d}/data.json", text[at:at + rnd.randint(100, 20000)])
                files += 1
    return ["generated (python-like sources, byte code, data)"]
