#!/usr/bin/env python3
"""Structural checks of the crates' sources, run by scripts/test.

* No Rust source file over MAX_LINES lines (in every crate, tests included).
* No import cycle between the files of a crate: a file's imports are its
  `use crate::…`, `use super::…` and `use self::…` paths (and `crate::…`
  paths written inline), each resolved to the file that defines the module
  it names; a cycle is reported with the files on it.

Standard library only. Exits 1 with a list of findings, 0 otherwise.
"""

import os
import re
import sys

MAX_LINES = 800
CRATES = ["store", "proxy", "benches", "tests"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rust_files(crate):
    for base, dirs, files in os.walk(os.path.join(ROOT, crate)):
        dirs[:] = [d for d in dirs if d not in ("target", "node_modules")]
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(base, f)


def module_path(src_root, path):
    """The module path (list of names) a file under src/ defines."""
    rel = os.path.relpath(path, src_root)[: -len(".rs")]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def resolve(modules, path):
    """The file defining the longest prefix of `path` that is a module."""
    for n in range(len(path), -1, -1):
        f = modules.get(tuple(path[:n]))
        if f:
            return f
    return None


USE = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::\w+)*)::\{([^}]*)\}", re.S)


def imports(text):
    """(anchor, [names]) for each path the file mentions."""
    text = re.sub(r"//[^\n]*", "", text)
    found = []
    for anchor, rest, group in USE_GROUP.findall(text):
        base = [p for p in rest.split("::") if p]
        for item in group.split(","):
            first = item.strip().split("::")[0].split(" ")[0]
            if first and first != "self":
                found.append((anchor, base + [first]))
            else:
                found.append((anchor, base))
    for anchor, rest in USE.findall(text):
        found.append((anchor, [p for p in rest.split("::") if p]))
    return found


def cycles_in(crate):
    src = os.path.join(ROOT, crate, "src")
    if not os.path.isdir(src):
        return []
    files = [f for f in rust_files(crate) if f.startswith(src + os.sep)]
    bins = os.path.join(src, "bin")
    files = [f for f in files if not f.startswith(bins + os.sep)]
    modules = {tuple(module_path(src, f)): f for f in files}
    graph = {f: set() for f in files}
    for f in files:
        me = module_path(src, f)
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        # Inline test modules import their parent: not an edge between files.
        text = re.split(r"#\[cfg\(test\)\]\s*mod \w+ \{", text)[0]
        for anchor, path in imports(text):
            if anchor == "crate":
                target = resolve(modules, path)
            elif anchor == "self":
                target = resolve(modules, me + path)
            else:
                ups = 1
                while path and path[0] == "super":
                    ups += 1
                    path = path[1:]
                target = resolve(modules, me[: max(len(me) - ups, 0)] + path)
            if target and target != f:
                graph[f].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(sorted(os.path.relpath(c, ROOT) for c in comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    problems = []
    for crate in CRATES:
        for f in rust_files(crate):
            with open(f, encoding="utf-8") as fh:
                n = sum(1 for _ in fh)
            if n > MAX_LINES:
                problems.append(f"{os.path.relpath(f, ROOT)}: {n} lines (at most {MAX_LINES})")
        for cycle in cycles_in(crate):
            problems.append(f"import cycle in {crate}: " + " <-> ".join(cycle))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"structure ok: no file over {MAX_LINES} lines, no import cycle between files")


if __name__ == "__main__":
    main()
