"""`message check --fetch`: the BIMI logo of a message that passes DMARC, fetched from a loopback HTTPS server
with a test CA (bimi.example.test -> 127.0.0.1 through the FakeResolver) and checked as SVG Tiny PS (issue 14)."""

from __future__ import annotations

import pytest
from tests.worlds.mail import BASE, default_world, sign
from typer.testing import CliRunner

from mailposture.dns.fake import FakeResolver
from mailposture.message.verify import VerifyOptions, verify_message
from test_bimi import SVG, SVG_TYPE, svg_variant
from test_fetch import HOSTS, LoopbackHttps, Pki, Route, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def world(port: int, record: str | None = None) -> FakeResolver:
    zone = default_world().zone
    for h in HOSTS:
        zone[h] = [("A", "127.0.0.1")]
    zone["default._bimi.origin.example"] = [("TXT", record or f"v=BIMI1; l=https://bimi.example.test:{port}/logo.svg;")]
    return FakeResolver(zone)


async def check(message: bytes, srv: LoopbackHttps, route: Route | None, *, fetch: bool = True,
                ca_file: str | None = None) -> dict:
    if route is not None:
        srv.routes["/logo.svg"] = route
    opts = VerifyOptions(fetch=fetch, ca_file=ca_file or str(srv.pki.ca_file), allow_private=True,
                         fetch_timeout=5.0)
    return await verify_message(message, world(srv.port), opts)


def codes(out: dict) -> set[str]:
    return {f["code"] for f in out["findings"]}


async def test_valid_logo_is_fetched_and_the_message_is_eligible(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        out = await check(sign(BASE), srv, Route(body=SVG, headers=SVG_TYPE))
    assert [r.split(" ", 2)[1] for r in srv.requests] == ["/logo.svg"]          # one GET, for the logo
    assert f"Host: bimi.example.test:{srv.port}" in srv.requests[0]
    b = out["bimi"]
    assert out["dmarc"]["result"] == "pass"
    assert (b["eligible"], b["reason"], b["logo_valid"]) == (True, "eligible", True)
    assert b["fetch"]["status"] == 200 and b["fetch"]["address"] == "127.0.0.1"
    assert b["fetch"]["bytes"] == len(SVG) and b["logo"]["title"] == "Example Brand"
    assert {"BIMI_SVG_VALID", "MSG_BIMI_ELIGIBLE"} <= codes(out)


async def test_logo_outside_the_profile_makes_the_message_not_eligible(pki: Pki) -> None:
    bad = svg_variant(b"</svg>", b"<script>alert(1)</script></svg>")
    async with LoopbackHttps(pki) as srv:
        out = await check(sign(BASE), srv, Route(body=bad, headers=SVG_TYPE))
    assert len(srv.requests) == 1
    b = out["bimi"]
    assert (b["eligible"], b["reason"], b["logo_valid"]) == (False, "logo-invalid", False)
    assert "BIMI_SVG_FORBIDDEN" in codes(out) and "MSG_BIMI_NOT_ELIGIBLE" in codes(out)


async def test_logo_that_cannot_be_fetched_is_said_as_such(pki: Pki, tmp_path) -> None:
    async with LoopbackHttps(pki) as srv:
        missing = await check(sign(BASE), srv, None)                            # 404
    b = missing["bimi"]
    assert (b["eligible"], b["reason"], b["fetch"]["status"]) == (False, "logo-fetch-failed", 404)
    nf = next(f for f in missing["findings"] if f["code"] == "MSG_BIMI_NOT_ELIGIBLE")
    assert "could not be fetched" in nf["message"]
    other = make_pki(tmp_path)                                                 # a CA the server does not use
    async with LoopbackHttps(pki) as srv:
        untrusted = await check(sign(BASE), srv, Route(body=SVG, headers=SVG_TYPE), ca_file=str(other.ca_file))
    b = untrusted["bimi"]
    assert (b["eligible"], b["reason"]) == (False, "logo-fetch-failed") and b["fetch"].get("error")
    assert srv.requests == []                                                  # the TLS handshake failed


async def test_without_fetch_or_without_dmarc_nothing_is_fetched(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        quiet = await check(sign(BASE), srv, Route(body=SVG, headers=SVG_TYPE), fetch=False)
        unsigned = await check(BASE, srv, Route(body=SVG, headers=SVG_TYPE))   # fails DMARC (p=reject)
    assert srv.requests == []
    assert (quiet["bimi"]["eligible"], quiet["bimi"]["logo_valid"]) == (True, None)
    assert "fetch" not in quiet["bimi"]
    assert (unsigned["bimi"]["eligible"], unsigned["bimi"]["reason"]) == (False, "dmarc-not-pass")


def test_cli_ca_file_must_exist(tmp_path) -> None:
    from mailposture.cli import app

    eml = tmp_path / "m.eml"
    eml.write_bytes(sign(BASE))
    r = CliRunner().invoke(app, ["message", "check", str(eml), "--fetch", "--ca-file", str(tmp_path / "none.pem"),
                                 "-n", "127.0.0.1:9"])
    assert r.exit_code == 2 and "no such file" in r.output
