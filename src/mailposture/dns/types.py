"""Plain data for DNS answers, shared by the engine, the fake resolver and every check.

An :class:`Answer` never hides a failure: ``status`` keeps a DNS failure (``error``) apart from a name that
does not exist (``nxdomain``, RFC 8020) and a name without records of the asked type (``nodata``, RFC 2308 §2.2).

Record data by type (``Answer.records``):

==========  =====================================================================
A, AAAA     ``str`` address text (``"192.0.2.1"``, ``"2001:db8::1"``)
MX          ``(preference: int, exchange: str)``
TXT, SPF    ``tuple[bytes, ...]``: the character-strings of one record, unjoined
CNAME, PTR,
NS          ``str`` target name, no trailing dot
TLSA etc.   ``bytes`` raw rdata (types the engine does not decode)
==========  =====================================================================

Names are given without a trailing dot; comparisons are case-insensitive (callers lower-case).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["ok", "nxdomain", "nodata", "error"]

RDTYPES: dict[str, int] = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
    "SPF": 99, "DS": 43, "DNSKEY": 48, "TLSA": 52, "HTTPS": 65, "CAA": 257,
}
RDTYPE_NAMES: dict[int, str] = {v: k for k, v in RDTYPES.items()}
# The longest CNAME chain followed (hops). A loop (a name met twice) is reported as soon as it is seen; this limit
# only stops a long chain of distinct names. Real CDN chains are 2-5 hops; 20 leaves ample room (resolvers
# allow a dozen or more restarts), while bounding the work an attacker's chain can cause.
MAX_CNAME_CHAIN = 20

RCODES: dict[int, str] = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one lookup of (name, rdtype), after CNAMEs were followed by the server or the engine."""

    name: str
    rdtype: str
    status: Status
    records: tuple[Any, ...] = ()
    rcode: str = "NOERROR"          # last rcode seen ("" when no response arrived at all)
    ttl: int = 0                    # min TTL of the answer RRset, or the negative TTL (SOA minimum)
    cname_chain: tuple[str, ...] = ()  # names followed from ``name`` to the owner of ``records``
    error: str | None = None        # "timeout", "servfail", "refused", "formerr", "network: …", "cname-loop",
    #                                 "cname-chain-too-long"
    server: str | None = None       # "ip:port" of the server that gave the final response
    ad: bool = False                # AD flag of the response (RFC 4035 §3.2.3)
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def exists(self) -> bool | None:
        """True when the name exists, False on NXDOMAIN, None when unknown (error)."""
        if self.status == "error":
            return None
        return self.status != "nxdomain"

    def txt_strings(self) -> list[str]:
        """TXT/SPF records joined per RFC 7208 §3.3 (strings concatenated with no separator), decoded UTF-8.

        Undecodable bytes are kept as U+FFFD: the raw bytes remain in ``records``.
        """
        return [b"".join(parts).decode("utf-8", "replace") for parts in self.records]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form: kept with results so that a round can be recomputed without scanning again."""
        d: dict[str, Any] = {"name": self.name, "type": self.rdtype, "status": self.status, "rcode": self.rcode,
                             "ttl": self.ttl, "records": [_record_json(r) for r in self.records]}
        if self.cname_chain:
            d["cname_chain"] = list(self.cname_chain)
        if self.error:
            d["error"] = self.error
        if self.ad:
            d["ad"] = True
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Answer:
        rdtype = d["type"]

        def back(r: Any) -> Any:
            if rdtype in ("TXT", "SPF"):
                return tuple(p.encode("utf-8", "surrogateescape") for p in r)
            if rdtype == "MX":
                return (int(r[0]), str(r[1]))
            if rdtype in ("A", "AAAA", "CNAME", "PTR", "NS"):
                return r
            return bytes.fromhex(r) if isinstance(r, str) else r

        return cls(name=d["name"], rdtype=rdtype, status=d["status"], rcode=d.get("rcode", "NOERROR"),
                   ttl=d.get("ttl", 0), records=tuple(back(r) for r in d.get("records", [])),
                   cname_chain=tuple(d.get("cname_chain", ())), error=d.get("error"), ad=d.get("ad", False))


def _record_json(r: Any) -> Any:
    if type(r) is str:  # A, AAAA, CNAME, PTR, NS: the common case first
        return r
    if isinstance(r, tuple) and r and isinstance(r[0], bytes):
        return [p.decode("utf-8", "backslashreplace") for p in r]
    if isinstance(r, bytes):
        return r.hex()
    if isinstance(r, tuple):
        return list(r)
    return r


@dataclass(slots=True)
class QueryStats:
    """Per-domain accounting: how many lookups a check made and which ones failed."""

    queries: int = 0
    cache_hits: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def record(self, ans: Answer) -> None:
        self.queries += 1
        if ans.from_cache:
            self.cache_hits += 1
        if ans.status == "error":
            self.errors.append({"name": ans.name, "type": ans.rdtype, "error": ans.error or "error"})
        self.answers.append(ans)

    def to_json(self) -> dict[str, Any]:
        return {"queries": self.queries, "cache_hits": self.cache_hits, "errors": self.errors}


class Resolver(Protocol):
    """What every check needs from DNS. Implementations: :class:`mailposture.dns.engine.Engine` (network),
    :class:`mailposture.dns.fake.FakeResolver` (tests), :class:`TrackingResolver` (per-domain accounting)."""

    async def query(self, name: str, rdtype: str) -> Answer: ...


class TrackingResolver:
    """Wraps a resolver and records every answer in a :class:`QueryStats` (one per domain checked)."""

    __slots__ = ("inner", "stats")

    def __init__(self, inner: Resolver, stats: QueryStats | None = None) -> None:
        self.inner = inner
        self.stats = stats if stats is not None else QueryStats()

    async def query(self, name: str, rdtype: str) -> Answer:
        ans = await self.inner.query(name, rdtype)
        self.stats.record(ans)
        return ans
