"""DMARC for one message (RFC 7489 §6.6): the From domain's policy (the project's discovery), identifier
alignment of the SPF and DKIM identities that passed (§3.1), the result and the disposition a receiver applies
(p / sp / np, pct for RFC 7489 receivers, §6.6.4).

Organizational domains: alignment in relaxed mode compares organizational domains found with the Public Suffix
List (RFC 7489 §3.2); the policy discovery reports both the PSL domain and the RFC 9989 tree walk, and the
result says which method located the policy.
"""

from __future__ import annotations

from typing import Any

from mailposture.checks.dmarc import analyze
from mailposture.checks.dmarc.discover import psl_org_domain
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding
from mailposture.message.parse import FromInfo

LOWER = {"reject": "quarantine", "quarantine": "none", "none": "none"}   # §6.6.4 when not sampled by pct


async def discover(from_info: FromInfo, resolver: Resolver) -> dict[str, Any] | None:
    """The policy section of the From domain (None when there is no single From domain)."""
    if not from_info.domain:
        return None
    return await analyze(from_info.domain, resolver, check_report_auth=False)


def aligned(identity: str | None, from_domain: str, mode: str | None) -> bool:
    """§3.1.1/§3.1.2: strict = the same name; relaxed = the same organizational domain."""
    if not identity:
        return False
    identity = identity.lower().rstrip(".")
    if identity == from_domain:
        return True
    if (mode or "r") == "s":
        return False
    return psl_org_domain(identity) == psl_org_domain(from_domain)


def evaluate(from_info: FromInfo, section: dict[str, Any] | None, spf: dict[str, Any],
             dkim: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Finding], dict[str, Any] | None]:
    """The ``dmarc`` section (and the policy section for BIMI)."""
    out: dict[str, Any] = {"result": "none", "reason": None, "policy": None, "disposition": "none",
                           "aligned": {"spf": False, "dkim": False}, "domain": from_info.domain,
                           "policy_tag": None, "pct": None, "record": None, "source": None,
                           "org_domain": None, "alignment": {}, "lookups": None}
    findings: list[Finding] = []
    if from_info.domain is None:
        out.update(result="permerror", reason=f"from: {from_info.problem}")
        return out, findings, None
    dom = from_info.domain
    spf_domain = spf.get("domain") if spf.get("result") == "pass" else None
    dkim_domains = [s["d"] for s in dkim if s.get("result") == "pass" and s.get("d")]
    if section is None:
        out["reason"] = "not evaluated"
        return out, findings, None
    out["lookups"] = section.get("lookups")
    org = dict(section.get("org_domain") or {})
    src = section.get("source")
    org["method"] = {"domain": "the From domain's own record", "organizational":
                     "RFC 7489 §6.6.3 organizational domain (Public Suffix List)",
                     "tree-walk": "RFC 9989 §4.10 DNS tree walk"}.get(src or "", None)
    org["alignment_method"] = "RFC 7489 §3.2 organizational domain (Public Suffix List)"
    out["org_domain"] = org
    if section.get("status") == "error":
        out.update(result="temperror", reason="dns-error")
        findings.append(finding("MSG_DMARC_DNS_ERROR", domain=dom))
        return out, findings, section
    if not section.get("covered"):
        out.update(result="none", reason="no-policy" if section.get("status") == "none" else "no-usable-record")
        return out, findings, section
    aspf, adkim = section.get("aspf") or "r", section.get("adkim") or "r"
    spf_ok = aligned(spf_domain, dom, aspf)
    dkim_ok = [d for d in dkim_domains if aligned(d, dom, adkim)]
    policy = section.get("policy") or "none"
    relation = section.get("relation") or "domain"
    tag = {"domain": "p", "subdomain": "sp" if section.get("subdomain_policy") else "p",
           "nonexistent": "np" if section.get("np") else ("sp" if section.get("subdomain_policy") else "p")}[relation]
    out.update(policy=policy, policy_tag=tag, pct=section.get("pct"), record=section.get("record"),
               source=src, aligned={"spf": spf_ok, "dkim": bool(dkim_ok)},
               alignment={"spf": {"mode": aspf, "identity": spf_domain},
                          "dkim": {"mode": adkim, "identities": dkim_domains, "aligned": dkim_ok}},
               testing=section.get("t") == "y")
    # an aligned identity that could not be checked (DNS error on its key or SPF record) might still pass: the
    # result is temperror, "a later attempt might produce a final result" (RFC 7489 §11.2), not fail
    unsure = [f"dkim d={s['d']}" for s in dkim if s.get("result") == "temperror" and s.get("d")
              and aligned(s["d"], dom, adkim)]
    if spf.get("result") == "temperror" and aligned(spf.get("domain"), dom, aspf):
        unsure.append(f"spf {spf.get('domain')}")
    # RFC 6376 §3.6.1 (t=y on the key): a failing signature from a testing key counts as no signature, which it
    # already does here (only passing signatures align); a passing one counts, as receivers count it (RFC 7489
    # and RFC 9989 make no exception), and a pass resting on testing keys alone is said (MSG_DMARC_PASS_TESTING_KEY)
    testing_sigs = [{"d": s.get("d"), "s": s.get("s"), "result": s.get("result"),
                     "aligned": bool(s.get("d")) and aligned(s["d"], dom, adkim)} for s in dkim if s.get("testing")]
    out["dkim_testing"] = testing_sigs
    aligned_pass = [s for s in dkim if s.get("result") == "pass" and s.get("d") and aligned(s["d"], dom, adkim)]
    if spf_ok or dkim_ok:   # §6.6.2: either aligned pass is a DMARC pass
        out.update(result="pass", reason="aligned", disposition="none")
        if not spf_ok and aligned_pass and all(s.get("testing") for s in aligned_pass):
            out["pass_testing_keys_only"] = True
            findings.append(finding("MSG_DMARC_PASS_TESTING_KEY", domain=dom, policy=f"{tag}={policy}",
                                    signatures=", ".join(f"d={s['d']} s={s.get('s')}" for s in aligned_pass)))
    elif unsure:
        out.update(result="temperror", reason="aligned-identity-dns-error", disposition="none",
                   unverified=unsure)
    else:
        out.update(result="fail", reason="not-aligned", disposition=policy)
        pct = section.get("pct")
        if isinstance(pct, int) and pct < 100 and policy != "none":
            out["disposition_sampled_out"] = LOWER[policy]
            findings.append(finding("MSG_DMARC_PCT", pct=pct, policy=policy, lower=LOWER[policy]))
        findings.append(finding("MSG_DMARC_FAIL", "error" if policy != "none" else "warning", domain=dom,
                                disposition=policy))
    yes = {True: ("yes", "はい"), False: ("no", "いいえ")}
    findings.append(finding("MSG_DMARC_RESULT", domain=dom, result=out["result"], spf=yes[spf_ok][0],
                            spf_ja=yes[spf_ok][1], dkim=yes[bool(dkim_ok)][0], dkim_ja=yes[bool(dkim_ok)][1],
                            policy=f"{tag}={policy}", disposition=out["disposition"]))
    return out, findings, section
