"""Layout figures of a source tree: module count, the largest modules, import cycles.

For the closing note of a layout change (issue 14): run it on the tree before and after.

    .venv/bin/python benchmarks/layout_stats.py .            # this checkout
    git worktree add /tmp/before 5419c5b
    .venv/bin/python benchmarks/layout_stats.py /tmp/before

Modules are the ``.py`` files of the first-party packages present in the tree (``client_sdk``,
``linkage_service``, ``vinculo_common``, ``vinculo_cli``, ``vinculo_lab``), Alembic's
``migrations/versions`` excluded. An import ``from a.b import c`` is an edge to the module
``a.b.c`` when that file exists, else to ``a.b``; lazy imports inside functions count (that is
how a cycle hides), and the figures are also given without them. A cycle is a strongly
connected component of more than one module (Tarjan); every module of it reaches every other.
The same is counted between parts (a top-level package, or ``linkage_service.<part>``: the
layers of docs/design.md), where a cycle means two parts that lean on each other.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGES = ("client_sdk", "linkage_service", "vinculo_common", "vinculo_cli", "vinculo_lab")


def modules_of(root: Path) -> dict[str, Path]:
    """``{dotted name: path}`` of every first-party module under ``root``."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "versions" in path.parts and "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules: dict[str, Path], *, lazy: bool) -> dict[str, set[str]]:
    """Edges between first-party modules; ``lazy`` counts imports inside functions too."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        nodes = ast.walk(tree) if lazy else iter(_top_level(tree))
        for node in nodes:
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Statements run at import time: the module body, into if/try blocks, not functions."""
    out: list[ast.stmt] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, ast.If | ast.Try):
            stack.extend(node.body)
            stack.extend(node.orelse)
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    stack.extend(handler.body)
                stack.extend(node.finalbody)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:
        nonlocal counter
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(found, key=lambda c: (-len(c), c))


def part_of(module: str) -> str:
    """``linkage_service.bank.jobs`` -> ``linkage_service.bank``; other packages are one part.

    >>> part_of("linkage_service.reid.workflow"), part_of("client_sdk.encode_export")
    ('linkage_service.reid', 'client_sdk')
    """
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "linkage_service" and len(parts) > 1 else parts[0]


def part_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for source, targets in graph.items():
        out.setdefault(part_of(source), set())
        for target in targets:
            out.setdefault(part_of(target), set())
            if part_of(target) != part_of(source):
                out[part_of(source)].add(part_of(target))
    return out


def report(root: Path, *, largest: int = 10) -> str:
    modules = modules_of(root)
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()), n)
                    for n, p in modules.items()), reverse=True)
    present = [p for p in PACKAGES if (root / p).is_dir()]
    lines = [f"tree: {root}", f"packages: {', '.join(present)}",
             f"modules: {len(modules)} ({sum(s for s, _ in sizes)} lines)",
             f"largest {largest} modules (lines):"]
    lines += [f"  {size:5d}  {name}" for size, name in sizes[:largest]]
    for lazy in (True, False):
        found = cycles(import_graph(modules, lazy=lazy))
        what = "all imports" if lazy else "import-time imports only"
        lines.append(f"import cycles ({what}): {len(found)} strongly connected components, "
                     f"{sum(len(c) for c in found)} modules")
        lines += [f"  {len(c)}: {' ↔ '.join(c)}" for c in found]
    found = cycles(part_graph(import_graph(modules, lazy=True)))
    lines.append(f"cycles between parts (all imports): {len(found)}")
    lines += [f"  {len(c)}: {' ↔ '.join(c)}" for c in found]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="repository roots to measure")
    parser.add_argument("--largest", type=int, default=10)
    args = parser.parse_args(argv)
    print("\n\n".join(report(tree, largest=args.largest) for tree in args.trees))
    return 0


if __name__ == "__main__":
    sys.exit(main())
