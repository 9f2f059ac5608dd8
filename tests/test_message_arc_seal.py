"""ARC sets written by `message check --arc-seal` (message.arc.seal_message): the b= of the new ARC-Seal and
ARC-Message-Signature verified back by the project's own ARC verifier, and cross-checked with dkimpy's
arc_verify (what its `arcverify` script runs) in both directions: our seals against dkimpy's verifier, dkimpy's
arc_sign seals against ours. A b= changed by one character must fail in both verifiers (issue 14)."""

from __future__ import annotations

import asyncio
import re

import dkim
import pytest
from tests.worlds.mail import BASE, default_world, rsa_key, sign

from mailposture.dns.fake import FakeResolver
from mailposture.message.arc import seal_message
from mailposture.message.authres_io import ar_header
from mailposture.message.verify import VerifyOptions, verify_message

HOP1 = dict(ip="192.0.2.10", mail_from="taro@origin.example", helo="mail.origin.example")
HOP2 = dict(ip="198.51.100.7", mail_from="bounce@forwarder.example", helo="mx.forwarder.example")


def run(message: bytes, zone: dict, **opts) -> dict:
    return asyncio.run(verify_message(message, FakeResolver(zone), VerifyOptions(bimi=False, **opts)))


def dnsfunc(zone: dict):
    """dkimpy's DNS hook over the same world (TXT of a name, None when there is none)."""
    def get_txt(name: bytes, timeout: float = 5) -> bytes | None:
        texts = [v for t, v in zone.get(name.decode().rstrip(".").lower(), []) if t == "TXT"]
        return texts[0].encode() if texts else None
    return get_txt


def ours(message: bytes, zone: dict, *, host: str, d: str, s: str, **hop) -> bytes:
    """What --arc-seal does: verify, write this host's Authentication-Results, add the set."""
    verdict = run(message, zone, **hop)
    value = ar_header(host, verdict).split(":", 1)[1].strip()
    sealed, fields = seal_message(message, value, srv_id=host, selector=s, domain=d, private_key=rsa_key()[0])
    assert [f.split(b":", 1)[0] for f in fields] == [b"ARC-Seal", b"ARC-Message-Signature",
                                                     b"ARC-Authentication-Results"]
    return sealed


def theirs(message: bytes, zone: dict, *, host: str, d: str, s: str, **hop) -> bytes:
    """The same hop sealed by dkimpy's arc_sign (its `arcsign` script) on the same Authentication-Results."""
    verdict = run(message, zone, **hop)
    with_ar = ar_header(host, verdict).encode() + b"\r\n" + message
    fields = dkim.arc_sign(with_ar, s.encode(), d.encode(), rsa_key()[0], host.encode())
    assert len(fields) == 3
    return b"".join(fields) + with_ar


def flip_b(message: bytes, field: bytes) -> bytes:
    """``message`` with the first character of b= in the newest ``field`` (ARC-Seal or ARC-Message-Signature)
    changed: the signature no longer matches."""
    start = message.index(field + b":")
    end = re.compile(rb"\r?\n(?![ \t])").search(message, start).end()
    value = message[start:end]
    m = re.search(rb"(?<![A-Za-z])b=\s*([A-Za-z0-9+/])", value)
    assert m, value
    c = m.group(1)
    swapped = value[:m.start(1)] + (b"B" if c != b"B" else b"C") + value[m.end(1):]
    return message[:start] + swapped + message[end:]


def dkimpy_cv(message: bytes, zone: dict) -> str:
    cv, _results, _comment = dkim.arc_verify(message, dnsfunc=dnsfunc(zone))
    return cv.decode() if isinstance(cv, bytes) else str(cv)


@pytest.mark.parametrize("sealer", [ours, theirs], ids=["mailposture", "dkimpy"])
def test_seals_verify_back_in_both_verifiers(sealer) -> None:
    zone = default_world().zone
    m1 = sealer(sign(BASE), zone, host="mx.forwarder.example", d="forwarder.example", s="fwd", **HOP1)
    m2 = sealer(m1, zone, host="lists.example", d="lists.example", s="list", **HOP2)
    for msg, instances, cvs in ((m1, 1, ["none"]), (m2, 2, ["none", "pass"])):
        arc = run(msg, zone)["arc"]
        assert (arc["cv"], arc["instances"], arc["failed_instance"]) == ("pass", instances, None), arc["reason"]
        assert [s["as"]["cv"] for s in arc["sets"]] == cvs
        assert all(s["ams"]["present"] and s["as"]["present"] and s["aar"]["present"] for s in arc["sets"])
        assert dkimpy_cv(msg, zone) == "pass"


@pytest.mark.parametrize("sealer", [ours, theirs], ids=["mailposture", "dkimpy"])
@pytest.mark.parametrize(("field", "reason_code"), [(b"ARC-Message-Signature", "newest-ams-invalid"),
                                                    (b"ARC-Seal", "seal-invalid")])
def test_a_changed_b_fails_in_both_verifiers(sealer, field: bytes, reason_code: str) -> None:
    zone = default_world().zone
    m1 = sealer(sign(BASE), zone, host="mx.forwarder.example", d="forwarder.example", s="fwd", **HOP1)
    m2 = sealer(m1, zone, host="lists.example", d="lists.example", s="list", **HOP2)
    for msg in (m1, m2):
        bad = flip_b(msg, field)
        assert bad != msg
        arc = run(bad, zone)["arc"]
        assert arc["cv"] == "fail" and arc["reason_code"] == reason_code, arc
        assert dkimpy_cv(bad, zone) == "fail"


def test_a_seal_under_another_key_fails() -> None:
    # the published key of forwarder.example is not the one that sealed: b= cannot verify
    zone = default_world().zone
    m1 = ours(sign(BASE), zone, host="mx.forwarder.example", d="forwarder.example", s="fwd", **HOP1)
    other = default_world().zone
    other["fwd._domainkey.forwarder.example"] = [("TXT", "v=DKIM1; k=rsa; p=" + rsa_key(1024)[1])]
    arc = run(m1, other)["arc"]
    assert arc["cv"] == "fail" and arc["reason_code"] == "newest-ams-invalid"
    assert dkimpy_cv(m1, other) == "fail"
