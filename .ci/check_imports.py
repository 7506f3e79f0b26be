#!/usr/bin/env python3
"""The import rules of the house, checked from the source with `ast`: forbidden imports and no cycles."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("claw", "devices", "memory")
# (importer prefix, forbidden prefix, why)
FORBIDDEN = (
    ("devices", "claw", "devices/ must not know the agent"),
    ("memory", "claw", "memory/ must not know the agent"),
    ("memory", "devices", "memory/ stores rows, it does not drive devices"),
    ("claw.channels", "claw.runtime", "a channel never holds the runtime"),
    ("claw.intents", "claw.agent", "the local tier is planning, not acting"),
    ("claw.replies", "claw.agent", "replies are pure phrasing"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules that `name` imports at run time (imports under `if TYPE_CHECKING:` are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()

    def resolve(target: str) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    resolve(alias.name)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    resolve(full if full in known else base)
            visit(child)

    visit(tree)
    return out


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))  # the depth is bounded by the number of modules
    try:
        for v in sorted(graph):
            if v not in index:
                strongconnect(v)
    finally:
        sys.setrecursionlimit(limit)  # this runs inside pytest too (tests/test_architecture.py)
    return result


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def check() -> list[str]:
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    problems = []
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            for importer, forbidden, why in FORBIDDEN:
                if within(name, importer) and within(target, forbidden):
                    problems.append(f"{name} imports {target}: {why}")
    for component in find_cycles(graph):
        problems.append("import cycle: " + " <-> ".join(component))
    return problems


def main() -> int:
    problems = check()
    for line in problems:
        print(line)
    print(f"import rules: {len(problems)} problem(s) in {len(modules())} modules")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
