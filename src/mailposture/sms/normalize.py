"""Text normalisation for SMS: width folding, de-obfuscated URL and phone-number extraction, language, template.

Pure functions over strings. Obfuscation undone (and reported): ``hxxp``/``h**p``/``ttp`` schemes, ``[.]``,
``(.)``, ``[dot]``, ``(dot)``, ``[:]``, spaces around dots inside a host name, and full-width or ideographic dots
(``．`` ``。``) between the letters of a host name. Full-width letters and digits are folded by NFKC.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field

# private-use sentinels: an obfuscated dot / colon / scheme survives NFKC and the URL regex, then becomes plain
_DOT_BRACKET = "\ue000"   # [.] (.) [dot] (dot) {.}
_DOT_SPACED = "\ue001"    # " . " inside a host name
_DOT_WIDE = "\ue002"      # ． 。 ｡ between host-name characters
_SCHEME_MANGLED = "\ue003"  # hxxp:// h**p:// ttp://
_COLON_BRACKET = "\ue004"  # [:]
_DOTS = _DOT_BRACKET + _DOT_SPACED + _DOT_WIDE
_SENTINEL = re.compile("[" + _DOTS + _SCHEME_MANGLED + _COLON_BRACKET + "]")
_SENTINEL_TO_DOT = {ord(c): "." for c in _DOTS + _SCHEME_MANGLED + _COLON_BRACKET}
HOW = {_DOT_BRACKET: "[.]", _DOT_SPACED: "spaces", _DOT_WIDE: "full-width dot", _SCHEME_MANGLED: "hxxp",
       _COLON_BRACKET: "[:]"}

# TLDs that a bare host name (no scheme, no www.) may end with; anything else needs a scheme or www.
COMMON_TLDS = frozenset("""
com net org info biz jp co io tv cc ws ly gl uk de ru cn kr hk tw sg au ca fr nl es eu
top xyz icu buzz shop club online site cyou vip tk ml ga cf gq work live sbs bond monster rest click link
support app dev page store tech fun space website asia mobi pro name cloud one today life world email
""".split())
# cheap / new TLDs heavily used by smishing (reports of the anti-phishing council and registries' abuse data)
RISKY_TLDS = frozenset("""
top xyz icu buzz shop club online site cyou vip tk ml ga cf gq work live sbs bond monster rest click link
support cn cc ws ly fun space website cfd quest hair beauty makeup skin autos boats yachts mom lol pics
""".split())
# TLDs that join a host name written with spaces around its dots ("evil . com"): not English words, lower case
SPACED_TLDS = frozenset("com net org info biz jp top xyz icu buzz cyou sbs cn cc tk ml ga cf gq ru kr hk tw uk".split())

_JA_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_WIDE_DOT = re.compile(r"(?<=[A-Za-z0-9Ａ-Ｚａ-ｚ０-９\-])[．。｡](?=[A-Za-z0-9Ａ-Ｚａ-ｚ０-９])")
_BRACKET_DOT = re.compile(r"\s*(?:\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\})\s*", re.I)
_BRACKET_COLON = re.compile(r"\[\s*:\s*\]")
_SCHEME = re.compile(r"\b(?:hxxp|hxtp|htxp|h\*\*p|h\[tt\]p|hxxps|h\*\*ps)(s?)(?=\s*(?::|" + _COLON_BRACKET + r")//)|"
                     r"(?<![a-z])ttp(s?)(?=://)", re.I)
_SPACED_HOST = re.compile(r"[a-z0-9][a-z0-9\-]*(?:[ \t]*[." + _DOTS + r"][ \t]*[a-z0-9][a-z0-9\-]*)+", re.I)
# link characters: ASCII of RFC 3986 §2 (less brackets, parentheses and quotes, which end a link in prose) and
# the sentinels; Japanese text or emoji right after a link end it
_UCH = r"[A-Za-z0-9\-._~:/?#@!$&*+,;=%" + _DOTS + _COLON_BRACKET + "]"
# host characters: also Latin, Greek and Cyrillic letters (internationalised names imitating brands)
_HCH = r"[A-Za-z0-9\-._~:@%\u00c0-\u04ff" + _DOTS + _COLON_BRACKET + "]"
_LAB = r"[a-z0-9\u00c0-\u04ff](?:[a-z0-9\-\u00c0-\u04ff]{0,61}[a-z0-9\u00c0-\u04ff])?"
_URL = re.compile(
    _SCHEME_MANGLED + r"?https?(?::|" + _COLON_BRACKET + r")//" + _HCH + "+(?:[/?#]" + _UCH + "*)?"
    r"|(?<![@\w.\-" + _DOTS + r"])(?:www[." + _DOTS + r"])?(?:" + _LAB + "[." + _DOTS
    + r"])+[a-z]{2,24}(?::\d{1,5})?(?:/" + _UCH + r"*)?(?![A-Za-z0-9\-])",
    re.I)
_PHONE = re.compile(r"(?<![\d\w])(?:\+\d{1,3}[\s\-]?)?(?:\(?0\d{1,4}\)?[\s\-]?)\d{1,4}[\s\-]?\d{3,4}(?!\d)")
_TRAILING = ".,;:!?)]}'\"。、"


@dataclass(slots=True)
class FoundUrl:
    url: str          # de-obfuscated, with a scheme
    host: str         # lower-case, IDNA (xn--) form when non-ASCII
    raw: str          # as written (after width folding)
    obfuscation: list[str] = field(default_factory=list)
    is_ip: bool = False


def fold(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation to ASCII; half-width kana to full-width)."""
    return unicodedata.normalize("NFKC", text)


def language(text: str) -> str:
    """'ja' when the message has kana or kanji, else 'en'."""
    return "ja" if _JA_CHARS.search(text) else "en"


def _mark(text: str) -> str:
    if not text.isascii():
        if "．" in text or "。" in text or "｡" in text:
            text = _WIDE_DOT.sub(_DOT_WIDE, text)
        text = fold(text)
    if "[" in text or "(" in text or "{" in text:
        text = _BRACKET_DOT.sub(_DOT_BRACKET, text)
        text = _BRACKET_COLON.sub(_COLON_BRACKET, text)
    low = text.lower()
    if "ttp" in low or "xxp" in low or "**p" in low or "[tt]" in low:
        text = _SCHEME.sub(lambda m: _SCHEME_MANGLED + "http" + (m.group(1) or m.group(2) or ""), text)

    def spaced(m: re.Match[str]) -> str:
        s = m.group(0)
        if " " not in s and "\t" not in s:
            return s
        last = re.split(r"[ \t]*[." + _DOTS + r"][ \t]*", s)[-1]
        if last not in SPACED_TLDS:
            return s
        return re.sub(r"[ \t]*([." + _DOTS + r"])[ \t]*",
                      lambda d: _DOT_SPACED if d.group(1) == "." else d.group(1), s)

    return _SPACED_HOST.sub(spaced, text)


def _host_of(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else url
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.split(":", 1)[0].strip(".").lower()


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return host


def extract_urls(text: str) -> tuple[list[FoundUrl], str]:
    """The links of a message, de-obfuscated, in order; and the folded text with each link replaced by a space."""
    marked = _mark(text)
    out: list[FoundUrl] = []
    pieces: list[str] = []
    last = 0
    for m in _URL.finditer(marked):
        raw = m.group(0).rstrip(_TRAILING)
        if not raw:
            continue
        has_scheme = "//" in raw
        body = raw
        if not has_scheme:
            host_part = re.split(r"[/:]", body, maxsplit=1)[0]
            tld = host_part.translate({ord(c): "." for c in _DOTS}).rsplit(".", 1)[-1].lower()
            if not (host_part.lower().startswith("www") or "/" in body or tld in COMMON_TLDS):
                continue
        how = [HOW[c] for c in HOW if c in raw]
        clean = raw.replace(_SCHEME_MANGLED, "").replace(_COLON_BRACKET, ":")
        for c in _DOTS:
            clean = clean.replace(c, ".")
        if not has_scheme:
            clean = "http://" + clean
        host = _host_of(clean)
        if not host.isascii():
            host = _idna(host)
        is_ip = host[-1:].isdigit() and _is_ip(host)
        out.append(FoundUrl(clean, host, raw.translate({ord(c): "." for c in _DOTS}).replace(_SCHEME_MANGLED, ""),
                            list(dict.fromkeys(how)), is_ip))
        pieces.append(marked[last:m.start()])
        pieces.append(" ")
        last = m.start() + len(raw)
    pieces.append(marked[last:])
    rest = "".join(pieces) if out else marked
    if _SENTINEL.search(rest):
        rest = rest.translate(_SENTINEL_TO_DOT)
    return out, rest


def extract_phones(folded_text_without_urls: str) -> list[str]:
    """Phone numbers (10 to 13 digits; Japanese 0AB-J and +81 forms, UK 07…/09…) in a folded text."""
    found = []
    for m in _PHONE.finditer(folded_text_without_urls):
        digits = re.sub(r"\D", "", m.group(0))
        if 10 <= len(digits) <= 13:
            found.append(m.group(0).strip())
    return found


_MOBILE = re.compile(r"^(?:\+?81|0)[789]0\d{8}$")


def is_personal_mobile(sender: str) -> bool:
    """070/080/090 numbers (also +81 70…): personal mobile lines, as opposed to short codes and sender names."""
    digits = re.sub(r"[\s\-()]", "", fold(sender))
    return bool(_MOBILE.match(digits.lstrip("+")))


_TEMPLATE_NUM = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def template(text: str, rest: str | None = None, phones: list[str] | None = None) -> str:
    """A message reduced to its template: folded, lower-case, links -> <url>, phones -> <tel>, numbers -> 0.
    ``rest``/``phones``: the text without links and its phone numbers when already computed."""
    if rest is None:
        _, rest = extract_urls(text)
    for p in extract_phones(rest) if phones is None else phones:
        rest = rest.replace(p, " <tel> ")
    rest = _TEMPLATE_NUM.sub("0", rest.lower())
    return _SPACES.sub(" ", rest).strip()


def template_key(text: str, rest: str | None = None, phones: list[str] | None = None) -> str:
    return "c-" + hashlib.sha1(template(text, rest, phones).encode("utf-8")).hexdigest()[:10]


@functools.lru_cache(maxsize=1)
def psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@functools.lru_cache(maxsize=65536)
def registrable(host: str) -> str:
    """The registrable domain (Public Suffix List, offline); the host itself for IPs and public suffixes."""
    if not host or (host[0].isdigit() and _is_ip(host)):
        return host
    return psl().privatesuffix(host) or host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def tld(host: str) -> str:
    return host.rsplit(".", 1)[-1]
