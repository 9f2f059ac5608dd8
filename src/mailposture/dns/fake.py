"""An in-memory resolver built from a zone dictionary: the DNS of unit tests, the SPF suite and the demo.

Zone format: ``{name: [(rdtype, value), ...]}`` with values as in :mod:`mailposture.dns.types`
(TXT values may also be given as a ``str`` or a list of ``str``; they are stored as character-strings).
Special entries: ``("TIMEOUT", None)`` makes every query for the name fail with ``error="timeout"``;
``("SERVFAIL", None)`` answers SERVFAIL. Names that only have descendants exist (empty non-terminals give
NODATA, RFC 8020 §2). ``*.`` owners act as wildcards (RFC 4592, simplified: closest encloser only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from mailposture.dns.types import MAX_CNAME_CHAIN, Answer


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _txt(value: Any) -> tuple[bytes, ...]:
    if isinstance(value, tuple) and all(isinstance(p, bytes) for p in value):
        return value
    if isinstance(value, bytes):
        return (value,)
    if isinstance(value, str):
        value = [value]
    out = []
    for part in value:
        b = part if isinstance(part, bytes) else part.encode("utf-8", "surrogateescape")
        # a character-string holds at most 255 octets (RFC 1035 §3.3); split longer ones as a zone file would
        out.extend([b[i:i + 255] for i in range(0, len(b), 255)] or [b""])
    return tuple(out)


class FakeResolver:
    """Answers from a dictionary. Counts queries per (name, type) in ``log`` for assertions."""

    def __init__(self, zone: Mapping[str, Iterable[tuple[str, Any]]] | None = None) -> None:
        self.rrs: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        self.special: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []
        for name, entries in (zone or {}).items():
            for rdtype, value in entries:
                self.add(name, rdtype, value)

    def add(self, name: str, rdtype: str, value: Any = None) -> None:
        name, rdtype = _norm(name), rdtype.upper()
        if rdtype in ("TIMEOUT", "SERVFAIL"):
            self.special[name] = rdtype
            return
        if rdtype in ("TXT", "SPF"):
            value = _txt(value)
        elif rdtype in ("CNAME", "PTR", "NS"):
            value = _norm(value)
        elif rdtype == "MX":
            value = (int(value[0]), _norm(value[1]))
        self.rrs[name][rdtype].append(value)

    def _exists(self, name: str) -> bool:
        if name in self.rrs or name in self.special:
            return True
        suffix = "." + name
        return any(n.endswith(suffix) for n in list(self.rrs) + list(self.special))

    def _lookup_owner(self, name: str) -> str | None:
        if name in self.rrs or name in self.special:
            return name
        if self._exists(name):
            return name
        labels = name.split(".")
        for i in range(1, len(labels)):
            wild = "*." + ".".join(labels[i:])
            if wild in self.rrs:
                return wild
            if self._exists(".".join(labels[i:])):
                return None
        return None

    async def query(self, name: str, rdtype: str) -> Answer:
        qname, rdtype = _norm(name), rdtype.upper()
        self.log.append((qname, rdtype))
        chain: list[str] = []
        current = qname
        seen = {qname}
        for _ in range(MAX_CNAME_CHAIN + 1):
            owner = self._lookup_owner(current)
            if owner is not None and owner in self.special:
                kind = self.special[owner]
                return Answer(qname, rdtype, "error", rcode="SERVFAIL" if kind == "SERVFAIL" else "",
                              error=kind.lower(), cname_chain=tuple(chain))
            if owner is None:
                return Answer(qname, rdtype, "nxdomain", rcode="NXDOMAIN", ttl=300, cname_chain=tuple(chain))
            node = self.rrs.get(owner, {})
            if node.get(rdtype):
                return Answer(qname, rdtype, "ok", records=tuple(node[rdtype]), ttl=300, cname_chain=tuple(chain))
            if "CNAME" in node and rdtype != "CNAME":
                current = node["CNAME"][0]
                chain.append(current)
                if current in seen:  # a loop: a name met twice (as the engine reports it)
                    return Answer(qname, rdtype, "error", rcode="", error="cname-loop", cname_chain=tuple(chain))
                seen.add(current)
                continue
            return Answer(qname, rdtype, "nodata", ttl=300, cname_chain=tuple(chain))
        return Answer(qname, rdtype, "error", rcode="", error="cname-chain-too-long", cname_chain=tuple(chain))
