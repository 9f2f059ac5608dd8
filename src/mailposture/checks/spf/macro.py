"""SPF macros (RFC 7208 §7): parsing a macro-string with error positions, and expanding it.

Parsing is pure. Expansion is async only because ``%{p}`` needs DNS (§7.3: PTR then forward confirmation).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailposture.checks.chars import codepoint

if TYPE_CHECKING:
    from mailposture.dns.types import Resolver

# §7.1: letters allowed in a domain-spec; "c", "r" and "t" only in the explanation text (exp TXT record)
DOMAIN_LETTERS = frozenset("slodiphv")
EXP_LETTERS = frozenset("slodiphvcrt")
DELIMITERS = frozenset(".-+,/_=")  # §7.1 delimiter
# §7.3: uppercase macros are URL-escaped; unreserved characters (RFC 3986 §2.3) stay as they are
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True, slots=True)
class MacroExpand:
    """One ``%{...}`` expand: letter (lower case), whether it was upper case (URL-escape), digits, reversal."""

    letter: str
    upper: bool = False
    digits: int | None = None
    reverse: bool = False
    delimiters: str = ""
    offset: int = 0  # position of the '%' inside the macro-string

    def __str__(self) -> str:
        letter = self.letter.upper() if self.upper else self.letter
        digits = "" if self.digits is None else str(self.digits)
        return "%{" + letter + digits + ("r" if self.reverse else "") + self.delimiters + "}"


Token = str | MacroExpand


@dataclass(frozen=True, slots=True)
class MacroProblem:
    offset: int  # 0-based position inside the macro-string
    reason: str


def parse_macro_string(text: str, *, letters: frozenset[str] = DOMAIN_LETTERS, spaces: bool = False
                       ) -> tuple[list[Token], list[MacroProblem]]:
    """Split a macro-string (§7.1 grammar) into literal text and :class:`MacroExpand` tokens.

    ``%%``, ``%_`` and ``%-`` become the literals ``%``, `` `` and ``%20``. Every problem is collected.
    ``spaces`` allows SP, as in an explanation text (§6.2: explain-string = *( macro-string / SP )).
    """
    tokens: list[Token] = []
    problems: list[MacroProblem] = []
    lit: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            # §7.1 macro-literal = %x21-24 / %x26-7E (visible ASCII except '%')
            if not ("\x21" <= ch <= "\x7e" or (spaces and ch == " ")):
                problems.append(MacroProblem(i, f"{kind_of(ch)} {codepoint(ch)} is not allowed (visible ASCII only)"))
            lit.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt in ("%", "_", "-"):
            lit.append({"%": "%", "_": " ", "-": "%20"}[nxt])  # §7.1
            i += 2
            continue
        if nxt != "{":
            problems.append(MacroProblem(i, "'%' must be followed by '{', '%', '_' or '-'"))
            i += 1 if not nxt else 2
            continue
        end = text.find("}", i + 2)
        if end < 0:
            problems.append(MacroProblem(i, "macro '%{' is not closed with '}'"))
            break
        body = text[i + 2:end]
        m, why = _parse_body(body, letters)
        if m is None:
            problems.append(MacroProblem(i, why))
        else:
            if lit:
                tokens.append("".join(lit))
                lit = []
            tokens.append(MacroExpand(m[0], m[1], m[2], m[3], m[4], i))
        i = end + 1
    if lit:
        tokens.append("".join(lit))
    return tokens, problems


def _parse_body(body: str, letters: frozenset[str]) -> tuple[tuple | None, str]:
    if not body:
        return None, "empty macro '%{}'"
    letter = body[0]
    if letter.lower() not in EXP_LETTERS:
        return None, f"unknown macro letter '{letter}'"
    if letter.lower() not in letters:
        # §7.1: c, r and t are only allowed in explanation text
        return None, f"macro letter '{letter}' is only allowed in an explanation (exp) text"
    j = 1
    while j < len(body) and body[j].isdigit() and body[j].isascii():
        j += 1
    digits = int(body[1:j]) if j > 1 else None
    if digits == 0:
        # §7.1: "If a DIGIT is specified, the value MUST be nonzero."
        return None, "the digit transformer must be nonzero"
    reverse = False
    if j < len(body) and body[j] in "rR":
        reverse = True
        j += 1
    delims = body[j:]
    bad = [c for c in delims if c not in DELIMITERS]
    if bad:
        return None, f"invalid character {bad[0]!r} in macro (delimiters are . - + , / _ =)"
    return (letter.lower(), letter.isupper(), digits, reverse, delims), ""


def ends_with_macro(tokens: list[Token]) -> bool:
    return bool(tokens) and isinstance(tokens[-1], MacroExpand)


def has_letter(tokens: list[Token], letter: str) -> bool:
    return any(isinstance(t, MacroExpand) and t.letter == letter for t in tokens)


# ---------------------------------------------------------------------------------------------------------------
# Expansion


def ip_dotted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """§7.3: %{i} is the dotted-quad IPv4 address, or for IPv6 the 32 nibbles in dot-separated form."""
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", ""))


def reverse_name(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The in-addr.arpa / ip6.arpa name used for PTR lookups (§5.5)."""
    return ".".join(reversed(ip_dotted(ip).split("."))) + (".in-addr.arpa" if ip.version == 4 else ".ip6.arpa")


@dataclass(slots=True)
class MacroContext:
    """The values the macro letters expand to (§7.2)."""

    sender: str                     # full <sender>, with "postmaster@" supplied if needed
    domain: str                     # <domain> currently being evaluated (%{d})
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str = ""
    receiver: str = "unknown"        # %{r}: the receiving host's domain name
    timestamp: int | None = None     # %{t}
    resolver: Resolver | None = None  # needed only for %{p}
    validated: dict[str, str] = field(default_factory=dict)  # %{p} cache per domain

    @property
    def local(self) -> str:
        return self.sender.rpartition("@")[0] or "postmaster"

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


async def _letter_value(letter: str, ctx: MacroContext) -> str:
    if letter == "s":
        return ctx.sender
    if letter == "l":
        return ctx.local
    if letter == "o":
        return ctx.sender_domain
    if letter == "d":
        return ctx.domain
    if letter == "i":
        return ip_dotted(ctx.ip)
    if letter == "v":
        return "in-addr" if ctx.ip.version == 4 else "ip6"
    if letter == "h":
        return ctx.helo
    if letter == "c":
        return str(ctx.ip)  # RFC 5952 text form for IPv6 (§7.3: "c" is the readable form)
    if letter == "r":
        return ctx.receiver or "unknown"
    if letter == "t":
        return str(ctx.timestamp if ctx.timestamp is not None else int(time.time()))
    if letter == "p":
        return await validated_name(ctx)
    raise ValueError(f"unknown macro letter {letter!r}")


def _transform(value: str, m: MacroExpand) -> str:
    # §7.3: split on the delimiters (default "."), optionally reverse, keep the N right-hand parts, join with "."
    delims = m.delimiters or "."
    parts: list[str] = []
    cur: list[str] = []
    for ch in value:
        if ch in delims:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    if m.reverse:
        parts.reverse()
    if m.digits is not None and m.digits < len(parts):
        parts = parts[-m.digits:]
    out = ".".join(parts)
    if m.upper:
        out = "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in out)
    return out


async def expand(tokens: list[Token], ctx: MacroContext) -> str:
    """Expand parsed tokens (§7.3)."""
    out: list[str] = []
    for t in tokens:
        out.append(t if isinstance(t, str) else _transform(await _letter_value(t.letter, ctx), t))
    return "".join(out)


def truncate_domain(name: str) -> str:
    """§7.3: a domain over 253 characters loses labels on the left until it fits."""
    name = name[:-1] if name.endswith(".") else name
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


async def validated_name(ctx: MacroContext) -> str:
    """%{p} (§7.3 and §5.5): a PTR name of <ip> whose A/AAAA records contain <ip>; "unknown" if none.

    At most 10 PTR names are checked (§4.6.4). A name equal to <domain> wins, then a subdomain of it, then any.
    """
    if ctx.domain in ctx.validated:
        return ctx.validated[ctx.domain]
    names = await validated_names(ctx.ip, ctx.resolver) if ctx.resolver is not None else []
    d = ctx.domain.lower()
    best = next((n for n in names if n == d), None) or next((n for n in names if n.endswith("." + d)), None)
    value = best or (names[0] if names else "unknown")
    ctx.validated[ctx.domain] = value
    return value


async def validated_names(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, resolver: Resolver) -> list[str]:
    """The PTR names of ``ip`` that resolve back to it (forward-confirmed), at most 10 examined (§4.6.4)."""
    ans = await resolver.query(reverse_name(ip), "PTR")
    if not ans.ok:
        return []
    rdtype = "A" if ip.version == 4 else "AAAA"
    out = []
    for name in list(ans.records)[:10]:
        name = str(name).rstrip(".").lower()
        fwd = await resolver.query(name, rdtype)
        if not fwd.ok:
            continue  # §5.5: a DNS error on the forward lookup skips this name
        if any(_same_ip(a, ip) for a in fwd.records):
            out.append(name)
    return out


def _same_ip(text: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(str(text)) == ip
    except ValueError:
        return False


def kind_of(ch: str) -> str:
    o = ord(ch)
    return "control character" if o < 0x20 or 0x7F <= o <= 0x9F else (
        "whitespace" if ch.isspace() else "character")
