#!/usr/bin/env python3
"""Report modules that import each other, per crate target (lib, main, each bin, test, bench).

An edge A -> B means code in module A names an item that module B defines: through a `use`
(including `pub use`) or a path written in the code (`crate::b::f()`, `super::b::T`). Paths are
resolved through re-exports and imports to the module that defines the item, so a child using
`super::Thing` that the parent merely re-exports from a sibling is an edge to the sibling, not
to the parent. A parent declaring its children (`mod child;`) is not an edge. Inline modules
(`mod tests { … }`) count as part of their file's module.

Usage: scripts/module-cycles.py [--edges] [crate-dir …]   (default: every crates/*)
  --edges  also print every edge of each library crate (to write or check a module map)
Exit status 1 when any cycle is found.
"""

import glob
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(src):
    """Blank out comments, string and char literals (keeping line structure)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
            continue
        m = re.match(r'b?r(#*)"', src[i:i + 300]) if c in "rb" and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")) else None
        if m:
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
            continue
        if c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']{0,9}|[^'\\])'", src[i:i + 14])
            if m:
                out.append("' '")
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def split_use_tree(tree):
    """`a::{b, c::{d as e, *}, self}` -> [(['a','b'], 'b'), (['a','c','d'], 'e'), (['a','c','*'], '*'), (['a'], 'a')]."""
    tree = re.sub(r"\s+", "", tree)
    results = []

    def parse(prefix, s):
        depth, parts, cur = 0, [], ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        for part in parts:
            brace = part.find("{")
            if brace >= 0:
                head = part[:brace].rstrip(":")
                segs = [x for x in head.split("::") if x] if head else []
                parse(prefix + segs, part[brace + 1:part.rfind("}")])
                continue
            alias = None
            if "as" in part and re.search(r"[A-Za-z0-9_]as[A-Za-z_]", part):
                # whitespace was removed, so `dasE` is `d as E`: split at the last `as` between idents
                m = re.match(r"^(.*[A-Za-z0-9_*])as(" + IDENT + ")$", part)
                if m and not part.endswith("::" + m.group(2)):
                    part, alias = m.group(1), m.group(2)
            segs = [x for x in part.split("::") if x]
            if segs and segs[-1] == "self":
                segs = segs[:-1]
                full = prefix + segs
                results.append((full, alias or (full[-1] if full else "self")))
            else:
                full = prefix + segs
                if full:
                    results.append((full, alias or full[-1]))

    parse([], tree)
    return results


class Module:
    def __init__(self, path, file):
        self.path = path  # tuple of names from the crate root
        self.file = file
        self.children = {}  # name -> tuple path
        self.items = set()  # names defined here
        self.imports = {}  # name -> (module path where the use was written, segments)
        self.globs = []  # (module path, segments)
        self.refs = []  # (module path where written, segments, line)


ITEM_RE = re.compile(
    r"\b(?:struct|enum|fn|trait|type|const|static|union)\s+(" + IDENT + ")|macro_rules!\s*(" + IDENT + ")"
)


def is_facade(segs, alias, src, use_match):
    """A `pub use child::X` that only shows a descendant's item to the outside, as `mod child;`
    shows the module: not a dependency, unless the file also names `X` itself."""
    if not segs or segs[0] in ("crate", "super"):
        return False
    if alias == "*":
        return True
    rest = src[: use_match.start()] + src[use_match.end():]
    rest = re.sub(r"\bmod\s+" + re.escape(alias) + r"\s*;", "", rest)
    return re.search(r"(?<![A-Za-z0-9_:])" + re.escape(alias) + r"\b", rest) is None


def load_crate(root_file):
    modules = {}

    def visit(path, file, dir_for_children):
        src = strip_comments_and_strings(open(file, encoding="utf-8").read())
        scan(path, file, src, dir_for_children)

    def scan(path, file, src, dir_for_children):
        mod = modules.setdefault(path, Module(path, file))
        # Track inline modules so `super`/`self` resolve correctly; their edges belong to `path`.
        stack = []  # (inline module path, brace depth at open)
        depth = 0
        pos = 0
        token_re = re.compile(
            r"(?P<attr>#\[path\s*=\s*\"[^\"]*\"\])"
            r"|(?P<mod>\b(?:pub(?:\([^)]*\))?\s+)?mod\s+(?P<modname>" + IDENT + r")\s*(?P<modend>[;{]))"
            r"|(?P<use>\b(?P<pubuse>pub(?:\([^)]*\))?\s+)?use\s+(?P<tree>[^;]+);)"
            r"|(?P<path>(?<![A-Za-z0-9_:])(?:crate|super|self)(?:\s*::\s*(?:" + IDENT + r"|\{))+)"
            r"|(?P<open>\{)|(?P<close>\})"
        )
        for m in token_re.finditer(src):
            current = stack[-1][0] if stack else path
            line = src.count("\n", 0, m.start()) + 1
            if m.group("open"):
                depth += 1
            elif m.group("close"):
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
            elif m.group("mod"):
                name = m.group("modname")
                child = current + (name,)
                modules[current].children[name] = child if current == path or True else child
                if m.group("modend") == ";":
                    if current != path:
                        continue  # out-of-line module inside an inline one: not used here
                    candidates = [
                        os.path.join(dir_for_children, name + ".rs"),
                        os.path.join(dir_for_children, name, "mod.rs"),
                    ]
                    for cand in candidates:
                        if os.path.exists(cand):
                            sub_dir = os.path.dirname(cand) if cand.endswith("mod.rs") else os.path.join(dir_for_children, name)
                            visit(child, cand, sub_dir)
                            break
                else:
                    modules.setdefault(child, Module(child, file))
                    modules[child].inline_of = path
                    stack.append((child, depth))
                    depth += 1
            elif m.group("use"):
                tree = m.group("tree")
                for segs, alias in split_use_tree(tree):
                    if alias == "*":
                        modules[current].globs.append((current, segs[:-1]))
                    else:
                        modules[current].imports[alias] = (current, segs)
                    if m.group("pubuse") and is_facade(segs, alias, src, m):
                        continue
                    modules[current].refs.append((current, segs if alias != "*" else segs[:-1], line))
            elif m.group("path"):
                text = re.sub(r"\s+", "", m.group("path"))
                if text.endswith("{"):
                    continue  # `crate::{…}` outside a `use`: rare, skip
                modules[current].refs.append((current, text.split("::"), line))
        for im in ITEM_RE.finditer(src):
            mod.items.add(im.group(1) or im.group(2))

    root_dir = os.path.dirname(root_file)
    visit((), root_file, root_dir)
    return modules


def file_module(modules, path):
    while path in modules and getattr(modules[path], "inline_of", None) is not None:
        path = modules[path].inline_of
    return path


def resolve(modules, base, segs, seen=None):
    """Return the module that defines what `segs` (written in module `base`) names."""
    seen = set() if seen is None else seen
    key = (base, tuple(segs))
    if key in seen:
        return None
    seen.add(key)
    cur = None
    i = 0
    if not segs:
        return None
    if segs[0] == "crate":
        cur, i = (), 1
    elif segs[0] == "self":
        cur, i = base, 1
    elif segs[0] == "super":
        cur = base
        while i < len(segs) and segs[i] == "super":
            cur = cur[:-1]
            i += 1
    else:
        # A name imported into `base` (e.g. `use super::x; x::f()` or a module re-export)
        here = modules.get(base, Module(base, ""))
        if segs[0] in here.children:
            cur, i = base, 0
        elif segs[0] in here.imports:
            where, target = here.imports[segs[0]]
            local = target[0] in ("crate", "super", "self") or target[0] in modules[where].children
            return resolve(modules, where, target + segs[1:], seen) if local else None
        else:
            return None  # an external crate or std
    while i < len(segs):
        seg = segs[i]
        mod = modules.get(cur)
        if mod is None:
            return cur
        if seg in mod.children:
            cur = mod.children[seg]
            i += 1
            continue
        if seg in mod.items:
            return cur
        if seg in mod.imports:
            where, target = mod.imports[seg]
            found = resolve(modules, where, target + segs[i + 1:], seen)
            return found if found is not None else cur
        for where, gsegs in mod.globs:
            found = resolve(modules, where, gsegs + segs[i:], seen)
            if found is not None:
                return found
        return cur
    return cur


def edges_of(modules):
    edges = {}
    for mod in modules.values():
        src = file_module(modules, mod.path)
        for where, segs, line in mod.refs:
            target = resolve(modules, where, segs)
            if target is None:
                continue
            target = file_module(modules, target)
            if target == src:
                continue
            edges.setdefault((src, target), []).append((modules[src].file, line))
    return edges


def cycles(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
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
    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def name(path):
    return "::".join(path) or "crate"


def main():
    args = sys.argv[1:]
    show_edges = "--edges" in args
    crate_dirs = [a for a in args if a != "--edges"] or sorted(glob.glob("crates/*"))
    found = False
    for crate in crate_dirs:
        roots = [f for f in [os.path.join(crate, "src/lib.rs"), os.path.join(crate, "src/main.rs")] if os.path.exists(f)]
        for sub in ("src/bin", "tests", "benches", "examples"):
            roots += sorted(glob.glob(os.path.join(crate, sub, "*.rs")))
            roots += sorted(glob.glob(os.path.join(crate, sub, "*/main.rs")))
        for root in roots:
            modules = load_crate(root)
            edges = edges_of(modules)
            if show_edges and root.endswith("src/lib.rs"):
                for a, b in sorted(edges):
                    print(f"{root}: {name(a)} -> {name(b)}")
            for comp in cycles(edges):
                found = True
                print(f"{root}: cycle among {', '.join(name(p) for p in comp)}")
                members = set(comp)
                for (a, b), sites in sorted(edges.items()):
                    if a in members and b in members:
                        where = ", ".join(f"{os.path.relpath(f)}:{l}" for f, l in sites[:4])
                        more = f" (+{len(sites) - 4})" if len(sites) > 4 else ""
                        print(f"    {name(a)} -> {name(b)}  [{where}{more}]")
    if not found:
        print("no module imports another that imports it back")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
