"""Posture of a domain that sends no mail ("parked"): is it protected against being spoofed?

A domain that sends no mail should say so: ``v=spf1 -all`` (RFC 7208 §10.1.2, M3AAWG parked-domain practice)
and a DMARC policy of ``p=reject`` (RFC 7489 §6.3), so that receivers reject mail forged in its name.

Parked means any of: a null MX (RFC 7505 §3); no MX and no A/AAAA (no implicit MX, RFC 5321 §5.1), or a name
that does not exist; or an SPF record that authorizes nothing (exactly ``v=spf1 -all``).

Pure: :func:`assess` takes the spf, dmarc and mx sections (dicts as produced by their ``analyze``) and makes no
query. Verdicts: "parked-protected", "parked-spoofable", "sending" (not parked: nothing to say here),
"nonexistent" (NXDOMAIN: reported at the top of the result), "unknown" (a section that decides it failed).
"""

from __future__ import annotations

from typing import Any

from mailposture.checks.chars import visible
from mailposture.findings import Finding, finding

NULL_SPF = "v=spf1 -all"


def _code(f: Any) -> str | None:
    return f.get("code") if isinstance(f, dict) else getattr(f, "code", None)


def _norm_spf(record: Any) -> str:
    return " ".join(record.lower().split()) if isinstance(record, str) else ""


def parked_reasons(spf: dict[str, Any], mx: dict[str, Any]) -> tuple[list[tuple[str, str]], bool]:
    """(why the domain is parked as (English, Japanese) pairs, whether a failed lookup may hide a reason)."""
    why: list[tuple[str, str]] = []
    classification = mx.get("classification")
    if classification == "null-mx":
        why.append(("null MX", "Null MX"))  # RFC 7505 §3
    elif classification == "no-mail" and not mx.get("present"):
        why.append(("no MX and no A/AAAA", "MX も A/AAAA もなし"))  # RFC 5321 §5.1: no implicit MX either
    if _norm_spf(spf.get("record")) == NULL_SPF and len(spf.get("records") or [NULL_SPF]) == 1:
        why.append(("SPF 'v=spf1 -all'", "SPF 'v=spf1 -all'"))
    unsure = mx.get("status") == "error" or spf.get("status") == "error"
    return why, unsure


def assess(spf: dict[str, Any], dmarc: dict[str, Any], mx: dict[str, Any]) -> dict[str, Any]:
    """The posture section: status ok|error, parked (bool|None), verdict, why, missing, findings."""
    spf, dmarc, mx = spf or {}, dmarc or {}, mx or {}
    if any(_code(f) == "DOMAIN_NXDOMAIN" for f in mx.get("findings") or ()):
        # a name that does not exist publishes nothing and cannot fix anything: not a parked domain's posture
        return {"status": "ok", "parked": None, "verdict": "nonexistent", "why": [], "missing": [], "findings": []}
    why, unsure = parked_reasons(spf, mx)
    out: dict[str, Any] = {"status": "ok", "parked": bool(why), "verdict": "sending", "why": [w for w, _ in why],
                           "missing": [], "findings": []}
    findings: list[Finding] = out["findings"]
    if not why:
        if unsure:
            out.update(status="error", parked=None, verdict="unknown")
        return out
    missing: list[tuple[str, str]] = []
    unknown = 0
    spf_record = _norm_spf(spf.get("record"))
    if spf.get("status") == "error":
        unknown += 1
        missing.append(("SPF unknown (DNS error)", "SPF は不明 (DNS エラー)"))
    elif not spf.get("present"):
        missing.append(("no SPF record", "SPF レコードなし"))
    elif len(spf.get("records") or []) > 1:
        missing.append(("several SPF records (permerror)", "SPF レコードが複数 (permerror)"))
    elif spf_record != NULL_SPF:
        shown = visible(str(spf.get("record")), 120)  # control characters named (U+0001), never echoed raw
        missing.append((f"SPF is '{shown}' instead of '{NULL_SPF}'", f"SPF が '{NULL_SPF}' ではなく '{shown}'"))
    policy = dmarc.get("policy")
    if dmarc.get("status") == "error":
        unknown += 1
        missing.append(("DMARC unknown (DNS error)", "DMARC は不明 (DNS エラー)"))
    elif policy is None:
        missing.append(("no DMARC policy", "DMARC ポリシーなし"))
    elif policy != "reject":
        missing.append((f"DMARC p={policy}, not reject", f"DMARC が p=reject ではなく p={policy}"))
    elif dmarc.get("protected") is False:  # reject, but pct < 100 or t=y
        why_not = dmarc.get("protected_reason") or "partial"
        missing.append((f"DMARC p=reject is not fully applied ({why_not})",
                        f"DMARC p=reject が完全には適用されていない ({why_not})"))
    out["missing"] = [m for m, _ in missing]
    if unknown and unknown == len(missing):
        out.update(status="error", verdict="unknown")
        return out
    params = {"why": ", ".join(w for w, _ in why), "why_ja": "、".join(w for _, w in why)}
    if missing:
        out["verdict"] = "parked-spoofable"
        findings.append(finding("PARKED_SPOOFABLE", **params, missing="; ".join(m for m, _ in missing),
                                missing_ja="、".join(m for _, m in missing)))
    else:
        out["verdict"] = "parked-protected"
        findings.append(finding("PARKED_PROTECTED", **params))
    return out
