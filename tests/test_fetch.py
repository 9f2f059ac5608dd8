"""The bounded HTTPS client against a loopback HTTPS server with a test CA made here.

The helpers (:func:`make_pki`, :class:`LoopbackHttps`) are also used by test_mta_sts.py and test_bimi.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import free_port
from mailposture.checks import fetch as fetchmod
from mailposture.checks.fetch import fetch
from mailposture.dns.fake import FakeResolver

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

HOSTS = ("mta-sts.example.test", "bimi.example.test", "mta-sts.other.test")


@dataclass
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_pki(directory: Path, hosts: tuple[str, ...] = HOSTS) -> Pki:
    """A throw-away CA and one server certificate for ``hosts`` (P-256 keys: fast)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailposture test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return pki


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0          # seconds before answering (timeouts)
    chunked: bool = False
    no_length: bool = False     # body ends when the connection closes


class LoopbackHttps:
    """An HTTPS/1.1 server on 127.0.0.1:<free port>, serving ``routes`` by path; records each request's head."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.port = free_port()
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LoopbackHttps:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=ctx)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):  # Python 3.11 has no Server.close_clients()
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            self.requests.append(head)
            path = head.split(" ", 2)[1]
            route = self.routes.get(path, Route(404, b"not found", {"Content-Type": "text/plain"}))
            if route.delay:
                await asyncio.sleep(route.delay)
            lines = [f"HTTP/1.1 {route.status} X"] + [f"{k}: {v}" for k, v in route.headers.items()]
            if route.chunked:
                lines.append("Transfer-Encoding: chunked")
            elif not route.no_length:
                lines.append(f"Content-Length: {len(route.body)}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if route.chunked:
                for i in range(0, len(route.body), 1000):
                    part = route.body[i:i + 1000]
                    writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(route.body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


def loopback_resolver(*extra: tuple[str, list[tuple[str, object]]]) -> FakeResolver:
    zone: dict[str, list[tuple[str, object]]] = {h: [("A", "127.0.0.1")] for h in HOSTS}
    for name, rrs in extra:
        zone.setdefault(name, []).extend(rrs)
    return FakeResolver(zone)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def _get(server: LoopbackHttps, path: str, res: FakeResolver | None = None, **kw: object):
    res = res or loopback_resolver()
    opts: dict = {"ca_file": str(server.pki.ca_file), "port": server.port, "allow_private": True, "timeout": 5.0}
    opts.update(kw)
    return await fetch(f"https://mta-sts.example.test{path}", res, **opts)


async def test_get_resolves_through_the_given_resolver_and_sends_sni_host(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        srv.routes["/p"] = Route(body=b"hello", headers={"Content-Type": "text/plain; charset=utf-8"})
        res = loopback_resolver()
        r = await _get(srv, "/p", res)
    assert r.ok and r.body == b"hello" and r.content_type == "text/plain" and not r.truncated
    assert r.address == "127.0.0.1"
    assert ("mta-sts.example.test", "A") in res.log           # the name went through OUR resolver
    assert "Host: mta-sts.example.test\r\n" in srv.requests[0]


async def test_redirect_is_reported_not_followed(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        srv.routes["/r"] = Route(301, b"", {"Location": "https://mta-sts.example.test/elsewhere"})
        srv.routes["/elsewhere"] = Route(body=b"should not be fetched")
        r = await _get(srv, "/r")
    assert r.status == 301 and r.redirect and not r.ok
    assert r.headers["location"] == "https://mta-sts.example.test/elsewhere"
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", ["length", "chunked", "no_length"])
async def test_oversize_body_is_cut(pki: Pki, mode: str) -> None:
    async with LoopbackHttps(pki) as srv:
        srv.routes["/big"] = Route(body=b"x" * 300_000, chunked=mode == "chunked", no_length=mode == "no_length")
        srv.routes["/fit"] = Route(body=b"y" * 5000, chunked=mode == "chunked", no_length=mode == "no_length")
        big = await _get(srv, "/big", max_bytes=10_000)
        fit = await _get(srv, "/fit", max_bytes=10_000)
    assert big.truncated and len(big.body) == 10_000 and big.status == 200
    assert not fit.truncated and fit.body == b"y" * 5000


async def test_timeout_is_bounded(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        srv.routes["/slow"] = Route(body=b"late", delay=5.0)
        t0 = time.monotonic()
        r = await _get(srv, "/slow", timeout=0.4)
        took = time.monotonic() - t0
    assert r.error is not None and r.error.startswith("timeout") and r.status is None
    assert took < 3.0


async def test_untrusted_certificate_is_an_error(pki: Pki, tmp_path: Path) -> None:
    other = make_pki(tmp_path)  # a CA that did not sign the server's certificate
    async with LoopbackHttps(pki) as srv:
        srv.routes["/p"] = Route(body=b"x")
        r = await _get(srv, "/p", ca_file=str(other.ca_file))
    assert r.error is not None and r.error.startswith("tls:") and "mta-sts.example.test" in r.error


async def test_name_not_in_certificate_is_an_error(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        res = FakeResolver({"wrong.example.test": [("A", "127.0.0.1")]})
        r = await fetch(f"https://wrong.example.test:{srv.port}/p", res, ca_file=str(pki.ca_file),
                        allow_private=True, timeout=5)
    assert r.error is not None and r.error.startswith("tls:")


async def test_private_addresses_refused_by_default(pki: Pki) -> None:
    r = await fetch("https://mta-sts.example.test/p", loopback_resolver(), ca_file=str(pki.ca_file), timeout=2)
    assert r.error is not None and r.error.startswith("blocked-address")


async def test_dns_failures_and_missing_names_are_named() -> None:
    res = FakeResolver({"down.example.test": [("TIMEOUT", None)], "other.example.test": [("TXT", "x")]})
    down = await fetch("https://down.example.test/", res, timeout=2)
    missing = await fetch("https://nothing.example.test/", res, timeout=2)
    nodata = await fetch("https://other.example.test/", res, timeout=2)
    assert down.error is not None and down.error.startswith("dns:") and "timeout" in down.error
    assert missing.error is not None and "no A/AAAA" in missing.error
    assert nodata.error is not None and "no A/AAAA" in nodata.error


@pytest.mark.parametrize("url", ["http://mta-sts.example.test/", "ftp://x/", "https:///nohost", "https://a b/",
                                 "https://[::1/", "not a url"])
async def test_bad_urls_are_refused_without_traffic(url: str) -> None:
    res = FakeResolver({})
    r = await fetch(url, res, timeout=1)
    assert r.error is not None and r.error.startswith("bad-url")
    assert res.log == []


async def test_connection_refused_is_an_error() -> None:
    port = free_port()  # nothing listens there
    r = await fetch(f"https://mta-sts.example.test:{port}/", loopback_resolver(), allow_private=True, timeout=2)
    assert r.error is not None and r.error.startswith("connect:")


async def test_concurrency_is_limited_globally(pki: Pki) -> None:
    fetchmod.set_concurrency(2)
    try:
        async with LoopbackHttps(pki) as srv:
            srv.routes["/slow"] = Route(body=b"ok", delay=0.3)
            t0 = time.monotonic()
            results = await asyncio.gather(*(_get(srv, "/slow") for _ in range(4)))
            took = time.monotonic() - t0
    finally:
        fetchmod.set_concurrency(fetchmod.DEFAULT_CONCURRENCY)
    assert all(r.ok for r in results)
    assert took >= 0.55  # 4 fetches of 0.3 s, two at a time: at least two rounds
    with pytest.raises(ValueError):
        fetchmod.set_concurrency(0)


async def test_to_json_names_the_outcome(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        srv.routes["/r"] = Route(302, b"", {"Location": "/x"})
        r = await _get(srv, "/r")
    d = r.to_json()
    assert d["status"] == 302 and d["location"] == "/x" and d["address"] == "127.0.0.1" and "error" not in d


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"HTTP/1.0 100 Continue\r\n\r\n"]),
       st.binary(max_size=600), st.integers(min_value=1, max_value=300))
def test_response_parser_only_raises_its_own_error(prefix: bytes, rest: bytes, max_bytes: int) -> None:
    data = prefix + rest

    async def parse() -> None:
        reader = asyncio.StreamReader(limit=fetchmod.MAX_HEADER_BYTES)
        reader.feed_data(data)
        reader.feed_eof()
        try:
            status, headers = await fetchmod._read_head(reader)
            body, _ = await fetchmod._read_body(reader, headers, max_bytes)
        except fetchmod._FetchError:
            return
        assert 100 <= status <= 599 and len(body) <= max_bytes

    asyncio.run(parse())


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nxx",
                                  b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx",
                                  b"HTTP/1.1 2\xb200 OK\r\n\r\n", b"SMTP 220 hello\r\n\r\n"])
async def test_hostile_responses_are_named_errors(head: bytes) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(head)
    reader.feed_eof()
    with pytest.raises(fetchmod._FetchError, match="http:"):
        _, headers = await fetchmod._read_head(reader)
        await fetchmod._read_body(reader, headers, 100)


async def test_unreadable_ca_file_is_a_named_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    r = await fetch("https://mta-sts.example.test/", loopback_resolver(), ca_file=str(bad), allow_private=True,
                    timeout=2)
    assert r.error is not None and r.error.startswith("tls: cannot load CA file")
