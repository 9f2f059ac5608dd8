"""The finding catalogue: complete entries in both languages, and docs/findings.md generated from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from mailposture.checks.cli import findings_doc, register
from mailposture.findings import CATALOG, finding

DOC = Path(__file__).resolve().parent.parent / "docs" / "findings.md"


def test_every_entry_is_complete_and_bilingual() -> None:
    assert len(CATALOG) > 100
    for code, d in CATALOG.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", code), code
        assert d.severity in ("error", "warning", "info"), code
        assert d.rfc and d.en and d.ja, code
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", d.ja), f"{code}: Japanese text is not Japanese"
        # the same placeholders in both languages (a Japanese text may use the *_ja variant of a param)
        en = set(re.findall(r"(?<!{){(\w+)}", d.en))
        ja = {p.removesuffix("_ja") for p in re.findall(r"(?<!{){(\w+)}", d.ja)}
        assert ja == {p.removesuffix("_ja") for p in en}, f"{code}: placeholders differ: en {en}, ja {ja}"
        assert bool(d.fix_en) == bool(d.fix_ja), f"{code}: fix in one language only"


def test_unknown_code_fails_loudly() -> None:
    try:
        finding("NO_SUCH_CODE")
    except KeyError:
        return
    raise AssertionError("unknown code accepted")


def test_docs_findings_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == findings_doc(), \
        "docs/findings.md is stale: run `mailposture findings --format doc > docs/findings.md`"
    for code in CATALOG:
        assert f"`{code}`" in findings_doc()


def test_findings_command() -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["findings", "dmarc_multiple", "--format", "json", "--lang", "ja"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [row["code"] for row in rows] == ["DMARC_MULTIPLE_RECORDS"] and "DMARC" in rows[0]["message"]
    r = runner.invoke(app, ["findings", "NOPE_"])
    assert r.exit_code == 2 and "NOPE_" in r.output
