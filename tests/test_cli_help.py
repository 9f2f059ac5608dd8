"""Every command's --help: examples at the end (one central table), bilingual, readable at any width.

New commands only need an entry in mailposture/cli_examples.py:EXAMPLES; this test walks the whole command tree.
"""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.cli_examples import EXAMPLES, HEADING

CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def tree() -> dict[str, object]:
    root = typer.main.get_command(app)
    out: dict[str, object] = {}

    def walk(cmd: object, path: str) -> None:
        out[path] = cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(root, "")
    return out


COMMANDS = tree()
# Commands whose every option help is bilingual already (the others: help strings of areas still to translate)
BILINGUAL_OPTIONS = ("check", "scan", "findings", "demo", "lists", "lists show", "survey run", "survey recompute",
                     "survey report", "survey trend", "survey diff", "survey rounds", "spf", "spf parse",
                     "spf eval", "dmarc", "dmarc parse")


def help_of(path: str, columns: int = 80) -> str:
    r = CliRunner(env={"COLUMNS": str(columns), "TERM": "dumb"}).invoke(app, [*path.split(), "--help"])
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_two_or_three_examples(path):
    rows = EXAMPLES.get(path)
    assert rows, f"'mailposture {path}' has no examples: add them to mailposture/cli_examples.py:EXAMPLES"
    assert 2 <= len(rows) <= 3
    for cmd, note in rows:
        assert "mailposture" in cmd and CJK.search(note) and " / " in note, (cmd, note)
    out = help_of(path, 200)
    assert HEADING in out and out.rstrip().endswith(rows[-1][1])          # the examples close the help
    for cmd, _ in rows:
        assert cmd.split("|")[-1].strip() in out


def test_no_examples_for_commands_that_do_not_exist():
    assert not set(EXAMPLES) - set(COMMANDS)


def _argv(cmd: str) -> list[str] | None:
    """The mailposture arguments of an example line (after a pipe, before a redirection)."""
    tail = cmd.split("|")[-1].split(" > ")[0]
    words = shlex.split(tail)
    assert words[0] == "mailposture", cmd
    return None if "COMMAND" in words else words[1:]


@pytest.mark.parametrize("path, cmd", [(p, c) for p, rows in sorted(EXAMPLES.items()) for c, _ in rows])
def test_examples_are_real_command_lines(path, cmd):
    """Each example parses: its command exists and takes these options and arguments (nothing is run)."""
    argv = _argv(cmd)
    if argv is None:
        return
    node = COMMANDS[""]
    while argv and argv[0] in getattr(node, "commands", {}):
        name = argv.pop(0)
        node = node.commands[name]
    if getattr(node, "commands", None) and not (node.invoke_without_command and not argv):
        pytest.fail(f"{cmd}: names no command of the group")
    ctx = node.make_context(node.name, list(argv), resilient_parsing=False)
    assert ctx.params is not None


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_is_complete_at_80_columns(path):
    out = help_of(path, 80)
    assert "<bool>" not in out and "<list[" not in out                 # flags take no value; lists: <str>...
    cmd = COMMANDS[path]
    sources = " ".join([cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)])
    # a word too wide for its column is folded, not cut with "…" (only the help's own "…" may appear)
    assert out.count("…") <= sources.count("…"), out


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_describes_itself_in_japanese_too(path):
    cmd = COMMANDS[path]
    assert CJK.search(cmd.help or ""), f"'mailposture {path}' help has no Japanese"
    if path in BILINGUAL_OPTIONS:
        for p in cmd.params:
            if p.name not in ("help",):
                assert CJK.search(getattr(p, "help", None) or ""), f"{path} {p.name}: help has no Japanese"


def test_brackets_in_help_are_text_not_markup():
    out = help_of("check", 200)
    assert "[addr]:port" in out


def test_checks_help_lists_every_section_untruncated():
    out = " ".join(help_of("scan", 80).split())
    for section in ("spf", "dmarc", "mx", "dkim", "bimi", "mta_sts", "tls_rpt", "dnssec"):
        assert section in out
    assert "spf,dmarc,mx" in out                                          # the default, whole


def test_cli_libraries_are_pinned_to_a_major_version():
    import tomllib
    from pathlib import Path

    deps = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    for lib in ("typer", "rich"):
        spec = next(d for d in deps if re.match(rf"{lib}\b", d))
        assert "<" in spec and ">=" in spec, spec


@pytest.mark.parametrize("env, want", [({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}, "en"),
                                       ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "ja_JP.UTF-8"}, "ja")])
def test_demo_follows_the_locale_like_every_command(monkeypatch, tmp_path, env, want):
    import mailposture.survey.demo as demo

    seen = {}

    def fake_run_demo(out, *, n_bodies, seed, lang, progress):
        seen["lang"] = lang
        return {"summary": "", "html": tmp_path / "report.html"}

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    assert seen["lang"] == want
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "-q", "--lang", "en"])
    assert seen["lang"] == "en"
