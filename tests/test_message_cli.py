"""`mailposture message check`: JSON keys of the issue, the readable verdict in both languages, the RFC 8601
header, ARC sealing, --nameserver through a local DNS server, parsing odd inputs, and bad input (exit 2)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import authres
import pytest
from tests.worlds.mail import BASE, default_world, rsa_key, sign
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.server import LocalDnsServer
from mailposture.message.parse import decode_words, from_domain, parse, split_mbox

runner = CliRunner()


class ServerThread:
    def __init__(self, zone: dict) -> None:
        self.server = LocalDnsServer(zone, origins=["origin.example", "forwarder.example", "lists.example",
                                                    "other.example"])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LocalDnsServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_json_through_a_nameserver_and_ar_header(tmp_path: Path) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(sign(BASE).replace(b"\r\n", b"\n"))   # LF line ends, as files on disk have
    with ServerThread(default_world().zone) as server:
        r = runner.invoke(app, ["message", "check", str(eml), "--nameserver", server.address, "--format", "json",
                                "--ip", "192.0.2.10", "--helo", "mail.origin.example", "--mail-from",
                                "taro@origin.example", "--ar-header", "mx.dest.example", "--lang", "en"])
        assert server.queries > 0   # every lookup went to --nameserver
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"from_domain", "spf", "dkim", "dmarc", "arc", "bimi", "findings"} <= set(out)
    assert {"result", "domain", "ip"} <= set(out["spf"])
    assert {"d", "s", "a", "result", "reason", "key_bits"} <= set(out["dkim"][0])
    assert {"result", "policy", "disposition", "aligned"} <= set(out["dmarc"])
    assert set(out["dmarc"]["aligned"]) == {"spf", "dkim"}
    assert {"cv", "instances", "failed_instance", "reason"} <= set(out["arc"])
    assert out["spf"] | {"result": "pass", "domain": "origin.example", "ip": "192.0.2.10"} == out["spf"]
    assert out["dkim"][0]["result"] == "pass" and out["dmarc"]["aligned"] == {"spf": True, "dkim": True}
    assert out["bimi"]["eligible"] is False and out["bimi"]["reason"] == "no-record"
    hdr = authres.AuthenticationResultsHeader.parse(out["authentication_results"])
    assert [(x.method, x.result) for x in hdr.results] == [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass"),
                                                          ("arc", "none")]
    dkim_props = {(p.type, p.name): p.value for p in hdr.results[1].properties}
    assert dkim_props[("header", "d")] == "origin.example" and dkim_props[("header", "b")] == out["dkim"][0]["b8"]


def test_text_verdict_in_japanese_and_received_trust(tmp_path: Path) -> None:
    received = (b"Received: from mail.origin.example (mail.origin.example [192.0.2.10])\r\n"
                b"\tby mx.dest.example (Postfix) with ESMTPS id 4Q; Mon, 07 Dec 2026 10:00:01 +0900\r\n"
                b"Received-SPF: pass (forged by the sender)\r\n")
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"Return-Path: <taro@origin.example>\r\n" + received + sign(BASE))
    with ServerThread(default_world().zone) as server:
        r = runner.invoke(app, ["message", "check", str(eml), "-n", server.address, "--lang", "ja",
                                "--trusted-hosts", "mx.dest.example"])
        j = runner.invoke(app, ["message", "check", str(eml), "-n", server.address, "--format", "json",
                                "--trusted-hosts", "mx.dest.example"])
    assert r.exit_code == 0, r.output
    assert "認証済み" in r.output and "DMARC" in r.output
    spf = json.loads(j.output)["spf"]
    assert (spf["result"], spf["ip"], spf["helo"], spf["mail_from"], spf["source"]) == \
        ("pass", "192.0.2.10", "mail.origin.example", "taro@origin.example", "received")


def test_untrusted_received_is_not_believed(tmp_path: Path) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"Received: from x (x [192.0.2.10]) by evil.example; Mon, 07 Dec 2026\r\n" + sign(BASE))
    with ServerThread(default_world().zone) as server:
        j = runner.invoke(app, ["message", "check", str(eml), "-n", server.address, "--format", "json",
                                "--trusted-hosts", "mx.dest.example"])
    out = json.loads(j.output)
    assert out["spf"]["evaluated"] is False
    assert "MSG_SPF_NOT_EVALUATED" in {f["code"] for f in out["findings"]}


def test_arc_seal_option_writes_a_message_that_validates(tmp_path: Path) -> None:
    eml, key, sealed = tmp_path / "m.eml", tmp_path / "k.pem", tmp_path / "sealed.eml"
    eml.write_bytes(sign(BASE))
    key.write_bytes(rsa_key()[0])
    with ServerThread(default_world().zone) as server:
        r = runner.invoke(app, ["message", "check", str(eml), "-n", server.address, "--ip", "192.0.2.10",
                                "--mail-from", "taro@origin.example", "--arc-seal", str(key), "--selector", "fwd",
                                "--domain", "forwarder.example", "--output", str(sealed), "--lang", "en"])
        assert r.exit_code == 0, r.output
        assert "Added ARC set i=1" in r.output
        j = runner.invoke(app, ["message", "check", str(sealed), "-n", server.address, "--format", "json"])
    arc = json.loads(j.output)["arc"]
    assert arc["cv"] == "pass" and arc["instances"] == 1
    assert {r["method"]: r["result"] for r in arc["sets"][0]["aar"]["results"]}["dmarc"] == "pass"


def test_bad_input_exits_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["message", "check", str(tmp_path / "missing.eml"), "-n", "127.0.0.1:9"])
    assert r.exit_code == 2 and "cannot read" in r.output
    box = tmp_path / "box.mbox"
    box.write_bytes(b"From a@b Mon Dec  7 10:00:00 2026\n" + BASE + b"From c@d Mon Dec  7 10:00:00 2026\n" + BASE)
    r = runner.invoke(app, ["message", "check", str(box), "--mbox", "3", "-n", "127.0.0.1:9"])
    assert r.exit_code == 2 and "2 message" in r.output
    r = runner.invoke(app, ["message", "check", str(box), "-n", "127.0.0.1:9"])
    assert r.exit_code == 2 and "--mbox N" in r.output
    r = runner.invoke(app, ["message", "check", str(box), "--arc-seal", str(box), "-n", "127.0.0.1:9"])
    assert r.exit_code == 2 and "--selector" in r.output
    r = runner.invoke(app, ["message", "check", str(box), "--format", "xml", "-n", "127.0.0.1:9"])
    assert r.exit_code == 2


def test_parse_odd_inputs() -> None:
    raw = ("From: =?UTF-8?B?5bGx55Sw?= <yamada@origin.example>\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\n"
           " folded\nTo: a@b.example\n\n本文\n").encode()
    m = parse(raw)
    assert not m.findings and m.body == "本文\r\n".encode()
    assert decode_words(m.get_all("subject")[0]).startswith("テスト")
    info, _ = from_domain(m)
    assert info.domain == "origin.example" and info.problem is None
    junk = parse(b"this is not a message\nat all\n")
    assert {f.code for f in junk.findings} >= {"MSG_HEADER_SYNTAX", "MSG_NO_HEADERS"}
    assert parse(b"").findings[0].code == "MSG_EMPTY"
    assert len(split_mbox(b"From a\nX: 1\n\nbody\n>From here\nFrom b\nY: 2\n\nb2\n")) == 2
    assert parse(b"From: a@b.example\r\nSubject: x").findings[0].code == "MSG_NO_BODY_SEPARATOR"


def test_encoded_word_cannot_smuggle_an_address() -> None:
    import base64

    word = base64.b64encode(b"ceo@bank.example <ceo@bank.example>").decode()
    m = parse(f"From: =?UTF-8?B?{word}?= <x@attacker.example>\r\nTo: a@b.example\r\n\r\nhi\r\n".encode())
    info, _ = from_domain(m)
    assert info.domain == "attacker.example" and info.problem is None


def test_received_walk_skips_internal_hops_and_reads_ipv6() -> None:
    from mailposture.message.spfid import from_received

    raw = (b"Return-Path: <a@origin.example>\r\n"
           b"Received: from mx1.dest.example (mx1.dest.example [10.0.0.5]) by mbox.dest.example; Mon, 7 Dec 2026\r\n"
           b"Received: from mail.origin.example (mail.origin.example [IPv6:2001:db8::25])\r\n"
           b"\tby mx1.dest.example with ESMTPS (envelope-from <bounce@origin.example>); Mon, 7 Dec 2026\r\n"
           b"Received: from forged (forged [192.0.2.99]) by mx1.dest.example; Mon, 7 Dec 2026\r\n"
           + BASE)
    hop = from_received(parse(raw), ["mbox.dest.example", "mx1.dest.example", "10.0.0.5"])
    assert (hop["ip"], hop["helo"], hop["mail_from"]) == ("2001:db8::25", "mail.origin.example", "bounce@origin.example")
    assert from_received(parse(raw), ["other.example"]) is None


@pytest.mark.parametrize(("received", "ip", "helo"), [
    # Postfix / Sendmail: "from HELO (rdns [ip])"
    (b"from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])\r\n\tby mx.dest.example (Postfix)"
     b" with ESMTPS id 4X; Mon, 7 Dec 2026", "209.85.220.41", "mail-sor-f41.google.com"),
    # Exim: "from rdns ([ip] helo=HELO)" when the two differ
    (b"from host.sender.example ([192.0.2.7] helo=fake-helo.example)\r\n\tby mx.dest.example with esmtps "
     b"(Exim 4.96)\r\n\t(envelope-from <bounce@sender.example>)", "192.0.2.7", "fake-helo.example"),
    # qmail: "from rdns (HELO name) (ip)"
    (b"from unknown (HELO weird.example) (192.0.2.8)\r\n  by mx.dest.example with SMTP; 7 Dec 2026",
     "192.0.2.8", "weird.example"),
])
def test_received_helo_is_what_the_client_said(received: bytes, ip: str, helo: str) -> None:
    """RFC 7208 §2.3: the HELO identity is the name given in HELO/EHLO, which Exim and qmail write apart from the
    reverse DNS name that comes first."""
    from mailposture.message.spfid import from_received

    hop = from_received(parse(b"Received: " + received + b"\r\n" + BASE), ["mx.dest.example"])
    assert (hop["ip"], hop["helo"]) == (ip, helo)


def test_stdin_input() -> None:
    with ServerThread(default_world().zone) as server:
        r = runner.invoke(app, ["message", "check", "-", "-n", server.address, "--format", "json"],
                          input=sign(BASE))
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["dkim"][0]["result"] == "pass"


def test_mbox_message_n(tmp_path: Path) -> None:
    box = tmp_path / "box.mbox"
    second = sign(BASE.replace(b"Subject: Meeting", b"Subject: Second")).replace(b"\r\n", b"\n")
    box.write_bytes(b"From a@b Mon Dec  7 10:00:00 2026\n" + BASE.replace(b"\r\n", b"\n") +
                    b"\nFrom c@d Mon Dec  7 10:00:00 2026\n" + second)
    with ServerThread(default_world().zone) as server:
        r = runner.invoke(app, ["message", "check", str(box), "--mbox", "2", "-n", server.address, "--format", "json"])
    out = json.loads(r.output)
    assert out["message"]["subject"] == "Second" and out["dkim"][0]["result"] == "pass"


@pytest.mark.parametrize("bad", ["999.1.1.1", "not-an-ip", "192.0.2.1/24", ""])
def test_a_bad_ip_option_is_exit_2_not_a_finding(tmp_path: Path, bad: str) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(BASE)
    r = runner.invoke(app, ["message", "check", str(eml), "--ip", bad, "-n", "127.0.0.1:9", "--timeout", "0.2"])
    assert r.exit_code == 2 and "is not an IP address" in r.output and "Traceback" not in r.output
