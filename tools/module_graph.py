#!/usr/bin/env python3
"""The module dependency graph of src/, computed from the includes.

A module is a folder of src/: src/modules.cmake's gantry_module(NAME [FOLDER PATH]) calls (a folder
directly under src/ unless FOLDER names a nested one, as src/gpu_vendors/nvidia/ is module nvidia),
and the folders directly under src/ it does not list (cli, spank). A module's files are those of
its folder, less the folders of modules nested in it. A file of module A that includes a header
of module B's folder (the longest folder that holds it) is an edge A -> B. Prints each module with its line count and the
modules it includes, then the cycles (strongly connected components of more than one module) and,
with --declared, the edges that src/modules.cmake does not declare.

  tools/module_graph.py                  the graph, its cycles
  tools/module_graph.py --why A B        the files of A that include B, with the include
  tools/module_graph.py --lines          modules and their line counts only
  tools/module_graph.py --declared       also compare with src/modules.cmake (exit 1 on a mismatch)
  tools/module_graph.py --markdown       the declared graph as a markdown table (docs/architecture.md)
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+/)[^"/]+"', re.M)
SOURCE = (".cpp", ".hpp", ".c", ".h", ".inc")


def folders():
    """{module: its folder relative to src/}: the declared modules, then the undeclared folders
    directly under src/"""
    out = {m: f for m, (_, _, f) in (declared() or {}).items()}
    taken = set(out.values())
    for d in sorted(os.listdir(SRC)):
        if os.path.isdir(os.path.join(SRC, d)) and d not in taken:
            out[d] = d
    return out


def modules():
    return sorted(folders())


def files_of(module, folder_of=None):
    folder_of = folder_of or folders()
    top = folder_of[module]
    nested = {f for m, f in folder_of.items() if m != module and f.startswith(top + "/")}
    for dirpath, dirnames, names in os.walk(os.path.join(SRC, top)):
        rel = os.path.relpath(dirpath, SRC)
        dirnames[:] = sorted(d for d in dirnames if f"{rel}/{d}" not in nested)
        for name in sorted(names):
            if name.endswith(SOURCE):
                yield os.path.join(dirpath, name)


def owner(include_dir, by_folder):
    """The module whose folder holds a header in INCLUDE_DIR ("gpu_vendors/nvidia/"), or None"""
    parts = include_dir.rstrip("/").split("/")
    for n in range(len(parts), 0, -1):
        m = by_folder.get("/".join(parts[:n]))
        if m:
            return m
    return None


def scan():
    """(edges {A: {B: [(file, include)]}}, lines {A: n})"""
    folder_of = folders()
    by_folder = {f: m for m, f in folder_of.items()}
    edges, lines = {}, {}
    for m in sorted(folder_of):
        edges[m] = {}
        lines[m] = 0
        for path in files_of(m, folder_of):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            lines[m] += text.count("\n")
            for match in INCLUDE.finditer(text):
                dep = owner(match.group(1), by_folder)
                if dep and dep != m:
                    line = text.count("\n", 0, match.start()) + 1
                    edges[m].setdefault(dep, []).append(
                        (os.path.relpath(path, ROOT) + ":" + str(line), match.group(0).strip()))
    return edges, lines


def cycles(graph):
    """Tarjan's strongly connected components of more than one node"""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def declared():
    """{module: (deps, purpose, folder)} from src/modules.cmake's gantry_module(NAME ...) calls"""
    path = os.path.join(SRC, "modules.cmake")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"(?m)^\s*#[^\n]*", "", f.read())
    out = {}
    for call in re.finditer(r'gantry_module\(((?:"[^"]*"|[^)"])*)\)', text):
        body = call.group(1)
        purpose = re.search(r'PURPOSE\s+"([^"]*)"', body)
        words = re.sub(r'"[^"]*"', "", body).split()
        deps = words[words.index("DEPENDS") + 1:] if "DEPENDS" in words else []
        folder = words[words.index("FOLDER") + 1] if "FOLDER" in words else words[0]
        out[words[0]] = (deps, purpose.group(1) if purpose else "", folder)
    return out


def closure(graph, m):
    seen, todo = set(), list(graph.get(m, ()))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(graph.get(d, ()))
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--why", nargs=2, metavar=("FROM", "TO"))
    ap.add_argument("--lines", action="store_true")
    ap.add_argument("--declared", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    edges, lines = scan()
    if args.why:
        for where, inc in edges.get(args.why[0], {}).get(args.why[1], []):
            print(f"{where}: {inc}")
        return 0
    if args.lines:
        for m in sorted(lines):
            print(f"{m:15} {lines[m]:6}")
        print(f"{'total':10} {sum(lines.values()):6}")
        return 0
    if args.markdown:
        decl = declared() or {}
        print("| module | purpose | depends on |")
        print("|---|---|---|")
        for m, (deps, purpose, folder) in decl.items():
            name = f"`{folder}/`" if folder == m else f"`{folder}/` ({m})"
            print(f"| {name} | {purpose} | {', '.join(deps) or '-'} |")
        return 0
    graph = {m: set(d) for m, d in edges.items()}
    for m in sorted(graph):
        print(f"{m:15} {lines[m]:6}  -> {' '.join(sorted(graph[m])) or '-'}")
    cyc = cycles(graph)
    print()
    if cyc:
        for c in cyc:
            print("cycle: " + " ".join(c))
    else:
        print("no cycles")
    if not args.declared:
        return 0
    decl = declared()
    if decl is None:
        print("src/modules.cmake not found")
        return 1
    decl = {m: d for m, (d, _, _) in decl.items()}
    bad = 0
    for m in sorted(graph):
        if m not in decl:
            continue
        allowed = closure(decl, m)
        for d in sorted(graph[m]):
            if d not in allowed:
                bad += 1
                where, inc = edges[m][d][0]
                print(f"undeclared: {m} -> {d} ({where}: {inc})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
