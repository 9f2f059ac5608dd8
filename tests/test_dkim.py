"""DKIM discovery (RFC 6376 §3.6.2, RFC 8020) and key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463).

FakeResolver worlds for every finding code, plus a real NSD world with a wildcard under _domainkey proving that
the control query keeps the wildcard from counting as keys.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_program
from mailposture.checks import dkim
from mailposture.dns.fake import FakeResolver
from mailposture.findings import CATALOG

D = "example.com"


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _int(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")  # keeps a leading 0 when the top bit is set
    return _tlv(0x02, raw)


def rsa_pkcs1(bits: int) -> bytes:
    modulus = (1 << (bits - 1)) | 0xF1  # odd, exactly `bits` long: only the length matters for these checks
    return _tlv(0x30, _int(modulus) + _int(65537))


def rsa_spki(bits: int) -> bytes:
    alg = _tlv(0x30, dkim.RSA_OID + b"\x05\x00")
    return _tlv(0x30, alg + _tlv(0x03, b"\x00" + rsa_pkcs1(bits)))


def p(der: bytes) -> str:
    return base64.b64encode(der).decode()


K2048 = p(rsa_spki(2048))


def key(extra: str = "", pval: str = K2048) -> str:
    return f"v=DKIM1; k=rsa; {extra}{'; ' if extra else ''}p={pval}"


async def run(zone: dict, **kw: object) -> tuple[dict, FakeResolver]:
    res = FakeResolver(zone)
    return await dkim.analyze(D, res, control_label="ctl", **kw), res


def codes(section: dict) -> list[str]:
    for f in section["findings"]:  # every parameter of the message templates is filled, in both languages
        assert "{" not in f.message("en") + f.message("ja") + f.fix("en") + f.fix("ja"), f.code
    return [f.code for f in section["findings"]]


def sel(record: object, selector: str = "google") -> dict:
    return {D: [("MX", (10, "mx.example.com"))], f"{selector}._domainkey.{D}": [("TXT", record)]}


CASES: dict[str, dict] = {
    "DKIM_FOUND": sel(key()),
    "DKIM_NONE": {D: [("MX", (10, "mx.example.com"))]},
    "DKIM_NOT_FOUND": sel(key(), selector="unlisted-2024"),
    "DKIM_WILDCARD": {D: [("A", "192.0.2.1")], f"*._domainkey.{D}": [("TXT", key())]},
    "DKIM_DNS_ERROR": {D: [("A", "192.0.2.1")], f"google._domainkey.{D}": [("TIMEOUT", None)]},
    "DKIM_SYNTAX": sel(f"v=DKIM1; p={K2048}; p={K2048}"),
    "DKIM_VERSION": sel(f"v=DKIM2; p={K2048}"),
    "DKIM_NO_KEY": sel("v=DKIM1; k=rsa"),
    "DKIM_REVOKED": sel("v=DKIM1; k=rsa; p="),
    "DKIM_KEY_INVALID": sel("v=DKIM1; p=!!notbase64!!"),
    "DKIM_KEY_TYPE_UNKNOWN": sel(f"v=DKIM1; k=dsa; p={K2048}"),
    "DKIM_KEY_TOO_SHORT": sel(key(pval=p(rsa_spki(512)))),
    "DKIM_KEY_WEAK": sel(key(pval=p(rsa_spki(1024)))),
    "DKIM_KEY_TOO_LONG": sel(key(pval=p(rsa_spki(8192)))),
    "DKIM_TESTING": sel(key("t=y")),
    "DKIM_SHA1_ONLY": sel(key("h=sha1")),
    "DKIM_SERVICE_NOT_EMAIL": sel(key("s=other")),
    "DKIM_OBSOLETE_TAG": sel(key("g=*")),
    "DKIM_MULTIPLE_RECORDS": {D: [("A", "192.0.2.1")],
                              f"google._domainkey.{D}": [("TXT", key()), ("TXT", key("t=y"))]},
    "DKIM_LEGACY_RECORD": {D: [("A", "192.0.2.1")], f"_domainkey.{D}": [("TXT", "o=~; r=postmaster@example.com")]},
}


def test_cases_cover_every_dkim_code() -> None:
    assert set(CASES) == {c for c in CATALOG if c.startswith("DKIM_")}


@pytest.mark.parametrize("code", sorted(CASES))
async def test_each_code(code: str) -> None:
    section, _ = await run(CASES[code])
    assert code in codes(section)


async def test_found_key_facts() -> None:
    section, res = await run(sel(key()))
    assert section["status"] == "ok" and section["present"] is True and section["selectors"] == ["google"]
    (k,) = section["keys"]
    assert k["bits"] == 2048 and k["k"] == "rsa" and k["valid"] and not k["revoked"]
    n = len(dkim.default_selectors())
    assert len(res.log) == 2 + n and section["probed"] == n  # _domainkey + control + every selector
    assert section["wildcard"] is False


async def test_nxdomain_short_circuits_after_one_query() -> None:
    section, res = await run({D: [("MX", (10, "mx.example.com"))]})
    assert section["status"] == "none" and section["present"] is False and section["proof"] == "nxdomain"
    assert res.log == [(f"_domainkey.{D}", "TXT")]


async def test_wildcard_answers_are_not_keys_but_explicit_ones_are() -> None:
    zone = {D: [("A", "192.0.2.1")], f"*._domainkey.{D}": [("TXT", "v=DKIM1; p=")],
            f"selector1._domainkey.{D}": [("TXT", key())]}
    section, _ = await run(zone)
    assert section["wildcard"] is True and section["selectors"] == ["selector1"]
    assert "DKIM_WILDCARD" in codes(section)


async def test_only_wildcard_is_unknown_not_found() -> None:
    section, _ = await run(CASES["DKIM_WILDCARD"])
    assert section["status"] == "unknown" and section["present"] is None and section["selectors"] == []


async def test_dns_error_without_keys_is_error_not_absent() -> None:
    section, _ = await run(CASES["DKIM_DNS_ERROR"])
    assert section["status"] == "error" and section["present"] is None and "DKIM_NOT_FOUND" not in codes(section)


async def test_no_key_among_probed_selectors_is_unknown() -> None:
    section, _ = await run(CASES["DKIM_NOT_FOUND"])
    assert section["status"] == "unknown" and section["present"] is None


async def test_cname_to_provider_is_followed_and_recorded() -> None:
    zone = {D: [("A", "192.0.2.1")],
            f"selector1._domainkey.{D}": [("CNAME", "selector1-example-com._domainkey.tenant.onmicrosoft.test")],
            "selector1-example-com._domainkey.tenant.onmicrosoft.test": [("TXT", key())]}
    section, _ = await run(zone)
    assert section["selectors"] == ["selector1"]
    assert section["keys"][0]["cname_chain"] == ["selector1-example-com._domainkey.tenant.onmicrosoft.test"]


async def test_custom_selector_list(tmp_path: Path) -> None:
    f = tmp_path / "sel.txt"
    f.write_text("# mine\nunlisted-2024  # provider X\n\nUNLISTED-2024\n", "utf-8")
    sels = dkim.load_selectors(f)
    assert sels == ("unlisted-2024",)
    section, res = await run(CASES["DKIM_NOT_FOUND"], selectors=sels)
    assert section["selectors"] == ["unlisted-2024"] and len(res.log) == 3


@pytest.mark.parametrize("text", ["bad selector\n", "a..b\n", "-x\n"])
def test_bad_selector_file_names_the_line(tmp_path: Path, text: str) -> None:
    f = tmp_path / "sel.txt"
    f.write_text("ok\n" + text, "utf-8")
    with pytest.raises(ValueError, match="line 2"):
        dkim.load_selectors(f)


def test_missing_selector_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        dkim.load_selectors(tmp_path / "absent.txt")


def test_default_list_is_short_and_has_the_big_providers() -> None:
    sels = dkim.default_selectors()
    assert 20 <= len(sels) <= 35
    assert {"google", "selector1", "selector2", "k1", "k2", "k3", "s1", "s2", "default", "dkim", "mail"} <= set(sels)


# ------------------------------------------------------------------------------------------------ key parsing

@pytest.mark.parametrize("bits", [512, 1024, 2048, 3072, 4096])
def test_rsa_bits_minimal_der(bits: int) -> None:
    assert dkim.rsa_key_bits(rsa_spki(bits)) == (bits, "spki")
    assert dkim.rsa_key_bits(rsa_pkcs1(bits)) == (bits, "pkcs1")


def test_real_keys_via_cryptography() -> None:
    crypto = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    priv = crypto.generate_private_key(public_exponent=65537, key_size=1024)
    der = priv.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    assert dkim.rsa_key_bits(der) == (1024, "spki")
    info, f = dkim.parse_key(f"v=DKIM1; p={p(der)}", "s")
    assert info["bits"] == 1024 and [x.code for x in f] == ["DKIM_KEY_WEAK"]
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = ed.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    info, f = dkim.parse_key(f"v=DKIM1; k=ed25519; p={p(raw)}", "e")
    assert info["bits"] == 256 and info["valid"] and f == []
    spki_ed = ed.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    info, f = dkim.parse_key(f"v=DKIM1; p={p(spki_ed)}", "e")  # k defaults to rsa
    assert [x.code for x in f] == ["DKIM_KEY_INVALID"] and not info["valid"]


def test_ed25519_wrong_length() -> None:
    _, f = dkim.parse_key(f"v=DKIM1; k=ed25519; p={p(b'x' * 31)}", "e")
    assert [x.code for x in f] == ["DKIM_KEY_INVALID"]


def test_base64_with_folding_whitespace() -> None:
    folded = " ".join(K2048[i:i + 60] for i in range(0, len(K2048), 60))
    info, f = dkim.parse_key(f"v=DKIM1;\r\n\tk=rsa; p={folded}", "s")
    assert info["bits"] == 2048 and f == []


def test_version_must_be_first() -> None:
    _, f = dkim.parse_key(f"k=rsa; v=DKIM1; p={K2048}", "s")
    assert [x.code for x in f] == ["DKIM_VERSION"]


def test_empty_tag_spec_is_only_a_warning() -> None:
    info, f = dkim.parse_key(f"v=DKIM1;; p={K2048}", "s")
    assert [(x.code, x.severity) for x in f] == [("DKIM_SYNTAX", "warning")] and info["valid"]


def test_sha256_with_sha1_is_fine() -> None:
    _, f = dkim.parse_key(key("h=sha1:sha256"), "s")
    assert f == []


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x30\x85\xff\xff\xff\xff\xff", b"\x02\x01\x01", b"\x30\x03\x02\x01",
                                 rsa_spki(2048)[:-5], rsa_spki(2048) + b"\x00"])
def test_bad_der_raises_value_error(der: bytes) -> None:
    with pytest.raises(ValueError):
        dkim.rsa_key_bits(der)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_key_parser_never_crashes(text: str) -> None:
    info, findings = dkim.parse_key(text, "s")
    assert all(f.code in CATALOG for f in findings) and isinstance(info["valid"], bool)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_der_parser_only_raises_value_error(der: bytes) -> None:
    try:
        bits, _ = dkim.rsa_key_bits(der)
        assert bits > 0
    except ValueError:
        pass


# ------------------------------------------------------------------------------------------------ real DNS (NSD)

@pytest.mark.system
async def test_nsd_world_wildcard_and_nxdomain() -> None:
    require_program("nsd")
    from mailposture.dns.engine import Engine
    from mailposture.dns.nsd import NsdServer

    world = {
        "wild.test": [("A", "192.0.2.1")],
        "*._domainkey.wild.test": [("TXT", key())],           # every selector "exists"
        "signed.test": [("A", "192.0.2.2")],
        "google._domainkey.signed.test": [("TXT", key())],
        "nodkim.test": [("A", "192.0.2.3")],
    }
    with NsdServer.from_records(world, ["wild.test", "signed.test", "nodkim.test"]) as ns:
        async with Engine([ns.address], timeout=1, retries=1) as engine:
            wild = await dkim.analyze("wild.test", engine)
            signed = await dkim.analyze("signed.test", engine)
            none = await dkim.analyze("nodkim.test", engine)
    assert wild["wildcard"] is True and wild["selectors"] == [] and wild["status"] == "unknown"
    assert "DKIM_WILDCARD" in codes(wild)
    assert signed["selectors"] == ["google"] and signed["keys"][0]["bits"] == 2048 and signed["wildcard"] is False
    assert none["status"] == "none" and none["proof"] == "nxdomain"


def test_notes_and_flags_are_kept() -> None:
    info, f = dkim.parse_key(key("n=rotated 2024; t=s:y"), "s")
    assert info["notes"] == "rotated 2024" and info["flags"] == ["s", "y"] and info["testing"]
    assert [x.code for x in f] == ["DKIM_TESTING"]
