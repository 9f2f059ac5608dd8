"""Characters outside a record's grammar, named so that a reader can see them.

A control character echoed raw is invisible in a terminal or a report: it is named by code point (``U+0001``)
and position instead. Positions are 1-based, as in every finding message.
"""

from __future__ import annotations

import re


def printable_ascii(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def describe(ch: str, offset: int) -> str:
    """``control character U+0001 at position 19`` (``offset`` is 0-based)."""
    o = ord(ch)
    kind = "control character" if o < 0x20 or 0x7F <= o <= 0x9F else (
        "whitespace" if ch.isspace() else "non-ASCII character")
    return f"{kind} {codepoint(ch)} at position {offset + 1}"


_KIND_JA = {"control character": "制御文字", "whitespace": "空白文字", "non-ASCII character": "非 ASCII 文字"}
_DESCRIBED = re.compile(r"(control character|whitespace|non-ASCII character) (U\+[0-9A-F]{4,6}) at position (\d+)")


def in_japanese(text: str) -> str:
    """:func:`describe`'s phrases inside ``text`` said in Japanese (``制御文字 U+0001 (19 文字目)``)."""
    return _DESCRIBED.sub(lambda m: f"{_KIND_JA[m.group(1)]} {m.group(2)} ({m.group(3)} 文字目)", text)


QUOTES = "\"'“”‘’＂"   # ASCII, typographic and full-width quotation marks


def unquoted(text: str) -> str | None:
    """The text inside quotation marks that were stored as part of a TXT record (``"v=spf1 -all"`` pasted into
    a control panel that adds its own quotes); None when the text is not wrapped in quotes."""
    t = text.strip()
    if len(t) >= 2 and t[0] in QUOTES:
        return t.strip(QUOTES).strip()
    return None


def visible(text: str, limit: int | None = None) -> str:
    """``text`` for a message: control and space-like characters shown as ``<U+XXXX>``, never echoed raw;
    other non-ASCII letters stay as they are (they are visible)."""
    if limit is not None:
        text = text[:limit]
    if all(printable_ascii(c) for c in text):
        return text
    return "".join(c if printable_ascii(c) or (ord(c) > 0x9F and c.isprintable() and not c.isspace())
                   else f"<{codepoint(c)}>" for c in text)


def first_bad(text: str, base: int = 0) -> str | None:
    """The first character outside printable ASCII described with its position (None when there is none)."""
    for i, ch in enumerate(text):
        if not printable_ascii(ch):
            return describe(ch, base + i)
    return None
