"""The guard and web modules depend one way (issue 10, "Structure"): no import circle, lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _imports(path: Path, package: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            if node.level:  # relative import
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module])
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # "from mailposture.web import owner"
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _graph(*areas: str) -> dict[str, set[str]]:
    mods: dict[str, Path] = {}
    for area in areas:
        for p in (SRC / "mailposture" / area).glob("*.py"):
            name = f"mailposture.{area}.{p.stem}" if p.stem != "__init__" else f"mailposture.{area}"
            mods[name] = p
    return {m: {i for i in _imports(p, m.rsplit(".", 1)[0]) if i in mods and i != m} for m, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                found.append([*stack[stack.index(n):], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_guard_and_web_modules_have_no_import_cycle() -> None:
    graph = _graph("guard", "web")
    assert "mailposture.guard.store" in graph and "mailposture.web.owner" in graph
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_the_decision_does_not_depend_on_the_database_layer() -> None:
    graph = _graph("guard")
    seen, todo = set(), ["mailposture.guard.decide"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph[m])
    assert "mailposture.guard.store" not in seen
