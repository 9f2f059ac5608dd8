"""DKIM verification of messages the tests sign themselves (keys served by a FakeResolver world), one failure
kind per test, and dkimpy's own DKIM vectors (tests/data/dkim, see its PROVENANCE)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.worlds.mail import BASE, default_world, ed_key, pem_public, rsa_key, sign

from mailposture.dns.fake import FakeResolver
from mailposture.message.verify import VerifyOptions, verify_message

DKIM_DATA = Path(__file__).parent / "data" / "dkim"


def verify(message: bytes, zone: dict | None = None, **opts) -> dict:
    world = FakeResolver(zone if zone is not None else default_world().zone)
    return asyncio.run(verify_message(message, world, VerifyOptions(bimi=False, **opts)))


def codes(out: dict) -> set[str]:
    return {f["code"] for f in out["findings"]}


def test_good_rsa_signature_passes_and_aligns() -> None:
    out = verify(sign(BASE))
    [sig] = out["dkim"]
    assert (sig["result"], sig["reason"], sig["d"], sig["s"], sig["a"], sig["key_bits"]) == \
        ("pass", "ok", "origin.example", "sel", "rsa-sha256", 2048)
    assert sig["key"]["name"] == "sel._domainkey.origin.example"
    assert sig["key"]["answer"]["status"] == "ok" and sig["key"]["record"].startswith("v=DKIM1")
    assert out["dmarc"]["result"] == "pass" and out["dmarc"]["aligned"] == {"spf": False, "dkim": True}
    assert out["dmarc"]["disposition"] == "none"


def test_ed25519_signature_passes() -> None:
    out = verify(sign(BASE, s="ed", a="ed25519-sha256", key=ed_key()[0]))
    assert [(s["result"], s["a"], s["key_bits"]) for s in out["dkim"]] == [("pass", "ed25519-sha256", 256)]


def test_body_altered() -> None:
    msg = sign(BASE).replace(b"see you at ten.", b"see you at eleven.")
    [sig] = verify(msg)["dkim"]
    assert (sig["result"], sig["reason"]) == ("fail", "body-hash-mismatch")


def test_header_altered() -> None:
    msg = sign(BASE).replace(b"Subject: Meeting", b"Subject: Invoice overdue")
    out = verify(msg)
    [sig] = out["dkim"]
    assert (sig["result"], sig["reason"], sig["crypto_valid"]) == ("fail", "signature-mismatch", False)
    assert out["dmarc"]["result"] == "fail" and out["dmarc"]["disposition"] == "reject"
    assert "MSG_DMARC_FAIL" in codes(out)


def test_key_missing() -> None:
    [sig] = verify(sign(BASE, s="nokey"))["dkim"]
    assert (sig["result"], sig["reason"]) == ("permerror", "key-missing")
    assert sig["key"]["answer"]["status"] == "nxdomain"


def test_key_revoked() -> None:
    w = default_world()
    w.zone["sel._domainkey.origin.example"] = [("TXT", "v=DKIM1; k=rsa; p=")]
    [sig] = verify(sign(BASE), w.zone)["dkim"]
    assert (sig["result"], sig["reason"]) == ("permerror", "key-revoked")


def test_key_dns_failure_is_temperror_not_missing() -> None:
    w = default_world()
    w.zone["sel._domainkey.origin.example"] = [("SERVFAIL", None)]
    out = verify(sign(BASE), w.zone)
    [sig] = out["dkim"]
    assert (sig["result"], sig["reason"]) == ("temperror", "key-dns-error")
    assert sig["key"]["answer"]["status"] == "error"


def test_expired() -> None:
    now = int(time.time())
    [sig] = verify(sign(BASE, t=now - 7200, x=now - 3600))["dkim"]
    assert (sig["result"], sig["reason"]) == ("fail", "expired")
    [sig] = verify(sign(BASE, t=now - 7200, x=now + 3600))["dkim"]
    assert sig["result"] == "pass"


def test_length_tag_abuse_is_reported() -> None:
    msg = sign(BASE, length=True) + b"\r\nURGENT: wire the money to account 1234.\r\n"
    out = verify(msg)
    [sig] = out["dkim"]
    assert sig["result"] == "pass" and sig["l_unsigned_octets"] > 30
    assert "MSG_DKIM_BODY_LENGTH_UNSIGNED" in codes(out)
    # without appended text there is nothing unsigned
    out = verify(sign(BASE, length=True))
    assert out["dkim"][0]["l_unsigned_octets"] == 0 and "MSG_DKIM_BODY_LENGTH_UNSIGNED" not in codes(out)


def test_length_longer_than_body() -> None:
    msg = sign(BASE, length=True).replace(b"see you at ten.\r\n", b"")
    [sig] = verify(msg)["dkim"]
    assert (sig["result"], sig["reason"]) == ("fail", "body-length-exceeds")


def test_from_mismatch_passes_dkim_but_fails_dmarc() -> None:
    out = verify(sign(BASE, d="other.example", s="other"))
    assert out["dkim"][0]["result"] == "pass"
    assert out["dmarc"]["result"] == "fail" and out["dmarc"]["aligned"]["dkim"] is False
    assert out["dmarc"]["policy"] == "reject" and out["dmarc"]["disposition"] == "reject"


def test_several_from_fields() -> None:
    signed = sign(BASE)
    msg = signed.replace(b"To: ", b"From: ceo@attacker.example\r\nTo: ", 1)
    out = verify(msg)
    assert out["dkim"][0]["result"] == "fail"   # dkimpy signs every From instance (the extra one breaks it)
    assert {"MSG_FROM_MULTIPLE", "MSG_FROM_SEVERAL_DOMAINS"} <= codes(out)
    assert out["from_domain"] is None and out["dmarc"]["result"] == "permerror"


def test_from_not_signed_is_ignored() -> None:
    [sig] = verify(sign(BASE, headers=("to", "subject", "date")))["dkim"]
    assert (sig["result"], sig["reason"]) == ("permerror", "from-not-signed")


def test_rsa_sha1_never_passes() -> None:
    [sig] = verify(sign(BASE, a="rsa-sha1"))["dkim"]
    assert (sig["result"], sig["reason"], sig["crypto_valid"]) == ("fail", "rsa-sha1", True)


def test_short_rsa_key_fails() -> None:
    pem = (DKIM_DATA / "rsa512.pem").read_bytes()
    w = default_world()
    w.key("weak", "origin.example", pem_public(pem))
    [sig] = verify(sign(BASE, s="weak", key=pem), w.zone)["dkim"]
    assert (sig["result"], sig["reason"], sig["key_bits"], sig["crypto_valid"]) == ("fail", "key-too-short", 512, True)


def test_key_record_tags() -> None:
    w = default_world()
    w.key("sha1only", "origin.example", rsa_key()[1], extra="h=sha1; ")
    w.key("strict", "origin.example", rsa_key()[1], extra="t=s; ")
    w.key("edkey", "origin.example", ed_key()[1], k="ed25519")
    w.key("testing", "origin.example", rsa_key()[1], extra="t=y; ")
    [sig] = verify(sign(BASE, s="sha1only"), w.zone)["dkim"]
    assert sig["reason"] == "key-hash-not-allowed"
    [sig] = verify(sign(BASE, s="strict", i="news@mail.origin.example"), w.zone)["dkim"]
    assert sig["reason"] == "key-strict-subdomain"
    [sig] = verify(sign(BASE, s="strict", i="news@origin.example"), w.zone)["dkim"]
    assert sig["result"] == "pass"
    [sig] = verify(sign(BASE, s="edkey"), w.zone)["dkim"]
    assert sig["reason"] == "key-type-mismatch"
    out = verify(sign(BASE, s="testing"), w.zone)
    assert out["dkim"][0]["testing"] is True and "MSG_DKIM_TESTING" in codes(out)


def test_every_signature_is_reported_separately() -> None:
    msg = sign(sign(sign(BASE, s="ed", a="ed25519-sha256", key=ed_key()[0]), s="nokey"), d="other.example", s="other")
    out = verify(msg)
    assert [(s["d"], s["s"], s["result"]) for s in out["dkim"]] == [
        ("other.example", "other", "pass"), ("origin.example", "nokey", "permerror"),
        ("origin.example", "ed", "pass")]
    assert out["dmarc"]["result"] == "pass"   # the aligned Ed25519 signature suffices


def test_unsigned_extra_subject_is_flagged() -> None:
    msg = sign(BASE)
    forged = msg.replace(b"Subject: Meeting", b"Subject: Click here\r\nSubject: Meeting")
    out = verify(forged)
    assert out["dkim"][0]["not_covered"] == ["subject"]
    assert "MSG_DKIM_HEADER_NOT_COVERED" in codes(out)
    over = verify(sign(BASE, headers=("from", "from", "to", "subject", "subject")))
    assert over["dkim"][0]["result"] == "pass" and over["dkim"][0]["oversigned"] == ["from", "subject"]


# ---------------------------------------------------------------------------------------------------- dkimpy vectors

def _dkimpy_world() -> dict:
    return {"brisbane._domainkey.football.example.com":
            [("TXT", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")],
            "test._domainkey.football.example.com": [("TXT", (DKIM_DATA / "test.txt").read_text().strip())],
            "sed._domainkey.test.ex": [("TXT", (DKIM_DATA / "eximtest.dns").read_text().strip())]}


def test_rfc8463_example_both_signatures() -> None:
    out = verify((DKIM_DATA / "rfc6376.signed.msg").read_bytes(), _dkimpy_world())
    assert [(s["a"], s["result"], s["key_bits"]) for s in out["dkim"]] == [
        ("ed25519-sha256", "pass", 256), ("rsa-sha256", "pass", 1024)]
    assert out["from_domain"] == "football.example.com"


def test_dkimpy_vectors() -> None:
    world = _dkimpy_world()
    for name in ("rfc6376.signed.rsa.msg", "ed25519test2.msg"):
        out = verify((DKIM_DATA / name).read_bytes(), world)
        assert out["dkim"] and all(s["result"] == "pass" for s in out["dkim"]), name
    # dkimpy's no_t vector: t= removed and x= added after signing, so the signature cannot verify (dkimpy's
    # test_no_t expects False too); without t= nothing must crash
    [sig] = verify((DKIM_DATA / "rfc6376.signed.no_t.msg").read_bytes(), world)["dkim"]
    assert (sig["result"], sig["reason"], sig["t"], sig["x"]) == ("fail", "signature-mismatch", None, "100000000000")
    # the same vectors with a byte of the body changed fail on the body hash
    data = (DKIM_DATA / "rfc6376.signed.msg").read_bytes().replace(b"hungry", b"Hungry")
    assert {s["reason"] for s in verify(data, world)["dkim"]} == {"body-hash-mismatch"}


def test_dkimpy_test_message_signed_with_its_key() -> None:
    pem = (DKIM_DATA / "test.private").read_bytes()
    msg = sign((DKIM_DATA / "test.message").read_bytes().replace(b"\n", b"\r\n"), d="example.com", s="test", key=pem)
    zone = {"test._domainkey.example.com": [("TXT", (DKIM_DATA / "test.txt").read_text().strip())]}
    out = verify(msg, zone)
    assert [(s["result"], s["key_bits"]) for s in out["dkim"]] == [("pass", 1024)]


def test_unusable_domain_is_a_permerror_without_a_lookup() -> None:
    world = FakeResolver(default_world().zone)
    out = asyncio.run(verify_message(sign(BASE, d="origin..example"), world, VerifyOptions(bimi=False)))
    [sig] = out["dkim"]
    assert (sig["result"], sig["reason"]) == ("permerror", "bad-tag-value") and "empty label" in sig["detail"]


def test_dns_failure_on_the_aligned_key_makes_dmarc_temperror_not_fail() -> None:
    """The only aligned signature's key lookup failed: DMARC cannot be decided now (RFC 7489 §11.2 temperror, "a
    later attempt might produce a final result"); a receiver told 'fail, reject' would bounce good mail."""
    w = default_world()
    w.zone["sel._domainkey.origin.example"] = [("SERVFAIL", None)]
    out = verify(sign(BASE), w.zone)
    assert out["dkim"][0]["result"] == "temperror"
    assert (out["dmarc"]["result"], out["dmarc"]["disposition"]) == ("temperror", "none")
    assert out["dmarc"]["unverified"] == ["dkim d=origin.example"]
    assert "MSG_DMARC_FAIL" not in codes(out)
    # an unaligned signature's DNS failure changes nothing: no aligned identity passed, DMARC fails
    w.key("other", "other.example", rsa_key()[1])
    w.zone["other._domainkey.other.example"] = [("SERVFAIL", None)]
    out = verify(sign(BASE, d="other.example", s="other"), w.zone)
    assert out["dmarc"]["result"] == "fail" and out["dmarc"]["disposition"] == "reject"


def test_a_flood_of_signatures_is_capped() -> None:
    """RFC 6376 §6.1/§8.4: 500 signatures (all naming different keys) cost at most MAX_SIGNATURES key lookups; the
    rest are reported unverified (policy), with one finding, and stay out of the Authentication-Results field.
    The From domain's own signature is verified first, so junk added on the way cannot push it out."""
    from mailposture.message.authres_io import ar_header
    from mailposture.message.dkimsig import MAX_SIGNATURES

    world = FakeResolver(default_world().zone)
    junk = b"".join(b"DKIM-Signature: v=1; a=rsa-sha256; d=junk%d.example; s=k; h=from; bh=YQ==; b=YQ==\r\n" % i
                    for i in range(500))
    out = asyncio.run(verify_message(junk + sign(BASE), world, VerifyOptions(bimi=False)))
    assert len(out["dkim"]) == 501
    assert len([name for name, _ in world.log if "._domainkey." in name]) <= MAX_SIGNATURES
    assert out["dkim"][500]["result"] == "pass" and out["dmarc"]["result"] == "pass"
    unverified = [s for s in out["dkim"] if s["reason"] == "over-limit"]
    assert len(unverified) == 501 - MAX_SIGNATURES and {s["result"] for s in unverified} == {"policy"}
    listed = [f["code"] for f in out["findings"]]
    assert listed.count("MSG_DKIM_TOO_MANY") == 1 and listed.count("MSG_DKIM_FAIL") == MAX_SIGNATURES - 1
    assert ar_header("mx.example", out).count("dkim=") == MAX_SIGNATURES


def _finding(out: dict, code: str) -> dict | None:
    return next((f for f in out["findings"] if f["code"] == code), None)


def _testing_world():
    w = default_world()
    w.key("testing", "origin.example", rsa_key()[1], extra="t=y; ")
    return w


def test_failing_signature_of_a_testing_key_counts_as_no_signature() -> None:
    # RFC 6376 §3.6.1: verifiers MUST NOT treat messages from signers in testing mode differently from unsigned
    # mail, even when the signature fails. The failure is reported as such, with a note; DMARC is what the
    # unsigned message gets, no better and no worse.
    w = _testing_world()
    altered = sign(BASE, s="testing").replace(b"see you at ten.", b"see you at eleven.")
    out = verify(altered, w.zone)
    unsigned = verify(BASE.replace(b"see you at ten.", b"see you at eleven."), w.zone)
    [sig] = out["dkim"]
    assert (sig["result"], sig["reason"], sig["testing"]) == ("fail", "body-hash-mismatch", True)
    keys = ("result", "reason", "policy", "disposition", "aligned")
    assert {k: out["dmarc"][k] for k in keys} == {k: unsigned["dmarc"][k] for k in keys}
    assert out["dmarc"]["result"] == "fail" and out["dmarc"]["disposition"] == "reject"
    assert out["dmarc"]["dkim_testing"] == [{"d": "origin.example", "s": "testing", "result": "fail",
                                             "aligned": True}]
    assert _finding(out, "MSG_DKIM_FAIL")["severity"] == "warning"        # as MSG_DKIM_NONE for no signature
    assert _finding(unsigned, "MSG_DKIM_NONE")["severity"] == "warning"
    note = _finding(out, "MSG_DKIM_TESTING_FAIL")
    assert note and "d=origin.example s=testing" in note["message"] and "(fail)" in note["message"]
    # the same failure under a key without t=y stays an error, without the note
    plain = verify(sign(BASE).replace(b"see you at ten.", b"see you at eleven."), w.zone)
    assert _finding(plain, "MSG_DKIM_FAIL")["severity"] == "error"
    assert _finding(plain, "MSG_DKIM_TESTING_FAIL") is None and plain["dmarc"]["dkim_testing"] == []
    # with SPF aligned and passing, the testing failure changes nothing either
    spf_ok = dict(ip="192.0.2.10", mail_from="alice@origin.example", helo="mail.origin.example")
    both = verify(altered, w.zone, **spf_ok)
    unsigned_spf = verify(BASE, w.zone, **spf_ok)
    assert unsigned_spf["dmarc"]["result"] == "pass"
    assert {k: both["dmarc"][k] for k in keys} == {k: unsigned_spf["dmarc"][k] for k in keys}


def test_pass_through_testing_keys_only_is_said() -> None:
    w = _testing_world()
    out = verify(sign(BASE, s="testing"), w.zone)
    assert out["dmarc"]["result"] == "pass" and out["dmarc"]["pass_testing_keys_only"] is True
    f = _finding(out, "MSG_DMARC_PASS_TESTING_KEY")
    assert f and f["severity"] == "warning" and "p=reject" in f["message"] and "s=testing" in f["message"]
    both = verify(sign(sign(BASE, s="testing")), w.zone)     # an aligned signature under a normal key as well
    assert both["dmarc"]["result"] == "pass" and "pass_testing_keys_only" not in both["dmarc"]
    assert _finding(both, "MSG_DMARC_PASS_TESTING_KEY") is None
