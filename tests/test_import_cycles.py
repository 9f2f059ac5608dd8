"""No import cycles among mailposture modules (the project guide: dependencies point one way).

Every ``import`` statement counts, the ones inside functions too: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mailposture

ROOT = Path(mailposture.__file__).parent

# Circles allowed to remain: none (the guard and web circles were removed; keep it that way).
KNOWN: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The mailposture modules that ``path`` imports (a ``from pkg import mod`` names the module ``pkg.mod``)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in known:
                    out.add(sub)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def test_the_detector_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_from_imports():
    graph = import_graph()
    # checks/cli.py imports check_domain inside the command function
    assert "mailposture.checks.domain" in graph["mailposture.checks.cli"]
    # `from mailposture.checks.spf import cli as spf_cli` names the module, not the package
    assert "mailposture.checks.spf.cli" in graph["mailposture.checks.cli"]


def test_no_import_cycles():
    found = cycles(import_graph())
    unexpected = [sorted(c) for c in found if c not in KNOWN]
    assert not unexpected, f"import cycles among mailposture modules: {unexpected}"


# ---------------------------------------------------------------------------------------------------------------
# Faces don't import faces: the command line (mailposture.cli, every area's ``cli`` module, web/dashboard_cli)
# and the web pages are faces over the features. A page that needs what a command computes calls the feature module
# the command calls (e.g. mailposture.survey.reporting), never the command's module.

def is_command_line(module: str) -> bool:
    last = module.rpartition(".")[2]
    return module == "mailposture.cli" or last == "cli" or last.endswith("_cli")


def reached(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def face_violations(graph: dict[str, set[str]]) -> list[str]:
    """Non-command-line modules that import a command-line module, and web pages that reach one at all."""
    out = [f"{m} imports {d}" for m, deps in sorted(graph.items()) if not is_command_line(m)
           for d in sorted(deps) if is_command_line(d)]
    for m in sorted(graph):
        if m.startswith("mailposture.web.") and not is_command_line(m):
            out += [f"{m} reaches {d}" for d in sorted(reached(graph, m)) if is_command_line(d)]
    return out


def test_the_face_rule_catches_a_page_that_imports_a_command():
    ok = {"mailposture.cli": {"mailposture.survey.cli", "mailposture.web.cli"},
          "mailposture.web.cli": {"mailposture.web.dashboard_cli"},
          "mailposture.web.dashboard_cli": {"mailposture.web.survey_pages"},
          "mailposture.web.survey_pages": {"mailposture.web.survey_data"},
          "mailposture.web.survey_data": {"mailposture.survey.reporting"},
          "mailposture.survey.cli": {"mailposture.survey.reporting"},
          "mailposture.survey.reporting": set()}
    assert face_violations(ok) == []
    direct = {**ok, "mailposture.web.survey_data": {"mailposture.survey.cli"}}
    assert "mailposture.web.survey_data imports mailposture.survey.cli" in face_violations(direct)
    assert "mailposture.web.survey_pages reaches mailposture.survey.cli" in face_violations(direct)
    through = {**ok, "mailposture.survey.reporting": {"mailposture.survey.cli"}}
    assert face_violations(through) == ["mailposture.survey.reporting imports mailposture.survey.cli",
                                        "mailposture.web.survey_data reaches mailposture.survey.cli",
                                        "mailposture.web.survey_pages reaches mailposture.survey.cli"]
    assert is_command_line("mailposture.web.dashboard_cli") and not is_command_line("mailposture.cliopts")


def test_faces_do_not_import_faces():
    graph = import_graph()
    assert "mailposture.survey.reporting" in graph["mailposture.web.survey_data"]
    bad = face_violations(graph)
    assert not bad, "a web page or a feature imports a command-line module: " + "; ".join(bad)
