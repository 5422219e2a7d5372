#!/usr/bin/env python3
"""The module dependency graph of src/, computed from the includes.

A module is a folder directly under src/ (src/gpu_vendors/nvidia/ belongs to gpu_vendors). A file of
module A that includes "B/..." is an edge A -> B. Prints each module with its line count and the
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
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]+"', re.M)
SOURCE = (".cpp", ".hpp", ".c", ".h", ".inc")


def modules():
    return sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))


def files_of(module):
    for dirpath, _, names in os.walk(os.path.join(SRC, module)):
        for name in sorted(names):
            if name.endswith(SOURCE):
                yield os.path.join(dirpath, name)


def scan():
    """(edges {A: {B: [(file, include)]}}, lines {A: n})"""
    mods = set(modules())
    edges, lines = {}, {}
    for m in sorted(mods):
        edges[m] = {}
        lines[m] = 0
        for path in files_of(m):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            lines[m] += text.count("\n")
            for match in INCLUDE.finditer(text):
                dep = match.group(1)
                if dep in mods and dep != m:
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
    """{module: (deps, purpose)} from src/modules.cmake's gantry_module(NAME ...) calls"""
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
        out[words[0]] = (deps, purpose.group(1) if purpose else "")
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
            print(f"{m:10} {lines[m]:6}")
        print(f"{'total':10} {sum(lines.values()):6}")
        return 0
    if args.markdown:
        decl = declared() or {}
        print("| module | purpose | depends on |")
        print("|---|---|---|")
        for m, (deps, purpose) in decl.items():
            print(f"| `{m}/` | {purpose} | {', '.join(deps) or '-'} |")
        return 0
    graph = {m: set(d) for m, d in edges.items()}
    for m in sorted(graph):
        print(f"{m:10} {lines[m]:6}  -> {' '.join(sorted(graph[m])) or '-'}")
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
    decl = {m: d for m, (d, _) in decl.items()}
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
