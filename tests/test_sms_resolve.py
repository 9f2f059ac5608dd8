"""`--resolve`: shortened links followed against a local HTTP server, landing hosts looked up in a local DNS
world through the project's engine (no internet)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from mailposture.cliopts import DnsOptions
from mailposture.dns.server import LocalDnsServer
from mailposture.sms.resolve import resolve_urls
from mailposture.sms.verdict import Analyzer

WORLD = {
    "sagawa-exp.delivery-jp.top": [("A", "192.0.2.80")],
    "plain-landing.top": [("A", "192.0.2.81")],
    "broken.delivery-jp.top": [("SERVFAIL", None)],
}
# (host, path) -> (HEAD status, GET status, Location)
ROUTES = {
    ("bit.ly", "/abc"): (301, 301, "http://sagawa-exp.delivery-jp.top/x"),
    ("bit.ly", "/chain"): (302, 302, "https://tinyurl.com/next"),
    ("tinyurl.com", "/next"): (302, 302, "http://gone.delivery-jp.top/"),
    ("is.gd", "/nohead"): (405, 302, "http://broken.delivery-jp.top/p"),
    ("t.co", "/plain"): (307, 307, "/rel"),                       # relative: stays on the shortener
    ("t.co", "/rel"): (302, 302, "http://plain-landing.top/"),
    ("x.gd", "/dead"): (404, 404, None),
}


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def _answer(self, method: str) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        self.seen.append((method, host, self.path))
        head, get, loc = ROUTES.get((host, self.path), (404, 404, None))
        self.send_response(head if method == "HEAD" else get)
        if loc and (head if method == "HEAD" else get) in (301, 302, 303, 307, 308):
            self.send_header("Location", loc)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_GET(self) -> None:
        self._answer("GET")

    def log_message(self, *a) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    _Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


async def test_redirects_followed_and_landing_domains_looked_up(http_server: str) -> None:
    async with LocalDnsServer(WORLD, origins=["delivery-jp.top", "plain-landing.top"]) as dns:
        urls = ["https://bit.ly/abc", "https://bit.ly/chain", "https://is.gd/nohead", "https://t.co/plain",
                "https://x.gd/dead"]
        got = await resolve_urls(urls, dns_options=DnsOptions([dns.address], timeout=0.5, retries=0),
                                 via=http_server, http_timeout=5)
    a, chain, nohead, plain, dead = (got[u] for u in urls)
    assert (a.host, a.dns_status, a.addresses) == ("sagawa-exp.delivery-jp.top", "ok", ("192.0.2.80",))
    assert (chain.host, chain.dns_status) == ("gone.delivery-jp.top", "nxdomain")
    assert (nohead.host, nohead.dns_status, nohead.error) == ("broken.delivery-jp.top", "error", None)
    assert (plain.final_url, plain.dns_status) == ("http://plain-landing.top/", "ok")
    assert dead.host is None and "404" in dead.error
    hosts = {h for _, h, _ in _Handler.seen}
    assert hosts == {"bit.ly", "tinyurl.com", "is.gd", "t.co", "x.gd"}   # the landing pages are never fetched
    assert ("GET", "is.gd", "/nohead") in _Handler.seen

    an = Analyzer()
    text = "【佐川急便】お荷物のお届けにあがりましたが不在の為持ち帰りました {}"
    r = an.check(text.format("https://bit.ly/abc"), landings=got)
    codes = [x.code for x in r.reasons]
    assert "SMS_SHORTENER_TO_LOOKALIKE" in codes and r.urls[0].lookalike_of == "sagawa"
    assert "SMS_LANDING_NXDOMAIN" in [x.code for x in an.check(text.format("https://bit.ly/chain"),
                                                                   landings=got).reasons]
    assert "SMS_LANDING_DNS_ERROR" in [x.code for x in an.check(text.format("https://is.gd/nohead"),
                                                                    landings=got).reasons]
    assert "SMS_RESOLVE_FAILED" in [x.code for x in an.check(text.format("https://x.gd/dead"),
                                                                 landings=got).reasons]


async def test_cli_resolve_end_to_end(http_server: str, tmp_path) -> None:
    f = tmp_path / "m.txt"
    f.write_text("【佐川急便】お荷物のお届けについて https://bit.ly/abc\n"
                 "Look at this https://t.co/plain\n", encoding="utf-8")
    async with LocalDnsServer(WORLD, origins=["delivery-jp.top", "plain-landing.top"]) as dns:
        base = [sys.executable, "-m", "mailposture.cli", "sms"]
        proc = await asyncio.create_subprocess_exec(
            *base, "check", str(f), "--format", "json", "--resolve", "--nameserver", dns.address,
            "--http-via", http_server, "--timeout", "2", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        a, b = [json.loads(x) for x in out.decode().splitlines()]
        assert "SMS_SHORTENER_TO_LOOKALIKE" in [x["code"] for x in a["reasons"]]
        assert a["verdict"] == "smishing" and a["urls"][0]["lookalike_of"] == "sagawa"
        assert any("plain-landing.top" in x["detail"] for x in b["reasons"] if x["code"] == "SMS_LANDING")
        # one message with its sender, resolved too
        proc = await asyncio.create_subprocess_exec(
            *base, "check", "【三井住友カード】ご利用確認のお願い https://bit.ly/abc", "--sender", "09011112222",
            "--format", "json", "--resolve", "--nameserver", dns.address, "--http-via", http_server,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        one = json.loads(out)
        assert {"SMS_SHORTENER_TO_LOOKALIKE", "SMS_SENDER_PHONE"} <= {x["code"] for x in one["reasons"]}
        # the same link in two messages: one campaign through the landing domain
        proc = await asyncio.create_subprocess_exec(
            *base, "campaigns", str(f), "--format", "json", "--resolve", "--nameserver", dns.address,
            "--http-via", http_server, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        camps = [json.loads(x) for x in out.decode().splitlines()]
        assert camps[0]["domains"] == {"sagawa-exp.delivery-jp.top": 1}
        assert camps[0]["addresses"] == {"192.0.2.80": 1}


def test_without_resolve_nothing_is_contacted(http_server: str) -> None:
    r = Analyzer().check("【佐川急便】お荷物 https://bit.ly/abc")
    assert _Handler.seen == [] and not any(x.code.startswith("SMS_LANDING") for x in r.reasons)
