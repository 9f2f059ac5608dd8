"""DMARC for one message: sp / np / pct dispositions, strict alignment, SPF alignment, DNS errors, BIMI."""

from __future__ import annotations

import asyncio

from tests.worlds.mail import BASE, default_world, sign

from mailposture.dns.fake import FakeResolver
from mailposture.message.verify import VerifyOptions, verify_message


def run(msg: bytes, world, **opts) -> dict:
    return asyncio.run(verify_message(msg, FakeResolver(world.zone), VerifyOptions(**opts)))


def from_(addr: str) -> bytes:
    return BASE.replace(b"taro@origin.example", addr.encode())


def test_subdomain_uses_sp_and_pct_sampling() -> None:
    w = default_world()
    w.zone["_dmarc.origin.example"] = [("TXT", "v=DMARC1; p=reject; sp=quarantine; pct=50")]
    w.add("news.origin.example", "A", "192.0.2.20")
    out = run(from_("n@news.origin.example"), w, bimi=False)
    dm = out["dmarc"]
    assert (dm["result"], dm["policy"], dm["policy_tag"], dm["pct"]) == ("fail", "quarantine", "sp", 50)
    assert dm["disposition"] == "quarantine" and dm["disposition_sampled_out"] == "none"
    assert dm["source"] == "organizational" and "Public Suffix" in dm["org_domain"]["method"]
    assert "MSG_DMARC_PCT" in {f["code"] for f in out["findings"]}


def test_nonexistent_subdomain_uses_np() -> None:
    w = default_world()
    w.zone["_dmarc.origin.example"] = [("TXT", "v=DMARC1; p=quarantine; sp=none; np=reject")]
    dm = run(from_("x@ghost.origin.example"), w, bimi=False)["dmarc"]
    assert (dm["result"], dm["policy"], dm["policy_tag"], dm["disposition"]) == ("fail", "reject", "np", "reject")


def test_relaxed_and_strict_alignment() -> None:
    w = default_world()
    w.key("sel", "mail.origin.example", w.zone["sel._domainkey.origin.example"][0][1].split("p=")[1])
    msg = sign(BASE, d="mail.origin.example")
    assert run(msg, w, bimi=False)["dmarc"]["aligned"]["dkim"] is True        # relaxed: same org domain
    w.zone["_dmarc.origin.example"] = [("TXT", "v=DMARC1; p=reject; adkim=s")]
    dm = run(msg, w, bimi=False)["dmarc"]
    assert dm["aligned"]["dkim"] is False and dm["result"] == "fail"


def test_spf_alone_aligns() -> None:
    dm = run(BASE, default_world(), bimi=False, ip="192.0.2.10", mail_from="bounce@origin.example")["dmarc"]
    assert dm["result"] == "pass" and dm["aligned"] == {"spf": True, "dkim": False}
    out = run(BASE, default_world(), bimi=False, ip="203.0.113.9", mail_from="bounce@origin.example")
    assert out["spf"]["result"] == "fail" and out["dmarc"]["result"] == "fail"


def test_dmarc_dns_error_is_temperror_not_none() -> None:
    w = default_world()
    w.zone["_dmarc.origin.example"] = [("TIMEOUT", None)]
    out = run(sign(BASE), w, bimi=False)
    assert out["dmarc"]["result"] == "temperror"
    assert "MSG_DMARC_DNS_ERROR" in {f["code"] for f in out["findings"]}


def test_no_policy_is_none() -> None:
    w = default_world()
    del w.zone["_dmarc.origin.example"]
    assert run(sign(BASE), w, bimi=False)["dmarc"]["result"] == "none"


def test_bimi_eligibility() -> None:
    w = default_world()
    w.add("default._bimi.origin.example", "TXT", "v=BIMI1; l=https://origin.example/logo.svg; a=")
    out = run(sign(BASE), w)
    assert out["bimi"]["eligible"] is True and out["bimi"]["location"] == "https://origin.example/logo.svg"
    # the same record, a message that fails DMARC
    assert run(BASE, w)["bimi"]["reason"] == "dmarc-not-pass"
    # a BIMI-Selector asks for another record
    sel = sign(BASE.replace(b"MIME-Version", b"BIMI-Selector: v=BIMI1; s=brand\r\nMIME-Version"))
    got = run(sel, w)["bimi"]
    assert (got["selector"], got["eligible"], got["reason"]) == ("brand", False, "no-record")
    # policy not at enforcement
    w.zone["_dmarc.origin.example"] = [("TXT", "v=DMARC1; p=none")]
    assert run(sign(BASE), w)["bimi"]["reason"] == "dmarc-not-enforcing"
