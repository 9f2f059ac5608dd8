"""check_host()'s reasons in Japanese: every shape the evaluator writes, produced by real evaluations."""

from __future__ import annotations

import pytest
from tests.ja_check import english_leftovers

from mailposture.checks.spf import check_host
from mailposture.checks.spf.reasons import reason_ja
from mailposture.dns.fake import FakeResolver

ZONE = {
    "pass.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
    "neutral.example": [("TXT", "v=spf1 ip4:198.51.100.1")],
    "two.example": [("TXT", "v=spf1 -all"), ("TXT", "v=spf1 ~all")],
    "syntax.example": [("TXT", "v=spf1 ip4:300.1.1.1 -all")],
    "loop.example": [("TXT", "v=spf1 include:loop.example -all")],
    "redir.example": [("TXT", "v=spf1 redirect=nothing.example")],
    "noinc.example": [("TXT", "v=spf1 include:nothing.example -all")],
    "many.example": [("TXT", "v=spf1 " + " ".join(f"a:h{i}.pass.example" for i in range(11)) + " -all")],
    "voids.example": [("TXT", "v=spf1 a:v1.nothing.example a:v2.nothing.example a:v3.nothing.example -all")],
    "dnserr.example": [("TXT", "v=spf1 a:broken.example -all")],
    "broken.example": [("A", "TIMEOUT")],
    "txterr.example": [("TXT", "SERVFAIL")],
    "nothing.example": [("A", "192.0.2.1")],
}


@pytest.mark.parametrize("domain", ["pass.example", "neutral.example", "none.example", "two.example",
                                    "syntax.example", "loop.example", "redir.example", "noinc.example",
                                    "many.example", "voids.example", "dnserr.example", "txterr.example"])
async def test_every_reason_is_said_in_japanese(domain: str) -> None:
    res = await check_host("192.0.2.7" if domain != "neutral.example" else "203.0.113.1", domain,
                           f"u@{domain}", resolver=FakeResolver(ZONE))
    ja = reason_ja(res.reason)
    assert ja != res.reason, res.reason
    if domain == "syntax.example":   # the parser's own problem text is quoted as it is (not translated yet)
        ja = ja.split("に構文エラー")[0]
    left = english_leftovers(ja, {"U", "TXT", "A", "MX", "SERVFAIL"})
    assert not left, (res.reason, ja, left)


def test_unknown_shapes_are_left_as_they_are() -> None:
    assert reason_ja("something new happened") == "something new happened"
    assert reason_ja(None) == "" and reason_ja("") == ""
    assert reason_ja("'ip4:192.0.2.0/24' matched in pass.example") == "pass.example の 'ip4:192.0.2.0/24' に一致"
