"""Is the resolver itself the problem? The share of domains whose lookups failed or that came back NXDOMAIN.

On a real list a few percent of domains fail a lookup (a broken zone, a lame delegation) and a few percent no
longer exist (NXDOMAIN). When most of them do, the domains are not the cause: the resolver is unreachable
(every query times out), broken (SERVFAIL / REFUSED for everything) or lying (NXDOMAIN for everything, e.g. a
filtering resolver or a split-horizon server that only knows its own zones). A survey that counts such a run
would publish "SPF 0.0%" — so ``survey run`` marks the round failed and ``scan`` warns in its summary.

The limit (``DEFAULT_LIMIT``, 30% of the domains) is far above what real lists show (the consortium's 1,788-body
list: about 1% unknown, 1% NXDOMAIN) and far below what a dead resolver gives (close to 100%). Reason code of
the verdict: ``RESOLVER_SUSPECT`` (stable, in the round's notes and in ``scan --summary-json``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 0.30
MIN_DOMAINS = 5            # below this many failing domains a list is too small to blame the resolver …
REASON = "RESOLVER_SUSPECT"


def is_nxdomain(result: dict[str, Any]) -> bool:
    """The domain itself does not exist (the check's DOMAIN_NXDOMAIN finding; RFC 8020)."""
    return any(isinstance(f, dict) and f.get("code") == "DOMAIN_NXDOMAIN" for f in result.get("findings") or ())


def lookup_failed(result: dict[str, Any]) -> bool:
    """A lookup failed after the engine's retries (unknown, never absent), or the check could not run."""
    if result.get("status") == "error":
        return True
    dns = result.get("dns") or {}
    return bool(dns.get("errors"))


def _error_kind(text: str) -> str:
    t = (text or "").lower()
    for kind in ("timeout", "servfail", "refused", "unreachable", "formerr", "notimp"):
        if kind in t:
            return kind
    return t.split(":")[0].strip()[:40] or "error"


@dataclass(slots=True)
class DnsHealth:
    """Counts over the results of one run; ``verdict()`` says whether the resolver is the likely cause."""

    domains: int = 0
    failed: int = 0
    nxdomain: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, result: dict[str, Any]) -> None:
        if result.get("invalid") or result.get("error_kind") == "invalid":
            return
        self.domains += 1
        if lookup_failed(result):
            self.failed += 1
            errs = (result.get("dns") or {}).get("errors") or ()
            kinds = {_error_kind(str(e.get("error", ""))) for e in errs if isinstance(e, dict)}
            self.kinds.update(kinds or {"error"})
        elif is_nxdomain(result):
            self.nxdomain += 1

    @classmethod
    def of(cls, results: Any) -> DnsHealth:
        h = cls()
        for r in results:
            if r:
                h.add(r)
        return h

    def suspect(self, limit: float = DEFAULT_LIMIT) -> bool:
        bad = self.failed + self.nxdomain
        if not self.domains or bad < min(MIN_DOMAINS, self.domains):
            return False  # … unless every one of its domains failed
        return bad / self.domains > limit

    def to_json(self, limit: float = DEFAULT_LIMIT) -> dict[str, Any]:
        return {"domains": self.domains, "failed": self.failed, "nxdomain": self.nxdomain,
                "failed_share": self.failed / self.domains if self.domains else 0.0,
                "nxdomain_share": self.nxdomain / self.domains if self.domains else 0.0,
                "limit": limit, "suspect": self.suspect(limit), "reason": REASON if self.suspect(limit) else None,
                "error_kinds": dict(self.kinds.most_common(5))}

    def warning(self, lang: str, resolvers: list[str] | None = None, limit: float = DEFAULT_LIMIT) -> str | None:
        """The RESOLVER_SUSPECT finding (mailposture.findings) as one paragraph: code, message and fix; None when
        the run looks normal."""
        if not self.suspect(limit):
            return None
        from mailposture.findings import finding

        n = self.domains
        from mailposture.findings import value_ja

        kinds = ", ".join(f"{k} {c:,}" for k, c in self.kinds.most_common(3))
        kinds_ja = "、".join(f"{value_ja(k)} {c:,}" for k, c in self.kinds.most_common(3))
        f = finding(REASON, failed=f"{self.failed:,}", nxdomain=f"{self.nxdomain:,}", domains=f"{n:,}",
                    failed_pct=f"{100.0 * self.failed / n:.1f}", nxdomain_pct=f"{100.0 * self.nxdomain / n:.1f}",
                    resolvers=", ".join(resolvers or []) or ("システムのリゾルバ" if lang == "ja" else
                                                             "the system resolver"),
                    kinds=f" (failures: {kinds})" if kinds else "", kinds_ja=f" (失敗の内訳: {kinds_ja})" if kinds else "")
        return f"{REASON}: {f.message(lang)} {f.fix(lang)}"


def resolver_names(resolver: Any) -> list[str]:
    """'127.0.0.1:53' for each nameserver of an Engine; nothing for another resolver object."""
    servers = getattr(resolver, "nameservers", None)
    if not servers:
        return []
    from mailposture.dns.engine import format_nameserver

    out = []
    for s in servers:
        try:
            out.append(format_nameserver(s) if isinstance(s, tuple) else str(s))
        except (TypeError, ValueError):
            out.append(str(s))
    return out
