"""Reading a received message (RFC 5322): header fields kept byte for byte for DKIM/ARC, decoded for people.

Pure functions: bytes in, a :class:`Message` out. Nothing here raises on bad input; every defect becomes a
finding (``MSG_*``) and the parser keeps as much of the message as it can. Line ends may be CRLF or LF
(RFC 5322 §2.1 requires CRLF; files on disk usually have LF); 8-bit header bytes (RFC 6532) are kept as bytes
and decoded as UTF-8 with replacement for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import getaddresses

from mailposture.findings import Finding, finding

MAX_HEADER_FIELDS = 5000        # a hostile message cannot make us hold millions of fields
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")   # RFC 5322 §3.6.8 ftext, WSP before ':' (obs)
_LINE = re.compile(rb"\r?\n")


@dataclass(slots=True)
class Message:
    """A parsed message. ``fields`` are (name, raw value) as dkimpy expects them: the value is everything
    after the colon, continuation lines included, each line ending in CRLF."""

    fields: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""                      # CRLF line ends
    findings: list[Finding] = field(default_factory=list)
    has_separator: bool = True

    def get_all(self, name: str) -> list[str]:
        """Unfolded, decoded values of every field called ``name`` (top to bottom)."""
        key = name.lower().encode()
        return [unfold(v) for n, v in self.fields if n.lower() == key]

    def raw_all(self, name: str) -> list[bytes]:
        key = name.lower().encode()
        return [v for n, v in self.fields if n.lower() == key]

    def count(self, name: str) -> int:
        key = name.lower().encode()
        return sum(1 for n, _ in self.fields if n.lower() == key)


def unfold(value: bytes) -> str:
    """RFC 5322 §2.2.3 unfolding; 8-bit bytes decoded as UTF-8 (RFC 6532), invalid bytes replaced."""
    return re.sub(r"\r?\n(?=[ \t])", "", value.decode("utf-8", "replace")).strip("\r\n").strip()


def decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded for display; undecodable words are left as they are."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # any malformed encoded word: show the raw text (the finding is the caller's)
        return text


def parse(data: bytes) -> Message:
    """Split ``data`` into header fields and body (RFC 5322 §2.1); findings for every structural defect."""
    msg = Message()
    out = msg.findings
    if not data.strip():
        out.append(finding("MSG_EMPTY"))
        msg.has_separator = False
        return msg
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = _LINE.split(data)
    i = 0
    bad_lines = 0
    if lines and lines[0].startswith(b"From ") and b":" not in lines[0].split(b" ", 2)[1][:1]:
        i = 1  # mbox "From " separator line left in a saved message
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line:
            i += 1
            break
        if line[:1] in (b" ", b"\t"):
            if msg.fields:
                name, value = msg.fields[-1]
                msg.fields[-1] = (name, value + line + b"\r\n")
            else:
                bad_lines += 1
        else:
            m = _FIELD_NAME.match(line)
            if m is None:
                bad_lines += 1
                if bad_lines == 1:
                    out.append(finding("MSG_HEADER_SYNTAX", line=_show(line)))
                if not msg.fields and bad_lines > 3:
                    break   # not a message at all: stop reading headers
            elif len(msg.fields) < MAX_HEADER_FIELDS:
                msg.fields.append((m.group(1), line[m.end():] + b"\r\n"))
        i += 1
    else:
        msg.has_separator = False
    if bad_lines > 1:
        out.append(finding("MSG_HEADER_SYNTAX", line=f"{bad_lines} lines", ))
    if not msg.fields:
        out.append(finding("MSG_NO_HEADERS"))
    elif not msg.has_separator:
        out.append(finding("MSG_NO_BODY_SEPARATOR"))
    msg.body = b"\r\n".join(lines[i:]) if i < n else b""
    if b"\r" in data.replace(b"\r\n", b""):
        out.append(finding("MSG_BARE_CR"))
    if b"\x00" in data:
        out.append(finding("MSG_NUL"))
    if any(b > 0x7f for _, v in msg.fields for b in v) or any(any(b > 0x7f for b in nm) for nm, _ in msg.fields):
        out.append(finding("MSG_8BIT_HEADER"))
    return msg


def _show(line: bytes, limit: int = 60) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(slots=True)
class FromInfo:
    addresses: list[str]
    domains: list[str]
    domain: str | None          # the one RFC5322.From domain, or None when there is not exactly one
    problem: str | None         # "none" | "several-fields" | "several-domains" | "no-domain" | None


def from_domain(msg: Message) -> tuple[FromInfo, list[Finding]]:
    """RFC 7489 §6.6.1: the author domain. Several From fields, several addresses of different domains, or no
    usable address are findings (the DMARC result is then permerror)."""
    values = msg.get_all("from")
    out: list[Finding] = []
    if not values:
        out.append(finding("MSG_FROM_MISSING"))
        return FromInfo([], [], None, "none"), out
    addrs: list[str] = []
    for v in values:
        # addresses are read from the raw text: an encoded word (RFC 2047 §5) may hold a display name only, and
        # decoding first would let "=?utf-8?b?...?=" smuggle an address into the display name
        for _name, addr in getaddresses([v]):
            if addr:
                addrs.append(addr.strip())
    domains: list[str] = []
    for a in addrs:
        dom = a.rpartition("@")[2].strip().strip(">").rstrip(".").lower() if "@" in a else ""
        if dom:
            try:
                dom = dom.encode("idna").decode("ascii") if not dom.isascii() else dom
            except UnicodeError:
                pass
            if dom not in domains:
                domains.append(dom)
    problem = None
    if len(values) > 1:
        out.append(finding("MSG_FROM_MULTIPLE", count=len(values)))
        problem = "several-fields"
    if not domains:
        out.append(finding("MSG_FROM_NO_DOMAIN", value=values[0][:80]))
        return FromInfo(addrs, [], None, "no-domain"), out
    if len(domains) > 1:
        out.append(finding("MSG_FROM_SEVERAL_DOMAINS", domains=", ".join(domains)))
        return FromInfo(addrs, domains, None, "several-domains"), out
    return FromInfo(addrs, domains, domains[0], problem), out


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox file (lines starting "From " separate them; ">From " quoting is undone)."""
    parts: list[bytes] = []
    cur: list[bytes] = []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and (cur or not parts):
            if cur:
                parts.append(b"".join(cur))
            cur = []
            continue
        if line.startswith(b">From "):
            line = line[1:]
        cur.append(line)
    if cur:
        parts.append(b"".join(cur))
    return parts
