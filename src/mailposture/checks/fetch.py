"""A bounded HTTPS GET for the MTA-STS policy (RFC 8461 §3.3) and the BIMI logo.

Every name is resolved through the SAME resolver object as every DNS lookup of the run (A/AAAA via
``resolver.query``); the client then connects to that address with SNI and Host set to the name, so a survey
that uses ``--nameserver`` never leaks lookups to the system resolver. Bounded in every direction:

* bytes: at most ``max_bytes`` of body are read (``truncated`` tells that more was offered), headers ≤ 32 KiB;
* time: one deadline covers resolution, connect, TLS handshake, request and body;
* concurrency: a process-wide semaphore (:func:`set_concurrency`) limits fetches in flight;
* redirects: never followed (RFC 8461 §3.3 forbids it for MTA-STS); the 3xx status and Location are reported.

Addresses that are loopback, private, link-local, multicast or reserved are refused unless ``allow_private``
(a hostile DNS record must not make a survey probe the operator's own network). Never raises for network
problems: the result carries ``error`` with a short reason ("timeout", "dns: …", "tls: …", …).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import ssl
import time
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from mailposture import __version__
from mailposture.dns.types import Resolver

__all__ = ["DEFAULT_CONCURRENCY", "FetchResult", "fetch", "set_concurrency"]

DEFAULT_CONCURRENCY = 32
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADER_LINES = 100
USER_AGENT = f"mailposture/{__version__} (+policy check)"
_STATUS = re.compile(r"[1-5][0-9][0-9]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")

_concurrency = DEFAULT_CONCURRENCY
# asyncio primitives belong to one event loop: keep one semaphore per running loop.
_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def set_concurrency(limit: int) -> None:
    """Set the process-wide limit of HTTPS fetches in flight (applies to loops started afterwards)."""
    global _concurrency
    if limit < 1:
        raise ValueError("fetch concurrency must be >= 1")
    _concurrency = limit
    _semaphores.clear()


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    sem = _semaphores.get(loop)
    if sem is None:
        sem = _semaphores[loop] = asyncio.Semaphore(_concurrency)
    return sem


@dataclass(slots=True)
class FetchResult:
    """What one GET produced. ``error`` is None when an HTTP response (any status) arrived."""

    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)   # lower-cased names; repeated headers joined by ", "
    body: bytes = b""
    truncated: bool = False       # the server offered more than max_bytes; body holds the first max_bytes
    error: str | None = None
    address: str | None = None    # the IP address connected to
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    @property
    def redirect(self) -> bool:
        return self.error is None and self.status is not None and 300 <= self.status < 400

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"url": self.url, "status": self.status, "bytes": len(self.body),
                             "truncated": self.truncated, "elapsed_ms": round(self.elapsed * 1000)}
        if self.content_type:
            d["content_type"] = self.content_type
        if self.redirect:
            d["location"] = self.headers.get("location", "")
        if self.address:
            d["address"] = self.address
        if self.error:
            d["error"] = self.error
        return d


class _FetchError(Exception):
    pass


def _blocked(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return bool(addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _addresses(host: str, resolver: Resolver, allow_private: bool) -> list[str]:
    if _is_ip(host):
        candidates = [host]
    else:
        answers = await asyncio.gather(resolver.query(host, "A"), resolver.query(host, "AAAA"))
        candidates = [r for a in answers if a.status == "ok" for r in a.records if isinstance(r, str)]
        if not candidates:
            errors = [f"{a.rdtype} {a.error or a.status}" for a in answers if a.status == "error"]
            if errors:
                raise _FetchError(f"dns: lookup of {host} failed ({', '.join(errors)})")
            raise _FetchError(f"dns: {host} has no A/AAAA record")
    allowed = [ip for ip in candidates if allow_private or not _blocked(ip)]
    if not allowed:
        raise _FetchError(f"blocked-address: {host} resolves only to non-public addresses ({', '.join(candidates)})")
    return allowed


@functools.lru_cache(maxsize=8)
def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """One context per CA setting, shared by every fetch: loading the system trust store costs milliseconds."""
    return _new_ssl_context(ca_file)


def _new_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()  # the system's trust store ...
    if ca_file:
        try:  # ... plus an extra CA (a test CA, a private PKI)
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as e:
            raise _FetchError(f"tls: cannot load CA file {ca_file}: {e}") from e
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def _connect(addrs: list[str], port: int, host: str, ctx: ssl.SSLContext
                   ) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    last = "connect: no address"
    for ip in addrs:
        try:
            reader, writer = await asyncio.open_connection(ip, port, ssl=ctx, server_hostname=host,
                                                           limit=MAX_HEADER_BYTES)
            return ip, reader, writer
        except ssl.SSLCertVerificationError as e:
            last = f"tls: certificate of {host} not valid ({e.verify_message or e.reason})"
        except ssl.SSLError as e:
            last = f"tls: handshake with {ip} failed ({e.reason or e})"
        except OSError as e:
            last = f"connect: {ip} port {port}: {e.strerror or e}"
    raise _FetchError(last)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    total = 0
    lines: list[bytes] = []
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            raise _FetchError("http: connection closed before the response headers ended") from e
        except asyncio.LimitOverrunError as e:
            raise _FetchError("http: response header line too long") from e
        total += len(line)
        if total > MAX_HEADER_BYTES or len(lines) > MAX_HEADER_LINES:
            raise _FetchError("http: response headers too large")
        line = line.rstrip(b"\r\n")
        if not line:
            if not lines:
                continue  # tolerate a stray empty line before the status line
            break
        lines.append(line)
    status_line = lines[0].decode("latin-1")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not _STATUS.fullmatch(parts[1]):
        raise _FetchError(f"http: malformed status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        text = raw.decode("latin-1")
        if ":" not in text:
            raise _FetchError(f"http: malformed header line {text[:80]!r}")
        name, value = text.split(":", 1)
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], max_bytes: int) -> tuple[bytes, bool]:
    """Return (body, truncated); never reads much more than max_bytes + one chunk header."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            try:
                size_line = await reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                raise _FetchError("http: malformed chunked body") from e
            size_text = size_line.split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise _FetchError(f"http: bad chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                return bytes(body), False
            want = min(size, max_bytes + 1 - len(body))
            try:
                body += await reader.readexactly(want)
            except asyncio.IncompleteReadError as e:
                raise _FetchError("http: connection closed inside a chunk") from e
            if len(body) > max_bytes:
                return bytes(body[:max_bytes]), True
            try:
                await reader.readexactly(size - want + 2)  # rest of the chunk (none here) and its CRLF
            except asyncio.IncompleteReadError as e:
                raise _FetchError("http: connection closed inside a chunk") from e
    length_text = headers.get("content-length")
    if length_text is not None:
        if not _DIGITS.fullmatch(length_text):
            raise _FetchError(f"http: bad Content-Length {length_text[:20]!r}")
        length = int(length_text)
        try:
            data = await reader.readexactly(min(length, max_bytes + 1))
        except asyncio.IncompleteReadError as e:
            raise _FetchError(f"http: body ended after {len(e.partial)} of {length} bytes") from e
    else:
        data = await reader.read(max_bytes + 1)
        while data and len(data) <= max_bytes:
            more = await reader.read(max_bytes + 1 - len(data))
            if not more:
                break
            data += more
    if len(data) > max_bytes:
        return data[:max_bytes], True
    return data, False


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError):
        pass


async def fetch(url: str, resolver: Resolver, *, max_bytes: int = 64 * 1024, timeout: float = 10.0,  # noqa: ASYNC109
                ca_file: str | None = None, port: int | None = None, allow_private: bool = False) -> FetchResult:
    """GET an https:// URL, bounded; never follows redirects; never raises for network or HTTP problems.

    ``port`` replaces the default port 443 of URLs that name none (tests run servers on free ports);
    ``ca_file`` adds a CA to the system trust store (a test CA or a private PKI).
    """
    started = time.monotonic()
    result = FetchResult(url=url)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        url_port = parts.port
    except ValueError as e:
        result.error = f"bad-url: {e}"
        return result
    if parts.scheme.lower() != "https" or not host:
        result.error = "bad-url: only https:// URLs with a host are fetched"
        return result
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as e:
            result.error = f"bad-url: host is not a valid IDN ({e})"
            return result
    target_port = url_port or port or 443
    path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="/%?=&;:@!$'()*+,~")
    host_header = host if url_port in (None, 443) else f"{host}:{url_port}"
    if any(c in path + host_header for c in "\r\n "):
        result.error = "bad-url: control characters or spaces in the URL"
        return result
    try:
        async with _semaphore():
            async with asyncio.timeout(timeout):
                await _fetch_into(result, host, target_port, path, host_header, resolver, max_bytes, ca_file,
                                  allow_private)
    except TimeoutError:
        result.error = f"timeout: no complete answer within {timeout:g} s"
    except _FetchError as e:
        result.error = str(e)
    except (OSError, ssl.SSLError, UnicodeError, ValueError) as e:
        result.error = f"network: {type(e).__name__}: {e}"
    result.elapsed = time.monotonic() - started
    return result


async def _fetch_into(result: FetchResult, host: str, port: int, path: str, host_header: str, resolver: Resolver,
                      max_bytes: int, ca_file: str | None, allow_private: bool) -> None:
    ctx = _ssl_context(ca_file)
    addrs = await _addresses(host, resolver, allow_private)
    ip, reader, writer = await _connect(addrs, port, host, ctx)
    result.address = ip
    try:
        request = (f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n"
                   "Accept-Encoding: identity\r\nConnection: close\r\n\r\n")
        writer.write(request.encode("ascii"))
        await writer.drain()
        status, headers = await _read_head(reader)
        while 100 <= status < 200:  # interim responses (RFC 9110 §15.2): read the final one
            status, headers = await _read_head(reader)
        result.status, result.headers = status, headers
        if 300 <= status < 400 or status in (204, 304):
            return  # a redirect is reported, never followed (RFC 8461 §3.3); its body is of no interest
        result.body, result.truncated = await _read_body(reader, headers, max_bytes)
    finally:
        await _close(writer)
