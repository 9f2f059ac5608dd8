"""ARC in practice: a three-hop forward where the last hop breaks DKIM but the chain holds, a broken chain, and
a Microsoft-style AAR (non-standard RFC 8601) that is still read."""

from __future__ import annotations

import asyncio
import io

import authres
from tests.worlds.mail import BASE, arc_seal_raw, default_world, rsa_key, sign

from mailposture.dns.fake import FakeResolver
from mailposture.message.arc import seal_message
from mailposture.message.authres_io import ar_header, parse_results
from mailposture.message.verify import VerifyOptions, verify_message


def run(message: bytes, world: FakeResolver, **opts) -> dict:
    return asyncio.run(verify_message(message, world, VerifyOptions(bimi=False, **opts)))


def hop(message: bytes, world: FakeResolver, *, ip: str, mail_from: str, helo: str, host: str, d: str,
        s: str, edit=None) -> tuple[bytes, dict]:
    """What a forwarding MTA does: verify what it received, maybe change the message (a list's subject tag and
    footer), write its Authentication-Results and add an ARC set."""
    verdict = run(message, world, ip=ip, mail_from=mail_from, helo=helo)
    if edit is not None:
        message = edit(message)
    value = ar_header(host, verdict).split(":", 1)[1].strip()
    sealed, fields = seal_message(message, value, srv_id=host, selector=s, domain=d, private_key=rsa_key()[0])
    assert len(fields) == 3
    return sealed, verdict


def three_hops() -> tuple[bytes, FakeResolver, dict, dict]:
    world = FakeResolver(default_world().zone)
    original = sign(BASE)                                     # hop 0: origin.example signs and sends
    m1, v1 = hop(original, world, ip="192.0.2.10", mail_from="taro@origin.example", helo="mail.origin.example",
                 host="mx.forwarder.example", d="forwarder.example", s="fwd")      # hop 1: forwarder receives
    # hop 2: a mailing list rewrites the subject and adds a footer (DKIM breaks), then seals
    def edit(m: bytes) -> bytes:
        return m.replace(b"Subject: Meeting", b"Subject: [team] Meeting") + b"-- \r\nteam list\r\n"

    m2, v2 = hop(m1, world, edit=edit, ip="198.51.100.7", mail_from="bounce@forwarder.example", helo="mx.forwarder.example",
                 host="lists.example", d="lists.example", s="list")
    return m2, world, v1, v2


def test_three_hop_forward_arc_holds_where_dkim_breaks() -> None:
    final, world, v1, v2 = three_hops()
    assert v1["dkim"][0]["result"] == "pass" and v1["dmarc"]["result"] == "pass" and v1["arc"]["cv"] == "none"
    assert v2["arc"]["cv"] == "pass" and v2["dkim"][0]["result"] == "pass"   # the list saw it intact
    out = run(final, world, ip="203.0.113.5", mail_from="bounce@lists.example", helo="lists.example")
    assert out["dkim"][0]["result"] == "fail" and out["dkim"][0]["reason"] == "body-hash-mismatch"
    assert out["spf"]["result"] == "pass" and out["spf"]["domain"] == "lists.example"
    assert out["dmarc"]["result"] == "fail"          # DMARC alone would reject…
    arc = out["arc"]
    assert arc["cv"] == "pass" and arc["instances"] == 2 and arc["failed_instance"] is None
    assert arc["oldest_pass"] == 2                   # AMS 1 no longer validates: the list changed the message
    first = arc["sets"][0]
    assert first["aar"]["authserv_id"] == "mx.forwarder.example"
    claims = {r["method"]: r["result"] for r in first["aar"]["results"]}
    assert claims["dkim"] == "pass" and claims["dmarc"] == "pass" and claims["spf"] == "pass"   # …ARC says why
    assert arc["sets"][1]["as"]["cv"] == "pass" and arc["sets"][0]["as"]["cv"] == "none"


def test_changed_after_the_last_seal_breaks_the_chain() -> None:
    final, world, _, _ = three_hops()
    out = run(final.replace(b"team list", b"evil list"), world)
    arc = out["arc"]
    assert arc["cv"] == "fail" and arc["failed_instance"] == 2 and arc["reason_code"] == "newest-ams-invalid"


def test_missing_seal_key_fails_and_dns_error_is_said() -> None:
    final, world, _, _ = three_hops()
    world.rrs.pop("list._domainkey.lists.example")
    assert run(final, world)["arc"]["cv"] == "fail"
    world.add("list._domainkey.lists.example", "SERVFAIL")
    out = run(final, world)
    assert out["arc"]["cv"] == "fail" and out["arc"]["reason_code"] == "dns-error"
    assert out["arc"]["dns_errors"] == ["list._domainkey.lists.example"]


MICROSOFT_AAR = ("mx.microsoft.com 1; spf=pass (sender ip is 192.0.2.10) smtp.rcpttodomain=dest.example "
                 "smtp.mailfrom=origin.example; dmarc=pass (p=reject sp=reject pct=100) action=none "
                 "header.from=origin.example; dkim=pass (signature was verified) header.d=origin.example; arc=none")


def test_microsoft_style_aar_is_read_leniently() -> None:
    world = FakeResolver(default_world().zone)
    msg = arc_seal_raw(sign(BASE), MICROSOFT_AAR, cv="none", d="forwarder.example", s="fwd", key=rsa_key()[0])
    out = run(msg, world)
    arc = out["arc"]
    assert arc["cv"] == "pass"
    aar = arc["sets"][0]["aar"]
    assert aar["authserv_id"] == "mx.microsoft.com"   # "mx.microsoft.com 1": a version after the id
    got = {r["method"]: (r["result"], r["properties"]) for r in aar["results"]}
    assert got["dmarc"][0] == "pass" and got["dmarc"][1]["header.from"] == "origin.example"
    assert got["spf"][1]["smtp.mailfrom"] == "origin.example" and got["dkim"][1]["header.d"] == "origin.example"
    # "action=none" is not ptype.property: kept aside, and said
    assert next(r for r in aar["results"] if r["method"] == "dmarc")["extra"] == {"action": "none"}
    assert "ARC_AAR_NONSTANDARD" in {f["code"] for f in out["findings"]}
    # a second Microsoft hop seals on top (cv=pass): still a valid chain
    msg2 = arc_seal_raw(msg, MICROSOFT_AAR.replace("arc=none", "arc=pass"), cv="pass", d="lists.example", s="list",
                        key=rsa_key()[0])
    assert run(msg2, world)["arc"]["cv"] == "pass"


def test_unreadable_aar_falls_back_to_the_lenient_reader() -> None:
    body = "mx.example 1; spf=pass (sender ip is 192.0.2.1 smtp.mailfrom=a@origin.example; dkim=pass header.d=origin.example"
    got = parse_results(body)   # an unclosed comment: authres refuses it
    assert got["parser"] == "lenient" and got["authserv_id"] == "mx.example"
    assert [r["method"] for r in got["results"]] == ["spf", "dkim"]


def test_standard_aar_uses_authres_and_ar_header_parses_back() -> None:
    final, world, _, _ = three_hops()
    out = run(final, world, ip="203.0.113.5", mail_from="bounce@lists.example", helo="lists.example")
    assert all(s["aar"]["parser"] == "authres" for s in out["arc"]["sets"])
    text = ar_header("mx.dest.example", out)
    parsed = authres.AuthenticationResultsHeader.parse(text)
    assert parsed.authserv_id == "mx.dest.example"
    got = [(r.method, r.result) for r in parsed.results]
    assert got == [("spf", "pass"), ("dkim", "fail"), ("dmarc", "fail"), ("arc", "pass")]
    assert parse_results(text.split(":", 1)[1])["parser"] == "authres"


def test_japanese_verdict_of_a_forward_has_no_english_left() -> None:
    """The whole readable verdict in Japanese (SPF reason included): only protocol words, names and the subject."""
    from rich.console import Console
    from tests.ja_check import english_leftovers

    from mailposture.message.text import render

    final, world, _, _ = three_hops()
    result = asyncio.run(verify_message(final, world, VerifyOptions(ip="203.0.113.9", mail_from="bounce@lists.example",
                                                                    helo="lists.example"), lang="ja"))
    con = Console(record=True, width=200, file=io.StringIO())
    render(result, "ja", con)
    text = con.export_text()
    assert "の 'ip4:203.0.113.0/24' に一致" in text
    protocol = {"AMS", "ARC", "AS", "BIMI", "DKIM", "FROM", "From", "HELO", "IP", "MAIL", "RFC", "arc", "authserv-id",
                "cv", "dkim", "dmarc", "draft-brand-indicators-for-message-identification", "fail", "i", "oldest-pass",
                "pass", "rsa-sha256", "s", "sel", "Meeting", "team"}
    assert not english_leftovers(text, protocol)
