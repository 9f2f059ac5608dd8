"""External report destinations (RFC 7489 §7.1): is a rua/ruf address outside the policy domain's
organizational domain authorized by ``<domain>._report._dmarc.<destination>``, and can it receive mail?

The wildcard form ``*._report._dmarc.<destination>`` needs no query of its own: the DNS answers the exact name
from the wildcard (RFC 4592). Bounded: at most ``max_destinations`` destination domains are checked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mailposture.checks import mx
from mailposture.checks.dmarc.discover import psl_org_domain
from mailposture.checks.dmarc.parse import DmarcRecord, is_dmarc_text
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding

MAX_DESTINATIONS = 5


def external_destinations(source_domain: str, record: DmarcRecord, psl: Any = None) -> dict[str, list[str]]:
    """Destination domain -> URIs, for mailto: URIs whose organizational domain differs from the source's."""
    own = psl_org_domain(source_domain, psl)
    dests: dict[str, list[str]] = {}
    for uri in record.mailto():
        assert uri.domain is not None
        if psl_org_domain(uri.domain, psl) != own:
            dests.setdefault(uri.domain, [])
            if uri.text not in dests[uri.domain]:
                dests[uri.domain].append(uri.text)
    return dests


async def _check_one(source_domain: str, dest: str, uris: list[str], resolver: Resolver,
                     findings: list[Finding]) -> dict[str, Any]:
    auth_name = f"{source_domain}._report._dmarc.{dest}"
    entry: dict[str, Any] = {"destination": dest, "uris": uris, "auth_name": auth_name, "authorized": None,
                             "receives_mail": None, "mail_reason": None}
    if len(auth_name) > 253:  # cannot exist in the DNS (RFC 1035 §2.3.4)
        ok, reason = await mx.accepts_mail(dest, resolver)
        entry["authorized"] = False
        findings.append(finding("DMARC_EXTERNAL_UNAUTHORIZED", dest=dest, auth_name=auth_name))
    else:
        auth, (ok, reason) = await asyncio.gather(resolver.query(auth_name, "TXT"),
                                                  mx.accepts_mail(dest, resolver))
        if auth.status == "error":
            findings.append(finding("DMARC_REPORT_DNS_ERROR", name=auth_name, error=auth.error or auth.rcode,
                                    dest=dest))
        elif any(is_dmarc_text(t) for t in auth.txt_strings()):
            entry["authorized"] = True
            findings.append(finding("DMARC_EXTERNAL_AUTHORIZED", dest=dest, auth_name=auth_name))
        else:
            entry["authorized"] = False
            findings.append(finding("DMARC_EXTERNAL_UNAUTHORIZED", dest=dest, auth_name=auth_name))
    entry["receives_mail"], entry["mail_reason"] = ok, reason
    if ok is False:
        findings.append(finding("DMARC_REPORT_DOMAIN_NO_MAIL", dest=dest, reason=reason))
    elif ok is None:
        findings.append(finding("DMARC_REPORT_DNS_ERROR", name=dest, error=reason, dest=dest))
    return entry


async def check_report_destinations(source_domain: str, record: DmarcRecord, resolver: Resolver, *,
                                    psl: Any = None, max_destinations: int = MAX_DESTINATIONS,
                                    ) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Check the external destinations of ``record`` (published at ``_dmarc.<source_domain>``).

    Returns one entry per destination domain, in record order: ``destination``, ``uris``, ``auth_name``,
    ``authorized`` (bool, None when unknown or not checked), ``receives_mail`` (bool|None), ``mail_reason``,
    and ``checked`` (False beyond ``max_destinations``)."""
    dests = external_destinations(source_domain, record, psl)
    findings: list[Finding] = []
    names = list(dests)
    checked = names[:max(0, max_destinations)]
    per_dest: list[list[Finding]] = [[] for _ in checked]
    entries = list(await asyncio.gather(*(_check_one(source_domain, d, dests[d], resolver, f)
                                          for d, f in zip(checked, per_dest, strict=True)))) if checked else []
    for f in per_dest:
        findings.extend(f)
    for e in entries:
        e["checked"] = True
    for d in names[len(checked):]:
        entries.append({"destination": d, "uris": dests[d], "auth_name": f"{source_domain}._report._dmarc.{d}",
                        "authorized": None, "receives_mail": None, "mail_reason": None, "checked": False})
    return entries, findings
