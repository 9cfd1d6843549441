"""Shape figures of the core package: the largest modules and functions, `Any`, local imports, cycles.

    uv run python scripts/code_metrics.py [--top N]

The figures the reshaping issue asked for, measured the same way before and after: lines
per module (physical lines), lines per function (first to last line of its body, nested
functions counted in their own right), uses of `Any` outside import lines, imports inside
functions, and cycles in the graph of module imports inside `inbound`.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "include"
PACKAGE = ROOT / "inbound"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.Module, name: str, known: set[str]) -> set[str]:
    """Modules of the package this one imports at any level (functions included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                base = ".".join([*name.split(".")[: -node.level], node.module])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            owner = target
            while owner and owner not in known:
                owner = owner.rpartition(".")[0]
            if owner and owner != name:
                found.add(owner)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    files = sorted(PACKAGE.rglob("*.py"))
    names = {module_name(p): p for p in files}
    sizes: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    any_uses = local_imports = 0
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        text = path.read_text()
        tree = ast.parse(text)
        sizes.append((len(text.splitlines()), str(path.relative_to(ROOT.parent))))
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                continue
            any_uses += len(re.findall(r"\bAny\b", line))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}"))
                local_imports += sum(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(node))
        graph[name] = imported_modules(tree, name, set(names))
    print(f"modules: {len(files)}, lines: {sum(s for s, _ in sizes)}")
    print(f"largest modules (lines): {', '.join(f'{p} {n}' for n, p in sorted(sizes, reverse=True)[: args.top])}")
    print(f"modules over 400 lines: {sum(1 for n, _ in sizes if n > 400)}")
    print(f"largest functions (lines): {', '.join(f'{p} {n}' for n, p in sorted(functions, reverse=True)[: args.top])}")
    print(f"functions over 60 lines: {sum(1 for n, _ in functions if n > 60)}")
    print(f"`Any` outside import lines: {any_uses}")
    print(f"imports inside functions: {local_imports}")
    found = cycles(graph)
    print(f"import cycles: {len(found)}" + "".join(f"\n  {' <-> '.join(c)}" for c in found))


if __name__ == "__main__":
    main()
