"""The public ARC test suite (ValiMail arc_test_suite, tests/data/arc, MIT): every validation scenario through
the project's DNS layer (a FakeResolver world built from the suite's canned TXT records), and the signing
scenarios as far as they can be checked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from dkim.util import parse_tag_value

from mailposture.dns.fake import FakeResolver
from mailposture.message import arc as arcmod
from mailposture.message.verify import VerifyOptions, verify_message

DATA = Path(__file__).parent / "data" / "arc"


def _load(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def _world(doc: dict) -> FakeResolver:
    return FakeResolver({k.rstrip("."): [("TXT", v)] for k, v in (doc.get("txt-records") or {}).items()})


VALIDATION = [(name, test, doc) for doc in _load("arc-draft-validation-tests.yml")
              for name, test in doc["tests"].items()]
SIGNING = [(name, test, doc) for doc in _load("arc-draft-sign-tests.yml") for name, test in doc["tests"].items()]


def test_the_suite_is_complete() -> None:
    assert len(VALIDATION) >= 170 and len(SIGNING) >= 17
    assert {(t["cv"] or "").strip().lower() for _, t, _ in VALIDATION} == {"", "none", "pass", "fail"}


@pytest.mark.parametrize(("name", "test", "doc"), VALIDATION, ids=[v[0] for v in VALIDATION])
def test_validation_scenario(name: str, test: dict, doc: dict) -> None:
    # the suite writes an empty cv for chains that RFC 8617 §5.2 calls fail
    expected = (test["cv"] or "").strip().lower() or "fail"
    world = _world(doc)
    out = asyncio.run(verify_message(test["message"].encode(), world, VerifyOptions(bimi=False)))
    arc = out["arc"]
    assert arc["cv"] == expected, (name, arc["reason"])
    assert not [f for f in out["findings"] if f["code"] == "MSG_SECTION_ERROR"]
    if expected == "fail":
        assert arc["failed_instance"] and arc["reason"] and arc["reason_code"] in arcmod.REASONS
        assert any(f["code"] == "ARC_CHAIN_FAIL" for f in out["findings"])
    elif expected == "pass":
        assert arc["oldest_pass"] is not None and arc["instances"] >= 1 and arc["failed_instance"] is None
        # every key came through the resolver (its answer kept), and every set's claims were read
        assert out["dns"]["keys"] and all(a["status"] == "ok" for a in out["dns"]["keys"].values())
        assert set(out["dns"]["keys"]) <= {q for q, _ in world.log}
        assert all(s["aar"]["present"] for s in arc["sets"])
    else:
        assert arc["instances"] == 0 and arc["failed_instance"] is None


@pytest.mark.parametrize(("name", "test", "doc"), SIGNING, ids=[s[0] for s in SIGNING])
def test_signing_scenario(name: str, test: dict, doc: dict) -> None:
    msg = test["message"].encode()
    heads = [h.encode() for h in test["sig-headers"].split(":")]
    try:
        fields = arcmod.seal(msg, selector=doc["sel"], domain=doc["domain"], private_key=doc["privatekey"].encode(),
                             srv_id=test["srv-id"], timestamp=test["t"], include_headers=heads)
    except ValueError:
        fields = []
    if not test["AS"]:
        assert fields == []   # the suite expects no new set (no AR of this host)
        return
    got = {f.split(b":", 1)[0].decode(): parse_tag_value(f.split(b":", 1)[1]) for f in fields
           if not f.lower().startswith(b"arc-authentication-results")}
    for field, key in (("ARC-Seal", "AS"), ("ARC-Message-Signature", "AMS")):
        want = parse_tag_value(test[key].encode())
        for tag, value in want.items():
            if tag == b"b":
                continue   # b= depends on the AAR's exact text: authres drops comments when it consolidates
            assert b"".join(got[field][tag].split()) == b"".join(value.split()), (field, tag)
    # our new set validates, through the DNS layer, with the suite's key
    world = _world(doc)
    sealed = b"".join(fields) + msg.replace(b"\n", b"\r\n")
    out = asyncio.run(verify_message(sealed, world, VerifyOptions(bimi=False)))
    want_cv = parse_tag_value(test["AS"].encode())[b"cv"].decode()
    assert out["arc"]["cv"] == ("pass" if want_cv in ("none", "pass") else "fail")
