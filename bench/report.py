#!/usr/bin/python3
"""Print the load benchmark's table from hyperfine's JSON (used by load.sh).

    report.py HYPERFINE.json IMAGE/info.json RUN.env

Targets (issue 2): gantry load at least 2x faster than skopeo copy + umoci
unpack, and at most 1.5x the time needed just to decompress the layers
(pigz -dc of every layer to /dev/null, sequentially).
"""

import json
import statistics
import sys

PAIR_TARGET = 2.0      # skopeo+umoci / gantry >= this
DECOMP_TARGET = 1.5    # gantry / decompress-only <= this


def main():
    res = json.load(open(sys.argv[1]))["results"]
    info = json.load(open(sys.argv[2]))
    env = dict(line.rstrip("\n").split("=", 1)
               for line in open(sys.argv[3]) if "=" in line)
    by = {r["command"]: r for r in res}

    def med(name):
        r = by.get(name)
        return statistics.median(r["times"]) if r else None

    mib = 1048576
    tar_mib = info["tar_size"] / mib
    out = []
    p = out.append
    p(f"gantry load benchmark ({info['profile']} image), {env['date']}")
    p(f"machine: {env['host']}")
    p(f"filesystem: {env['fs']}")
    p("caches: " + ("page cache dropped before every run"
                    if env["drop"] == "1" else
                    "page cache NOT dropped (runs after the first are warm)"))
    p(f"load average before timing: {env.get('load', '?')} "
      "(other work on the machine skews the figures)")
    p(f"gantry: {env['gantry']}")
    p(f"tools: {env['tools']}")
    if env.get("note"):
        p(f"note: {env['note']}")
    p(f"image: docker archive {info['docker_archive_size'] / mib:.0f} MiB "
      f"({info['blob_size'] / mib:.0f} MiB of gzip layers), {len(info['layers'])} layers, "
      f"{info['entries']} entries, {tar_mib:.0f} MiB unpacked (tar)")
    for i, l in enumerate(info["layers"], 1):
        p(f"  layer {i} {l['kind']:<8} {l['blob_size'] / mib:7.1f} MiB gzip "
          f"{l['tar_size'] / mib:7.1f} MiB tar {l['entries']:6d} entries")
    p("")
    p(f"{'hyperfine, ' + env['runs'] + ' runs':<40} {'median':>9} {'min':>9} {'max':>9} "
      f"{'MiB/s':>7}")
    for r in res:
        m = statistics.median(r["times"])
        p(f"{r['command']:<40} {m:8.2f}s {r['min']:8.2f}s {r['max']:8.2f}s "
          f"{tar_mib / m:7.0f}")
    p("(MiB/s = unpacked tar MiB / median)")
    p("")

    g = med("gantry load")
    pair = med("skopeo copy + umoci unpack")
    pigz = med("pigz -dc (decompress only)")
    igz = med("igzip -dc (decompress only)")
    untar = med("pigz -dc | tar -x (decompress+untar)")

    def verdict(ok):
        return "PASS" if ok else "MISS"

    p(f"gantry vs skopeo+umoci:        {pair / g:5.2f}x faster   "
      f"(target >= {PAIR_TARGET:.1f}x)  {verdict(pair / g >= PAIR_TARGET)}")
    p(f"gantry / decompress-only pigz: {g / pigz:5.2f}x          "
      f"(target <= {DECOMP_TARGET:.1f}x)  {verdict(g / pigz <= DECOMP_TARGET)}")
    if igz:
        p(f"gantry / decompress-only igzip:{g / igz:5.2f}x          "
          f"(information: ISA-L, gantry's own decoder)")
    if untar:
        p(f"gantry / decompress+untar:     {g / untar:5.2f}x          "
          f"(information)")
    print("\n".join(out))


if __name__ == "__main__":
    main()
