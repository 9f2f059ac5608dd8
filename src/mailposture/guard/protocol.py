"""Postfix policy delegation protocol (SMTPD_POLICY_README, "Protocol description"), pure: bytes in, dicts out.

A request is ``name=value`` lines, each ending in LF, then one empty line; the reply is ``action=…`` then an
empty line. Several requests may follow each other on one connection (Postfix reuses connections).
Unknown attributes are kept but ignored by the decision; anything that is not this syntax is a
``ProtocolError`` and the server closes the connection without an answer, so Postfix falls back to its
``default_action`` (451 4.3.5 unless configured) — a malformed request never yields a permissive answer.
"""

from __future__ import annotations

import re

MAX_REQUEST_BYTES = 64 * 1024
REQUEST_TYPE = "smtpd_access_policy"

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class ProtocolError(ValueError):
    """The peer sent something that is not a policy request; the message says what."""


class RequestParser:
    """Incremental parser for one connection: ``feed(data)`` returns the complete requests so far and the
    protocol error that ended the stream, if any (requests before the error are still answered)."""

    __slots__ = ("_buf", "max_bytes")

    def __init__(self, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self._buf = b""
        self.max_bytes = max_bytes

    @property
    def pending(self) -> int:
        """Bytes of an unfinished request waiting for more data."""
        return len(self._buf)

    def feed(self, data: bytes) -> tuple[list[dict[str, str]], ProtocolError | None]:
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:  # tolerate CRLF line ends (not what Postfix sends)
            buf = buf.replace(b"\r\n", b"\n")
        out: list[dict[str, str]] = []
        start = 0
        while True:
            if buf.startswith(b"\n", start):
                self._buf = b""
                return out, ProtocolError("empty request (blank line without attributes)")
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
                out.append(parse_request(buf[start:end]))
            except ProtocolError as e:
                self._buf = b""
                return out, e
            start = end + 2


# Fast path: one anchored "name=value" match per line, found by the regex engine in C; when every line matched,
# the request is well formed. Otherwise the slow path below names the problem.
_PAIR = re.compile(r"^([a-z0-9_]+)=(.*)$", re.MULTILINE)


def parse_request(block: bytes) -> dict[str, str]:
    """Parse the attribute lines of one request (without the terminating empty line)."""
    if b"\0" in block:
        raise ProtocolError("NUL byte in request")
    # Names are ASCII; values may carry UTF-8 (SMTPUTF8 addresses) or stray 8-bit bytes: never fatal.
    text = block.decode("utf-8", errors="replace")
    pairs = _PAIR.findall(text)
    if len(pairs) == text.count("\n") + 1:
        attrs = dict(pairs)
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
