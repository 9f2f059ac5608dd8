"""Per-domain facts of the configuration-content survey (issue 11): the key(s) one domain's result has in each
table. Pure functions over a stored result (the check_domain contract)."""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]

POLICIES = ("reject", "quarantine", "none")


def dmarc_policy_key(res: Result | None) -> str:
    """reject / quarantine / none / absent / unknown for one domain (see the table definition)."""
    d = (res or {}).get("dmarc") or {}
    cov = d.get("covered")
    if cov is None or d.get("status") == "error":
        return "unknown"   # DNS could not answer (after the round's retry pass)
    if not cov:
        return "absent"    # NXDOMAIN / NODATA at _dmarc, a dangling CNAME, no v=DMARC1 record, several records
    pol = d.get("policy")
    return pol if pol in POLICIES else "none"  # RFC 9989 §4.7: a record without a usable p means none


SPF_ALL_KEYS = ("-all", "~all", "?all", "+all", "redirect", "no-all", "invalid", "unknown", "absent")


def spf_all_key(res: Result | None) -> str:
    s = (res or {}).get("spf") or {}
    present = s.get("present")
    if present is None:
        return "unknown"
    if not present:
        return "absent"
    if s.get("valid") is False:
        return "invalid"   # a permerror the records alone decide (RFC 7208 §4.5, §4.6, §4.6.4, §5.2, §6.1)
    if s.get("valid") is None:
        return "unknown"   # a lookup in the include/redirect tree failed
    a = str(s.get("all") or "")
    if a in ("-all", "~all", "?all", "+all"):
        return a
    if a == "redirect":
        return "redirect"
    return "no-all"


IPV4_KEYS = ("0", "<=256", "<=65536", "<=16m", "over-16m", "unknown", "absent")


def ipv4_bucket(n: int) -> str:
    if n <= 0:
        return "0"
    if n <= 256:
        return "<=256"
    if n <= 65536:
        return "<=65536"
    if n <= 1 << 24:
        return "<=16m"
    return "over-16m"


def ipv4_key(res: Result | None) -> str:
    s = (res or {}).get("spf") or {}
    if s.get("present") is None:
        return "unknown"
    if not s.get("present"):
        return "absent"
    v = s.get("authorized_ipv4")
    if isinstance(v, bool) or not isinstance(v, int):
        return "unknown"
    return ipv4_bucket(v)


def _mail_host(uri: str) -> str | None:
    u = uri.strip()
    if not u.lower().startswith("mailto:"):
        return None
    addr = u[7:].split("!", 1)[0].split("?", 1)[0]
    if "@" not in addr:
        return None
    return addr.rsplit("@", 1)[1].strip().rstrip(".").lower() or None


def registrable(name: str) -> str:
    from mailposture.report.tables import provider_of

    try:
        return provider_of(name)
    except Exception:  # the PSL refuses odd names: show them as they are
        return name


def dmarc_tag_keys(res: Result | None) -> set[str]:
    d = (res or {}).get("dmarc") or {}
    if not d.get("covered"):
        return set()
    out: set[str] = set()
    for tag in ("sp", "np"):
        v = d.get("subdomain_policy" if tag == "sp" else "np")
        if v in POLICIES:
            out.add(f"{tag}:{v}")
    pct = d.get("pct")
    if isinstance(pct, int) and not isinstance(pct, bool) and pct < 100:
        out.add("pct<100")
    if d.get("t") == "y":
        out.add("t=y")
    if d.get("psd") in ("y", "n"):
        out.add(f"psd:{d['psd']}")
    src = d.get("source")
    out.add({"domain": "source:own", "organizational": "source:organizational",
             "tree-walk": "source:tree-walk"}.get(src, "source:own"))
    out |= rua_keys(res)
    return out


def rua_keys(res: Result | None) -> set[str]:
    """rua / ruf present; rua destinations: same organization, external with / without the RFC 7489 §7.1
    authorization record (unknown when that lookup failed)."""
    d = (res or {}).get("dmarc") or {}
    if not d.get("covered"):
        return set()
    out: set[str] = set()
    rua = [str(u) for u in d.get("rua") or ()]
    if rua:
        out.add("rua")
    if d.get("ruf"):
        out.add("ruf")
    external: dict[str, dict[str, Any]] = {}
    for e in d.get("report_auth") or ():
        if isinstance(e, dict):
            for u in e.get("uris") or ():
                external[str(u)] = e
    for u in rua:
        e = external.get(u)
        if e is None:
            if _mail_host(u):
                out.add("rua:same-organization")
        elif e.get("authorized") is True:
            out.add("rua:external-authorized")
        elif e.get("authorized") is False and e.get("checked", True):
            out.add("rua:external-unauthorized")
        else:
            out.add("rua:external-unknown")
    return out


def rua_destinations(res: Result | None) -> set[str]:
    d = (res or {}).get("dmarc") or {}
    if not d.get("covered"):
        return set()
    return {registrable(h) for u in d.get("rua") or () if (h := _mail_host(str(u)))}


def spf_provider_keys(res: Result | None) -> set[str]:
    """Providers over the whole include tree: a catalogued provider's include domain, else the registrable
    domain of an include target outside the domain's own organization (shown as itself)."""
    from mailposture.checks.spf.providers import spf_provider

    s = (res or {}).get("spf") or {}
    if not s.get("present"):
        return set()
    dom = str((res or {}).get("domain") or "")
    own_org = registrable(dom) if dom else ""
    tree = s.get("tree")
    if not isinstance(tree, dict):  # no tree kept: the flat include list
        targets = [str(t) for t in s.get("includes") or ()]
        return {_provider_key(t, own_org) for t in targets} - {""}
    # walk the tree; a catalogued provider's own nested includes are its internals, not further providers
    first: dict[str, dict[str, Any]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        for c in node.get("children") or ():
            if isinstance(c, dict):
                t = str(c.get("target") or "").lower().rstrip(".")
                if t and c.get("children") and t not in first:
                    first[t] = c
                stack.append(c)
    out: set[str] = set()
    seen: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        for c in node.get("children") or ():
            if not isinstance(c, dict):
                continue
            term = str(c.get("term") or "").lower().lstrip("+-~?")
            t = str(c.get("target") or "").lower().rstrip(".")
            if not t or not term.startswith(("include:", "redirect=")) or t in seen:
                continue
            seen.add(t)
            key = _provider_key(t, own_org)
            if key:
                out.add(key)
            if spf_provider(t) is None:
                stack.append(first.get(t, c))
    return out


def _provider_key(target: str, own_org: str) -> str:
    from mailposture.checks.spf.providers import spf_provider

    t = target.lower().rstrip(".")
    p = spf_provider(t)
    if p is not None:
        return p.domain
    org = registrable(t)
    return "" if org == own_org else org


def _not_a_mistake(code: str) -> bool:
    return (code.startswith("POSTURE_") or code in ("SPF_NONE", "DMARC_NONE", "DNS_ERROR", "DOMAIN_NXDOMAIN")
            or code.endswith("_DNS_ERROR"))


def mistake_keys(res: Result | None) -> set[str]:
    """Error and warning finding codes (absence, verdicts and DNS failures left out)."""
    r = res or {}
    out: set[str] = set()
    for sec in [r, *(v for v in r.values() if isinstance(v, dict))]:
        for f in sec.get("findings") or ():
            if isinstance(f, dict) and f.get("severity") in ("error", "warning") and f.get("code"):
                if not _not_a_mistake(str(f["code"])):
                    out.add(str(f["code"]))
    return out


def adoption_keys(res: Result | None) -> set[str]:
    from mailposture.report.tables import domain_facts

    f = domain_facts(res)
    return {k for k in ("spf", "dmarc", "spf_valid", "spf_fail_all", "dmarc_covered", "dmarc_enforcing",
                        "dmarc_rua", "mx") if f.get(k) is True}
