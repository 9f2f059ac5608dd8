"""DMARC check (RFC 7489, RFC 9989): discovery, record validation, effective policy and one verdict.

Public API:

* :func:`parse_record` (pure) -> :class:`DmarcRecord`
* :func:`analyze` (async, DNS through any ``Resolver``) -> the ``dmarc`` section of a domain's result

Headline definitions: ``present`` is a record published at ``_dmarc.<domain>`` itself; ``covered`` says whether
any record applies (the domain's own, or inherited from its organizational domain or public suffix domain);
``protected`` is True only for an enforcing effective policy (quarantine/reject, pct 100 or absent, t not y).
Each is None when DNS errors make it unknown, never False.
"""

from __future__ import annotations

from typing import Any

from mailposture.checks.chars import unquoted, visible
from mailposture.checks.dmarc.discover import Discovery, Lookup, default_psl, psl_org_domain, walk_targets
from mailposture.checks.dmarc.parse import (
    DmarcRecord,
    ReportUri,
    is_dmarc_text,
    is_spf_text,
    looks_like_dmarc,
    parse_record,
    valid_hostname,
)
from mailposture.checks.dmarc.report_auth import MAX_DESTINATIONS, check_report_destinations
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding

__all__ = ["REASONS", "DmarcRecord", "ReportUri", "analyze", "is_dmarc_text", "normalize_domain", "parse_record",
           "walk_targets"]

# protected_reason -> (en, ja): why ``protected`` is what it is
REASONS: dict[str, tuple[str, str]] = {
    "enforcing": ("an enforcing DMARC policy applies", "強制力のある DMARC ポリシーが適用されます"),
    "no-record": ("no DMARC record applies", "適用される DMARC レコードがありません"),
    "multiple-records": ("several DMARC records: none is applied", "DMARC レコードが複数あり、どれも適用されません"),
    "not-applied": ("the DMARC record is unusable", "DMARC レコードが使用できません"),
    "policy-none": ("the effective policy is none (monitoring only)", "実効ポリシーが none (監視のみ) です"),
    "test-mode": ("the policy is in test mode (t=y)", "ポリシーがテストモード (t=y) です"),
    "pct-partial": ("the policy applies to only part of the mail (pct<100)", "ポリシーが一部のメールにしか適用されません (pct<100)"),
    "dns-error": ("DNS errors leave the DMARC state unknown", "DNS エラーのため DMARC の状態は不明です"),
    "invalid-domain": ("the domain name is invalid", "ドメイン名が正しくありません"),
}

_INHERITED_SKIP = {"DMARC_POLICY_NONE", "DMARC_WEAK_SUBDOMAIN_POLICY"}  # about p, which does not apply here


def normalize_domain(domain: str) -> tuple[str | None, str | None]:
    """(A-label form without trailing dot, None) or (None, reason). U-labels are converted (RFC 5890 §2.3)."""
    name = domain.strip().rstrip(".").lower()
    if not name:
        return None, "empty name"
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            return None, f"not a valid internationalized name ({exc})"
    if not valid_hostname(name):
        return None, "labels must be 1-63 letters, digits or hyphens, 253 characters in all"
    return name, None


def _empty(domain: str, findings: list[Finding]) -> dict[str, Any]:
    return {"domain": domain, "present": None, "covered": None, "valid": None, "valid_rfc7489": None, "record": None, "records": [],
            "source": None, "source_domain": None, "org_domain": {"psl": None, "tree_walk": None},
            "policy": None, "p": None, "subdomain_policy": None, "np": None, "pct": None, "t": None, "psd": None,
            "rua": [], "ruf": [], "adkim": None, "aspf": None, "protected": None, "protected_reason": "dns-error",
            "status": "error", "relation": None, "report_auth": [], "lookups": {"domain": None, "organizational": None,
                                                               "tree_walk": None}, "findings": findings}


def _txt_findings(lk: Lookup, findings: list[Finding]) -> None:
    """What else is published at ``_dmarc.<domain>`` (RFC 7489 §6.6.3: only v=DMARC1 records count)."""
    for text in lk.other:
        if is_spf_text(text):
            findings.append(finding("DMARC_SPF_AT_DMARC", name=lk.name))
        elif text[:1].isspace() and is_dmarc_text(text.lstrip(" \t\r\n")):
            # " v=DMARC1; ...": discarded (RFC 7489 §6.6.3 step 2); receivers that trim it would apply it
            findings.append(finding("DMARC_LEADING_SPACE", found=visible(text.strip(), 40)))
        elif (inner := unquoted(text)) is not None and (is_dmarc_text(inner) or looks_like_dmarc(inner)):
            findings.append(finding("DMARC_QUOTED", found=visible(text.strip(), 60), name=lk.name))
        elif looks_like_dmarc(text):
            findings.append(finding("DMARC_VERSION", found=visible(text.strip(), 40)))  # e.g. v=dmarc1: ignored
        else:
            findings.append(finding("DMARC_OTHER_TXT", name=lk.name))
    if lk.cname_chain and lk.dmarc:
        findings.append(finding("DMARC_CNAME", chain=" → ".join([lk.name, *lk.cname_chain])))


async def _exists(name: str, own: Lookup, resolver: Resolver) -> bool | None:
    """Whether ``name`` exists (RFC 9989 §4.10.1 np): an answer below it proves it; else ask for its MX."""
    if own.answer is not None and own.answer.status in ("ok", "nodata"):
        return True  # _dmarc.<name> exists, so <name> does (RFC 8020)
    ans = await resolver.query(name, "MX")
    return ans.exists


async def analyze(domain: str, resolver: Resolver, *, check_report_auth: bool = True, psl: Any = None,
                  max_report_destinations: int = MAX_DESTINATIONS) -> dict[str, Any]:
    """The ``dmarc`` section of a domain's result (``findings`` holds Finding objects; the rest is JSON-ready).

    Keys: ``present`` (record at ``_dmarc.<domain>``), ``covered`` (some record applies), ``valid``, ``record``
    (the text that applies), ``records`` (v=DMARC1 texts at ``_dmarc.<domain>``), ``source`` ("domain" |
    "organizational" (RFC 7489 PSL lookup) | "tree-walk" (found only by the RFC 9989 walk) | None),
    ``source_domain``, ``org_domain`` {psl, tree_walk}, ``relation`` ("domain" | "subdomain" | "nonexistent"),
    ``policy`` (effective for this domain), ``p``, ``subdomain_policy`` (sp), ``np``, ``pct``, ``t``, ``psd``,
    ``rua``/``ruf`` (URI texts), ``adkim``, ``aspf``, ``protected`` + ``protected_reason`` (see REASONS),
    ``status`` ("ok" | "none" | "error"), ``report_auth`` (external destinations), ``lookups`` (every
    ``_dmarc`` lookup by method), ``findings``.

    Queries: 1 when the domain has its own record; else the tree walk (at most 8 names, shared with the PSL
    lookup), +1 MX for the existence test only when np changes the outcome, + report checks (2 per external
    destination, at most ``max_report_destinations``) when ``check_report_auth``.
    """
    findings: list[Finding] = []
    name, problem = normalize_domain(domain)
    out = _empty(name or domain, findings)
    if name is None:
        findings.append(finding("DOMAIN_INVALID", domain=domain, reason=problem))
        out["protected_reason"] = "invalid-domain"
        return out
    psl = psl or default_psl()
    psl_org = psl_org_domain(name, psl)
    out["org_domain"]["psl"] = psl_org
    disc = Discovery(resolver)

    own = await disc.lookup(name)
    out["lookups"]["domain"] = own.to_json()
    out["records"] = list(own.dmarc)
    _txt_findings(own, findings)
    if own.status == "error":
        findings.append(finding("DMARC_DNS_ERROR", name=own.name, error=own.error))
        return out
    if own.status == "multiple":
        # RFC 7489 §6.6.3 step 5: several records -> no DMARC processing at all
        findings.append(finding("DMARC_MULTIPLE_RECORDS", count=len(own.dmarc), name=own.name))
        out.update(present=True, covered=False, valid=False, status="ok", protected=False,
                   protected_reason="multiple-records")
        return out

    relation = "domain"
    if own.status == "found":
        chosen: Lookup | None = own
        out.update(present=True, source="domain", source_domain=name)
        assert own.record is not None
        if own.record.psd == "n":  # RFC 9989 §4.10 step 2: the walk stops here; it is its own org domain
            out["org_domain"]["tree_walk"] = name
        if own.record.psd == "y" and not psl.is_public(name):
            findings.append(finding("DMARC_PSD_MISUSE"))
    else:
        out["present"] = False
        walk = await disc.tree_walk(name)
        psl_lk = await disc.lookup(psl_org) if psl_org != name else None
        out["lookups"]["tree_walk"] = walk.to_json()
        out["lookups"]["organizational"] = psl_lk.to_json() if psl_lk else None
        for lk in {lk.domain: lk for lk in [*walk.queried, *([psl_lk] if psl_lk else [])]}.values():
            if lk.status == "multiple":  # discarded: the walk goes on above it (RFC 9989 §4.10 step 7)
                findings.append(finding("DMARC_MULTIPLE_RECORDS", count=len(lk.dmarc), name=lk.name))
        if walk.error is None:
            out["org_domain"]["tree_walk"] = walk.org_domain
            if walk.found and walk.org_domain != psl_org:  # with no record found the walk decides nothing
                findings.append(finding("DMARC_ORG_DOMAIN_MISMATCH", psl=psl_org, tree_walk=walk.org_domain))
            chosen = walk.policy
        elif psl_lk is not None and psl_lk.status == "found":
            # the RFC 9989 walk is incomplete, but the RFC 7489 lookup succeeded: use it, noting the failure
            findings.append(finding("DMARC_DNS_ERROR", "warning", name=walk.error.name, error=walk.error.error))
            chosen = psl_lk
        else:
            findings.append(finding("DMARC_DNS_ERROR", name=walk.error.name, error=walk.error.error))
            return out
        if chosen is None:
            findings.append(finding("DMARC_NONE", domain=name))
            out.update(covered=False, status="none", protected=False, protected_reason="no-record")
            return out
        method = "RFC 7489 organizational domain" if chosen.domain == psl_org else "RFC 9989 tree walk"
        out.update(source="organizational" if chosen.domain == psl_org else "tree-walk",
                   source_domain=chosen.domain)
        findings.append(finding("DMARC_INHERITED", domain=name, source_domain=chosen.domain, method=method))
        _txt_findings_inherited(chosen, findings)
        relation = "subdomain"

    rec = chosen.record
    assert rec is not None
    if relation == "subdomain" and rec.np is not None and rec.policy_for("nonexistent") != rec.policy_for("subdomain"):
        exists = await _exists(name, own, resolver)
        if exists is None:
            findings.append(finding("DMARC_DNS_ERROR", name=name, error="existence unknown (np)"))
            _fill(out, rec, None, findings, relation)
            out.update(covered=True, status="error", protected=None, protected_reason="dns-error")
            return out
        relation = "subdomain" if exists else "nonexistent"
    _fill(out, rec, rec.policy_for(relation), findings, relation)
    out.update(covered=True, status="ok", record=rec.text)
    if out["source"] != "domain" and out["policy"] == "none":
        findings.append(finding("DMARC_NOT_ENFORCING", policy="none"))
    out["relation"] = relation

    if check_report_auth and out["source_domain"]:
        entries, more = await check_report_destinations(out["source_domain"], rec, resolver, psl=psl,
                                                        max_destinations=max_report_destinations)
        out["report_auth"] = entries
        findings.extend(more)
    return out


def _txt_findings_inherited(lk: Lookup, findings: list[Finding]) -> None:
    if lk.cname_chain:
        findings.append(finding("DMARC_CNAME", chain=" → ".join([lk.name, *lk.cname_chain])))


def _fill(out: dict[str, Any], rec: DmarcRecord, policy: str | None, findings: list[Finding], relation: str) -> None:
    skip = _INHERITED_SKIP if relation != "domain" else set()
    findings.extend(f for f in rec.findings if f.code not in skip)
    out.update(valid=rec.valid, valid_rfc7489=rec.valid_rfc7489, record=rec.text, p=rec.p, subdomain_policy=rec.sp, np=rec.np, pct=rec.pct,
               t=rec.t, psd=rec.psd, rua=[u.text for u in rec.rua], ruf=[u.text for u in rec.ruf],
               adkim=rec.adkim, aspf=rec.aspf, policy=policy)
    if policy is None:
        out.update(protected=False, protected_reason="not-applied")
    elif policy == "none":
        out.update(protected=False, protected_reason="policy-none")
    elif rec.t == "y":
        out.update(protected=False, protected_reason="test-mode")
    elif rec.pct is not None and rec.pct < 100:
        out.update(protected=False, protected_reason="pct-partial")
    else:
        out.update(protected=True, protected_reason="enforcing")
