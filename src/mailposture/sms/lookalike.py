"""Look-alike domains of the catalogue's brands: edit distance, homoglyphs (incl. punycode), brand + keyword.

Pure: takes a host name, returns what it imitates. Edit distance uses a deletion neighbourhood index (the
SymSpell idea) so that a host is compared with every brand in a few dictionary lookups, then verified with the
optimal-string-alignment distance (transpositions count as one edit).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from mailposture.sms.brands import by_id, catalogue, official_brand
from mailposture.sms.normalize import registrable

# look-alike characters -> the Latin letter they imitate (Cyrillic, Greek, digits, full-width already folded)
_HOMOGLYPHS = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ӏ": "l", "һ": "h", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "н": "h", "т": "t", "в": "b",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "ε": "e", "υ": "u",
    "ɑ": "a", "ɡ": "g", "ı": "i", "ł": "l", "ß": "ss", "à": "a", "á": "a", "â": "a", "ä": "a", "å": "a",
    "è": "e", "é": "e", "ê": "e", "ë": "e", "ì": "i", "í": "i", "î": "i", "ï": "i", "ò": "o", "ó": "o",
    "ô": "o", "ö": "o", "ù": "u", "ú": "u", "û": "u", "ü": "u", "ý": "y", "ñ": "n", "ç": "c",
    "0": "o", "1": "l", "3": "e", "5": "s", "|": "l",
}
_MULTI = (("rn", "m"), ("vv", "w"), ("cl", "d"))
# registrable domains that contain a brand's word without imitating it (cloud hosting of the brand itself)
_NOT_LOOKALIKE = frozenset({"amazonaws.com", "applecoach.com"})
# hosts' words that say "this is about an account or a delivery": brand + one of these = brand + keyword
_KEYWORD_MIN = 5


@dataclass(frozen=True, slots=True)
class Lookalike:
    brand: str          # brand id
    kind: str           # "edit" | "homoglyph" | "keyword"
    brand_domain: str   # the genuine domain imitated (edit/homoglyph) or the brand's first domain (keyword)
    distance: int = 0
    keyword: str = ""
    unicode: str = ""   # the decoded name for punycode hosts


def skeleton(label: str) -> str:
    s = "".join(_HOMOGLYPHS.get(ch, ch) for ch in label.lower())
    for a, b in _MULTI:
        s = s.replace(a, b)
    return s


def decode_punycode(host: str) -> str:
    out = []
    for lab in host.split("."):
        if lab.startswith("xn--"):
            try:
                lab = lab.encode("ascii").decode("idna")
            except (UnicodeError, ValueError):
                pass
        out.append(lab)
    return ".".join(out)


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        prev2, prev = prev, cur
    return prev[lb]


def _max_edits(label: str) -> int:
    return 0 if len(label) < 5 else (1 if len(label) < 9 else 2)


def _deletes(s: str, depth: int) -> set[str]:
    out = {s}
    frontier = {s}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1:])
        out |= nxt
        frontier = nxt
    return out


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, list[tuple[str, str, str]]], dict[str, tuple[str, str, str]]]:
    """deletion neighbourhood -> [(brand, genuine registrable domain, its first label)], and label -> same."""
    idx: dict[str, list[tuple[str, str, str]]] = {}
    exact: dict[str, tuple[str, str, str]] = {}
    for b in catalogue():
        for d in b.domains:
            reg = registrable(d)
            lab = reg.split(".", 1)[0]
            entry = (b.id, reg, lab)
            exact.setdefault(lab, entry)
            for v in _deletes(lab, _max_edits(lab)):
                idx.setdefault(v, []).append(entry)
    return idx, exact


@functools.lru_cache(maxsize=1)
def _keyword_rx() -> tuple[re.Pattern[str], dict[str, str]]:
    owner: dict[str, str] = {}
    for b in catalogue():
        for k in b.keywords:
            owner.setdefault(k, b.id)
    parts = []
    for k in sorted(owner, key=len, reverse=True):
        if len(k) >= _KEYWORD_MIN:
            parts.append(re.escape(k))
        else:  # short keywords ("au", "nta", "jcb"): a whole part between dots and hyphens
            parts.append(r"(?<![a-z0-9])" + re.escape(k) + r"(?![a-z0-9])")
    return re.compile("|".join(parts)), owner


@functools.lru_cache(maxsize=65536)
def lookalike(host: str) -> Lookalike | None:
    """What brand ``host`` imitates, or None (also None for the brands' genuine hosts)."""
    if not host or official_brand(host):
        return None
    reg = registrable(host)
    if reg in _NOT_LOOKALIKE:
        return None
    uni = decode_punycode(host) if "xn--" in host else ""
    idx, exact = _index()
    label = reg.split(".", 1)[0]
    ulabel = decode_punycode(label) if label.startswith("xn--") else label
    sk = skeleton(ulabel)
    if sk != ulabel and sk in exact:
        bid, dom, _ = exact[sk]
        return Lookalike(bid, "homoglyph", dom, unicode=uni)
    if label in exact:          # the brand's label under another suffix: sagawa-exp.top, amazon.co.jp.xyz
        bid, dom, _ = exact[label]
        return Lookalike(bid, "keyword", dom, keyword=label, unicode=uni)
    best: tuple[int, tuple[str, str, str]] | None = None
    for cand in (label, sk) if sk != label else (label,):
        for v in _deletes(cand, 2 if len(cand) >= 9 else 1):
            for entry in idx.get(v, ()):
                lim = _max_edits(entry[2])
                dist = osa_distance(cand, entry[2])
                if 0 < dist <= lim and (best is None or dist < best[0]):
                    best = (dist, entry)
    if best:
        return Lookalike(best[1][0], "homoglyph" if uni else "edit", best[1][1], distance=best[0], unicode=uni)
    # brand + keyword: the brand's word anywhere in the host, outside the public suffix
    suffix_len = len(reg) - len(label)
    head = host[: len(host) - suffix_len] if suffix_len > 0 else host
    m = _keyword_rx()[0].search(skeleton(decode_punycode(head)) if uni else head)
    if m:
        bid = _keyword_rx()[1][m.group(0)]
        return Lookalike(bid, "keyword", by_id()[bid].domains[0], keyword=m.group(0), unicode=uni)
    return None
