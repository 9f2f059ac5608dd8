"""`check` text: findings wrapped under their own column at any width, the posture verdict explained, names in
natural order."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mailposture.checks.text import natural_key, render


def finding(code: str, severity: str, message: str, fix: str = "") -> dict:
    f = {"code": code, "severity": severity, "message": message, "rfc": "RFC 7208 §5"}
    if fix:
        f["fix"] = fix
    return f


RESULT = {
    "domain": "example.jp", "status": "ok", "dns": {"queries": 3, "errors": []},
    "spf": {"present": True, "record": "v=spf1 +all", "records": ["v=spf1 +all"], "valid": True, "all": "+all",
            "dns_lookups": 0, "void_lookups": 0, "authorized_ipv4": 2**32,
            "findings": [finding("SPF_PASS_ALL", "error", "every server on the Internet passes SPF " * 4,
                                 "end the record with '-all' " * 5)]},
    "mx": {"present": True, "classification": "receives", "findings": [],
           "records": [{"preference": 10, "host": "s10.example.jp"}, {"preference": 10, "host": "s2.example.jp"},
                       {"preference": 5, "host": "s1.example.jp"}]},
    "posture": {"status": "ok", "verdict": "sending", "parked": False, "findings": []},
    "findings": [],
}


def rendered(lang: str, width: int) -> str:
    buf = io.StringIO()
    render(RESULT, lang, Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


@pytest.mark.parametrize("width", [50, 80, 140])
def test_findings_wrap_under_their_indent(width):
    lines = rendered("en", width).splitlines()
    start = next(i for i, ln in enumerate(lines) if "SPF_PASS_ALL" in ln)
    text_col = lines[start].index("SPF_PASS_ALL")
    body = []
    for ln in lines[start + 1:]:
        if not ln.strip() or ln.lstrip().startswith(("─", "✖", "▲", "•")) or "──" in ln:
            break
        body.append(ln)
    assert len(body) >= 2                                   # the message and the fix need more than one line
    for ln in body:                                         # every continuation line starts under the text
        assert ln[:text_col].strip() == "" and ln[text_col] != " ", (width, ln)
    assert any(ln[text_col:].startswith("→") for ln in body)
    assert all(len(ln.rstrip()) <= width for ln in lines)


def test_names_sort_naturally():
    assert sorted(["s10", "s2", "s1", "S3"], key=natural_key) == ["s1", "s2", "S3", "s10"]
    out = rendered("en", 120)
    assert "5 s1.example.jp, 10 s2.example.jp, 10 s10.example.jp" in out


@pytest.mark.parametrize("lang, verdict, meaning", [
    ("en", "in use for mail", "not a parked domain"),
    ("ja", "メールに使用中", "なりすまし対策は上の SPF と DMARC で判断します"),
])
def test_posture_verdict_is_explained(lang, verdict, meaning):
    out = " ".join(rendered(lang, 200).split())
    assert verdict in out and meaning in out
    assert "sending" not in out and "receives" not in out.replace("receives mail", "")
