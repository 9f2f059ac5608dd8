"""DNSSEC status of a domain from the AD bit of a validating resolver (RFC 4035 §3.2.3, RFC 6840 §5.7).

The AD bit means something only when the resolver validates and the query asked for it: a non-validating
resolver never sets it, so its absence there proves nothing. The caller states whether the configured resolver
validates (``validating_resolver``); when it does not, or when the engine does not set AD in its queries
(``Engine(want_ad=True)``), the state is "unknown" with the reason, never guessed.

States: "secure" (AD set), "insecure" (a validating resolver answered without AD), "unknown".
Section status: "ok" (secure), "none" (insecure), "unknown" (not determinable here), "error" (DNS failure).
"""

from __future__ import annotations

from typing import Any

from mailposture.dns.types import Answer, Resolver
from mailposture.findings import finding


def _want_ad(resolver: Any) -> bool | None:
    """``want_ad`` of the engine under any wrappers (TrackingResolver keeps it in ``inner``); None if unknown."""
    r = resolver
    for _ in range(8):
        if r is None:
            return None
        if hasattr(r, "want_ad"):
            return bool(r.want_ad)
        r = getattr(r, "inner", None)
    return None


def assess(ans: Answer, domain: str) -> dict[str, Any]:
    """Pure: turn one answer from a validating resolver (queried with AD) into the section."""
    resolver = ans.server or "the configured resolver"
    out: dict[str, Any] = {"status": "ok", "state": "unknown", "present": None, "resolver": ans.server,
                           "name": ans.name, "type": ans.rdtype, "reason": None, "findings": []}
    if ans.status == "error":
        # RFC 4035 §5.5: a validating resolver answers SERVFAIL for bogus data; it may also be a plain failure
        if ans.error == "servfail":
            reason = f"{resolver} answered SERVFAIL: the zone's signatures may be bogus, or its servers failing"
            reason_ja = f"{resolver} が SERVFAIL を返しました。署名が不正 (bogus) か、権威サーバの障害の可能性があります"
        else:
            reason = f"the lookup failed ({ans.error or 'error'})"
            reason_ja = f"DNS 参照に失敗しました ({ans.error or 'error'})"
        out.update(status="error", reason=reason)
        out["findings"].append(finding("DNSSEC_UNKNOWN", domain=domain, reason=reason, reason_ja=reason_ja))
    elif ans.ad:
        out.update(state="secure", present=True)
        out["findings"].append(finding("DNSSEC_SECURE", domain=domain, resolver=resolver))
    else:
        out.update(status="none", state="insecure", present=False)
        out["findings"].append(finding("DNSSEC_INSECURE", domain=domain, resolver=resolver))
    return out


async def analyze(domain: str, resolver: Resolver, *, validating_resolver: bool = False, qtype: str = "TXT",
                  **_options: Any) -> dict[str, Any]:
    """DNSSEC section. One query (``<domain> TXT`` by default: the SPF check asks the same, so a caching engine
    answers it without network traffic) when the resolver validates and sets AD; none otherwise."""
    reason = reason_ja = None
    if not validating_resolver:
        reason = "the configured resolver is not declared as validating, so its AD bit means nothing"
        reason_ja = "設定されたリゾルバが DNSSEC 検証を行うと指定されていないため、AD ビットは判断に使えません"
    elif _want_ad(resolver) is False:
        reason = "the DNS engine does not set the AD bit in its queries (RFC 6840 §5.7), so answers never carry it"
        reason_ja = "DNS エンジンが問い合わせに AD ビットを立てていないため (RFC 6840 §5.7)、応答に AD が付きません"
    if reason:
        return {"status": "unknown", "state": "unknown", "present": None, "resolver": None, "name": domain,
                "type": qtype, "reason": reason,
                "findings": [finding("DNSSEC_UNKNOWN", domain=domain, reason=reason, reason_ja=reason_ja)]}
    return assess(await resolver.query(domain, qtype), domain)
