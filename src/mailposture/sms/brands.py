"""The bundled catalogue of brands impersonated by SMS in Japan (``data/sms/brands.yaml``, sourced), and lookups:
which brands a text names, which brand a host genuinely belongs to."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

CATEGORIES = ("parcel", "post", "bank", "card", "mobile", "ecommerce", "utility", "tax", "payment")

# URL-shortening services (their own sites); a link through one hides the landing page
SHORTENERS = frozenset("""
bit.ly bitly.com t.co tinyurl.com goo.gl ow.ly is.gd v.gd buff.ly cutt.ly rebrand.ly t.ly rb.gy shorturl.at
tiny.cc x.gd s.id qr.net shorturl.asia 0rz.tw reurl.cc lihi.cc u0u.jp urx.nu urx2.nu urx3.nu
""".split())


_LOWER_OK = frozenset({"au", "docomo"})  # brands that write their own name in lower case


@dataclass(frozen=True, slots=True)
class Brand:
    id: str
    category: str
    names: tuple[str, ...]
    domains: tuple[str, ...]
    keywords: tuple[str, ...]
    sms: str | None
    source: str

    @property
    def label(self) -> str:
        """The name shown to people: the first name in the catalogue."""
        return self.names[0]


class CatalogueError(ValueError):
    pass


def parse_catalogue(data: Any) -> list[Brand]:
    """Validate a catalogue document (every problem listed, then one error)."""
    problems: list[str] = []
    out: list[Brand] = []
    seen: set[str] = set()
    if not isinstance(data, dict) or not isinstance(data.get("brands"), list):
        raise CatalogueError("brands catalogue: a mapping with a 'brands' list is expected")
    for i, b in enumerate(data["brands"]):
        where = f"brands[{i}]"
        if not isinstance(b, dict):
            problems.append(f"{where}: not a mapping")
            continue
        bid = str(b.get("id") or "")
        if not bid or bid in seen:
            problems.append(f"{where}: missing or duplicate id {bid!r}")
        seen.add(bid)
        if b.get("category") not in CATEGORIES:
            problems.append(f"{where} ({bid}): unknown category {b.get('category')!r}")
        for key in ("names", "domains"):
            if not b.get(key) or not all(isinstance(x, str) and x for x in b[key]):
                problems.append(f"{where} ({bid}): '{key}' must be a non-empty list of strings")
        if not str(b.get("source") or "").startswith("https://"):
            problems.append(f"{where} ({bid}): 'source' must be the https URL the domains come from")
        if b.get("sms") not in (None, "short"):
            problems.append(f"{where} ({bid}): 'sms' must be 'short' or absent")
        if problems:
            continue
        out.append(Brand(bid, b["category"], tuple(b["names"]), tuple(d.lower() for d in b["domains"]),
                         tuple(k.lower() for k in b.get("keywords") or ()), b.get("sms"), b["source"]))
    if problems:
        raise CatalogueError("brands catalogue: " + "; ".join(problems))
    return out


@functools.lru_cache(maxsize=1)
def catalogue() -> tuple[Brand, ...]:
    text = resources.files("mailposture").joinpath("data/sms/brands.yaml").read_text("utf-8")
    return tuple(parse_catalogue(yaml.safe_load(text)))


@functools.lru_cache(maxsize=1)
def by_id() -> dict[str, Brand]:
    return {b.id: b for b in catalogue()}


@functools.lru_cache(maxsize=1)
def _names() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, re.Pattern[str]], ...]]:
    """(Japanese name, brand) and (ASCII name lower-cased, brand, whole-word pattern), longest names first."""
    owner: dict[str, str] = {}
    for b in catalogue():
        for n in b.names:
            owner.setdefault(n.lower() if n.isascii() else n, b.id)
    keys = sorted(owner, key=lambda k: (-len(k), k))
    ja = tuple((k, owner[k]) for k in keys if not k.isascii())
    en = tuple((k, owner[k], re.compile(r"(?<![a-z0-9])" + re.escape(k) + r"(?![a-z0-9])")) for k in keys
               if k.isascii())
    return ja, en


def named_brands(folded_text: str) -> list[str]:
    """Brand ids a (folded) text names, in order of first mention. Japanese names match anywhere; ASCII names
    as whole words, written with a capital or in full capitals ("Amazon", "AMAZON"; "au" and "docomo" also in
    lower case), so that everyday words ("apple") do not count."""
    ja, en = _names()
    low = folded_text.lower()
    hits: dict[str, int] = {}
    taken: list[tuple[int, int]] = []   # spans already matched by a longer name (楽天カード before 楽天)

    def add(bid: str, start: int, end: int) -> None:
        if any(s <= start < e for s, e in taken):
            return
        taken.append((start, end))
        if bid not in hits or start < hits[bid]:
            hits[bid] = start

    if not folded_text.isascii():
        # only the names whose first two characters occur in the text (a set lookup each) are searched for
        pairs = {low[i:i + 2] for i in range(len(low) - 1)}
        ja = tuple(kb for kb in ja if kb[0][:2].lower() in pairs)
    else:
        ja = ()
    for key, bid in ja:
        i = folded_text.find(key)
        while i >= 0:
            add(bid, i, i + len(key))
            i = folded_text.find(key, i + 1)
    for key, bid, rx in en:
        if key not in low:
            continue
        for m in rx.finditer(low):
            written = folded_text[m.start():m.end()]
            if written == written.lower() and key not in _LOWER_OK:
                continue
            add(bid, m.start(), m.end())
    return [b for b, _ in sorted(hits.items(), key=lambda kv: kv[1])]


@functools.lru_cache(maxsize=65536)
def official_brand(host: str) -> str | None:
    """The brand whose genuine domain ``host`` is (the domain itself or a subdomain of it), or None."""
    for b in catalogue():
        for d in b.domains:
            if host == d or host.endswith("." + d):
                return b.id
    return None


def is_official_for(host: str, brand_id: str) -> bool:
    b = by_id().get(brand_id)
    return bool(b) and any(host == d or host.endswith("." + d) for d in b.domains)


def is_shortener(host: str) -> bool:
    return host in SHORTENERS or (host.startswith("www.") and host[4:] in SHORTENERS)
