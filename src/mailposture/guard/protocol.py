"""Postfix policy delegation protocol (SMTPD_POLICY_README, "Protocol description"), pure: bytes in, dicts out.

A request is ``name=value`` lines, each ending in LF, then one empty line; the reply is ``action=…`` then an
empty line. Several requests may follow each other on one connection (Postfix reuses connections).
Unknown attributes are kept but ignored by the decision; anything that is not this syntax is a
``ProtocolError`` and the server closes the connection without an answer, so Postfix falls back to its
``default_action`` (451 4.3.5 unless configured) — a malformed request never yields a permissive answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_REQUEST_BYTES = 64 * 1024
REQUEST_TYPE = "smtpd_access_policy"

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class ProtocolError(ValueError):
    """The peer sent something that is not a policy request; the message says what."""


class RequestParser:
    """Incremental parser for one connection: ``feed(data)`` returns the complete requests so far and the
    protocol error that ended the stream, if any (requests before the error are still answered).

    ``fields``: when given, each returned dict holds only these attributes (and ``request``); every line of
    the request is still validated. The policy server asks only for what its decision reads."""

    __slots__ = ("_buf", "_picker", "max_bytes")

    def __init__(self, max_bytes: int = MAX_REQUEST_BYTES, fields: Iterable[str] | None = None) -> None:
        self._buf = b""
        self.max_bytes = max_bytes
        self._picker = None if fields is None else field_picker(fields)

    @property
    def pending(self) -> int:
        """Bytes of an unfinished request waiting for more data."""
        return len(self._buf)

    def feed(self, data: bytes) -> tuple[list[dict[str, str]], ProtocolError | None]:
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:  # tolerate CRLF line ends (not what Postfix sends)
            buf = buf.replace(b"\r\n", b"\n")
        end = buf.find(b"\n\n")
        # Common case (smtpd waits for each answer): exactly one complete request in this read.
        if 0 < end == len(buf) - 2 and end <= self.max_bytes and buf[0] != 10:
            self._buf = b""
            try:
                return [parse_request(buf[:end], self._picker)], None
            except ProtocolError as e:
                return [], e
        out: list[dict[str, str]] = []
        start = 0
        while True:
            if buf.startswith(b"\n", start):
                self._buf = b""
                return out, ProtocolError("empty request (blank line without attributes)")
            if start:
                end = buf.find(b"\n\n", start)
            if end < 0:
                rest = buf[start:]
                if len(rest) > self.max_bytes:
                    self._buf = b""
                    return out, ProtocolError(f"request larger than {self.max_bytes} bytes")
                self._buf = rest
                return out, None
            if end - start > self.max_bytes:
                self._buf = b""
                return out, ProtocolError(f"request larger than {self.max_bytes} bytes")
            try:
                out.append(parse_request(buf[start:end], self._picker))
            except ProtocolError as e:
                self._buf = b""
                return out, e
            start = end + 2


# Fast path: one regex (possessive, no backtracking) checks in C that every line is "name=value"; then the
# attributes are taken with findall. Otherwise the slow path below names the problem.
_VALID = re.compile(r"(?:[a-z0-9_]++=[^\n]*+\n)*+[a-z0-9_]++=[^\n]*+")
_PAIR = re.compile(r"^([a-z0-9_]+)=(.*)$", re.MULTILINE)


def field_picker(fields: Iterable[str]) -> re.Pattern[str]:
    """A pattern whose findall over ``"\n" + text`` yields (name, value) for the given attributes only (and
    ``request``); applied to a validated request, a later duplicate wins, as with a full dict."""
    names = sorted({*fields, "request"})
    bad = [n for n in names if not n or not _NAME_CHARS.issuperset(n)]
    if bad:
        raise ValueError(f"not attribute names: {bad}")
    return re.compile(r"\n(" + "|".join(names) + r")=([^\n]*)")


def parse_request(block: bytes, picker: re.Pattern[str] | None = None) -> dict[str, str]:
    """Parse the attribute lines of one request (without the terminating empty line); with ``picker`` (from
    ``field_picker``) only those attributes are returned, after the whole request was validated."""
    if b"\0" in block:
        raise ProtocolError("NUL byte in request")
    # Names are ASCII; values may carry UTF-8 (SMTPUTF8 addresses) or stray 8-bit bytes: never fatal.
    text = block.decode("utf-8", errors="replace")
    if _VALID.fullmatch(text) is not None:
        attrs = dict(_PAIR.findall(text) if picker is None else picker.findall("\n" + text))
        if attrs.get("request") == REQUEST_TYPE:
            return attrs
    attrs = {}
    for line in text.split("\n"):
        name, sep, value = line.partition("=")
        if not sep:
            raise ProtocolError(f"attribute without '=': {_show(line)}")
        if not name or not _NAME_CHARS.issuperset(name):
            raise ProtocolError(f"bad attribute name: {_show(name)}")
        attrs[name] = value
    req = attrs.get("request")
    if req is None:
        raise ProtocolError("no 'request' attribute")
    if req != REQUEST_TYPE:
        raise ProtocolError(f"unsupported request type: {_show(req)}")
    return attrs


def format_response(action: str) -> bytes:
    """``action=<action>`` + empty line; the action must be one line (CR/LF would inject a second reply)."""
    if "\n" in action or "\r" in action:
        raise ValueError("policy action must be a single line")
    return f"action={action}\n\n".encode()


def _show(s: str, limit: int = 40) -> str:
    s = s if len(s) <= limit else s[:limit] + "…"
    return repr(s)
