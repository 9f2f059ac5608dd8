"""Bad characters in records: named as code points with their position, never echoed raw; invalid UTF-8 on
stdin handled like a file (issue 10: "Bad input, everywhere the same")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mailposture.checks.chars import describe, visible
from mailposture.checks.dmarc.parse import parse_record as dmarc_parse
from mailposture.checks.spf.analyze import record_findings
from mailposture.checks.spf.parse import parse_record as spf_parse


def _cli(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mailposture.cli", *args], input=stdin, capture_output=True,
                          timeout=60)


@pytest.mark.parametrize("cmd, record", [
    ("spf", b"v=spf1 a:\xff\xfe.example -all\n"),
    ("dmarc", b"v=DMARC1; p=reject; rua=mailto:\xffd@example.com\n"),
])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_invalid_utf8_on_stdin_is_handled_like_a_file(tmp_path, cmd, record, fmt):
    piped = _cli(cmd, "parse", "-", "--format", fmt, "--lang", "en", stdin=record)
    path = tmp_path / "r.txt"
    path.write_bytes(record)
    filed = _cli(cmd, "parse", "--file", str(path), "--format", fmt, "--lang", "en", stdin=b"")
    assert b"Traceback" not in piped.stderr and b"Traceback" not in filed.stderr, piped.stderr.decode()
    assert piped.returncode == filed.returncode == 1
    assert piped.stdout == filed.stdout
    out = piped.stdout.decode("utf-8")
    assert "U+FFFD" in out  # the undecodable byte is named, as a non-ASCII character
    if fmt == "json":
        assert json.loads(out.splitlines()[0])["valid"] is False


def test_control_character_named_with_position_in_both_clis():
    r = _cli("spf", "parse", "-", "--lang", "en", stdin=b"v=spf1 a:\x01x.example -all\n")
    out = r.stdout.decode()
    assert "\x01" not in out and "U+0001" in out and "position 10" in out
    r = _cli("dmarc", "parse", "-", "--lang", "en", stdin=b"v=DMARC1; p=reject; x=a\x01b\n")
    out = r.stdout.decode()
    assert "\x01" not in out and "control character U+0001 at position 24" in out


def test_spf_separators_other_than_sp_are_named():
    # RFC 7208 §12: terms are separated by 1*SP; a TAB (also trailing) is outside the grammar
    for text, pos in [("v=spf1 a\t-all", 9), ("v=spf1 -all\t", 12), ("v=spf1 a\r\n-all", 9)]:
        rec = spf_parse(text)
        assert not rec.valid
        msgs = [f.message("en") for f in record_findings(rec)]
        assert any(f"at position {pos}" in m and "SP (U+0020) only" in m for m in msgs), msgs
        assert all("\t" not in m and "\r" not in m for m in msgs)
    # the terms around the separator are still read
    assert [t.text for t in spf_parse("v=spf1 a\t-all").terms] == ["a", "-all"]


@pytest.mark.parametrize("text", [" v=spf1 -all", "\tv=spf1 -all", "v=spf1\t-all"])
def test_spf_whitespace_around_the_version_is_outside_the_grammar(text):
    rec = spf_parse(text)
    assert not rec.valid and not rec.terms
    assert "U+00" in rec.problems[0].reason


def test_dmarc_non_ascii_and_control_named():
    rec = dmarc_parse("v=DMARC1; p=reject; rua=mailto:d\u00e9@example.com")
    bad = [f for f in rec.findings if f.code == "DMARC_BAD_URI"]
    assert len(bad) == 1 and "U+00E9 at position 33" in bad[0].params["reason"]
    rec = dmarc_parse("v=DMARC1;\r\np=reject")
    syn = [f for f in rec.findings if f.code == "DMARC_SYNTAX"]
    assert syn and "U+000D at position 10" in syn[0].params["reason"] and "\r" not in syn[0].message("en")


def test_visible_helpers():
    assert visible("a\x01b\tc") == "a<U+0001>b<U+0009>c"
    assert visible("bücher") == "bücher"       # visible letters stay
    assert visible("a\u00a0b") == "a<U+00A0>b"  # a no-break space would be invisible
    assert describe("\x7f", 0) == "control character U+007F at position 1"


async def test_spf_record_with_leading_space_is_not_the_domains_record():
    from mailposture.checks.spf.analyze import analyze
    from mailposture.dns.fake import FakeResolver

    res = await analyze("example.com", FakeResolver({"example.com": [("TXT", " v=spf1 -all")]}))
    codes = [f.code for f in res["findings"]]
    # RFC 7208 §4.5: discarded, so the domain has no SPF record; the finding says receivers may trim it
    assert res["present"] is False and res["status"] == "none"
    assert codes == ["SPF_MALFORMED_VERSION", "SPF_NONE"]
