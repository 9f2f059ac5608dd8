"""BIMI (draft-brand-indicators-for-message-identification): the assertion record, its DMARC precondition and,
on request, the logo (SVG Tiny Portable/Secure, draft-svg-tiny-ps-abrotman).

Pure functions: :func:`parse_record`, :func:`check_url`, :func:`dmarc_precondition`, :func:`check_svg`.
:func:`analyze` asks ``<selector>._bimi.<domain>`` (then the organizational domain when the domain has none,
draft §7.3), and with ``fetch=True`` retrieves the logo through :mod:`mailposture.checks.fetch` (bounded; names
resolved by the same resolver). Every problem is reported, not only the first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import re
import xml.etree.ElementTree as ET
import zlib
from typing import Any
from urllib.parse import urlsplit

from mailposture.checks import fetch as fetchmod
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding

SVG_MAX_BYTES = 32 * 1024                     # SVG Tiny PS profile: at most 32 KiB
EVIDENCE_MAX_BYTES = 256 * 1024               # a VMC chain with its embedded logotype stays far below this
BIMI_EKU = "1.3.6.1.5.5.7.3.31"               # id-kp-BrandIndicatorforMessageIdentification
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ANIMATION = {"animate", "animateMotion", "animateTransform", "animateColor", "set"}
FORBIDDEN_ELEMENTS = {"script": "a <script> element", "foreignObject": "a <foreignObject> element",
                      "image": "an embedded or linked raster <image>", "iframe": "an <iframe> element"}
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)[^)\s'\"]+", re.I)


# ------------------------------------------------------------------------------------------------ record

def select(records: list[str]) -> list[str]:
    """Records that are BIMI assertions: those beginning with the version tag (draft §4.2, like DMARC)."""
    return [r for r in records if re.match(r"[ \t]*v[ \t]*=[ \t]*BIMI", r, re.I)]


def check_url(url: str) -> str | None:
    """Why ``url`` is not a usable HTTPS URL (draft §4.2: l= and a= are https URIs), or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as e:
        return f"malformed URL ({e})"
    if parts.scheme.lower() != "https":
        return f"scheme '{parts.scheme or '(none)'}' is not https"
    if not host or any(c in url for c in " \t\r\n"):
        return "no host, or whitespace in the URL"
    return None


def parse_record(record: str) -> tuple[dict[str, Any], list[Finding]]:
    """Parse one BIMI assertion record: ``v=BIMI1`` first, then ``l=`` and ``a=`` (unknown tags ignored)."""
    findings: list[Finding] = []
    data: dict[str, Any] = {"version": None, "l": None, "a": None, "declined": False, "unknown_tags": []}
    tags: dict[str, str] = {}
    order: list[str] = []
    specs = record.split(";")
    for i, spec in enumerate(specs):
        term = spec.strip(" \t")
        if not term:
            if i != len(specs) - 1 or i == 0:
                findings.append(finding("BIMI_SYNTAX", term=spec, reason="empty tag"))
            continue
        if "=" not in term:
            findings.append(finding("BIMI_SYNTAX", term=term[:40], reason="a tag must be name=value"))
            continue
        name, value = (s.strip(" \t") for s in term.split("=", 1))
        name = name.lower()
        if not _TAG.fullmatch(name):
            findings.append(finding("BIMI_SYNTAX", term=term[:40], reason=f"'{name}' is not a valid tag name"))
            continue
        if name in tags:
            findings.append(finding("BIMI_DUPLICATE_TAG", tag=name))
            continue
        tags[name] = value
        order.append(name)
    if not order or order[0] != "v" or tags.get("v") != "BIMI1":
        found = f"v={tags['v']}" if "v" in tags else (record.strip()[:20] or "(empty)")
        findings.append(finding("BIMI_VERSION", found=found))  # draft §4.2: v=BIMI1 MUST be the first tag
    else:
        data["version"] = "BIMI1"
    for name in order:
        if name not in ("v", "l", "a"):
            data["unknown_tags"].append(name)
            findings.append(finding("BIMI_UNKNOWN_TAG", tag=name))
    l_val, a_val = tags.get("l"), tags.get("a")
    if l_val is None:
        findings.append(finding("BIMI_NO_LOCATION"))
    elif l_val:
        urls = [u.strip(" \t") for u in l_val.split(",")]
        for url in urls:
            reason = check_url(url)
            if reason:
                findings.append(finding("BIMI_BAD_URL", tag="l", url=url, reason=reason))
        data["l"] = urls[0]
    if a_val:
        reason = check_url(a_val)
        if reason:
            findings.append(finding("BIMI_BAD_URL", tag="a", url=a_val, reason=reason))
        data["a"] = a_val
    if l_val == "" and not a_val:
        data["declined"] = True
        findings.append(finding("BIMI_DECLINED"))
    elif not a_val:
        findings.append(finding("BIMI_NO_EVIDENCE"))
    return data, findings


# ------------------------------------------------------------------------------------------------ DMARC

def dmarc_precondition(dmarc: dict[str, Any] | None, org_p: str | None = None) -> list[Finding]:
    """BIMI requires DMARC enforcement (draft §3.1, §7.3): effective policy quarantine or reject, no pct below
    100, not in test mode, and the organizational domain's own p= not none. ``dmarc`` is the dmarc section;
    ``org_p`` is the organizational domain's p= when it was looked up separately."""
    if not dmarc or dmarc.get("status") == "error":
        return [finding("BIMI_DMARC_UNKNOWN")]
    out: list[Finding] = []
    policy = dmarc.get("policy")
    if policy not in ("quarantine", "reject"):
        out.append(finding("BIMI_DMARC_NOT_ENFORCING", policy=policy or "none (no valid DMARC record)"))
    elif dmarc.get("t") == "y" or dmarc.get("protected_reason") == "test-mode":
        out.append(finding("BIMI_DMARC_NOT_ENFORCING", policy=f"{policy} (t=y, test mode)"))
    pct = dmarc.get("pct")
    if isinstance(pct, int) and pct < 100:
        out.append(finding("BIMI_DMARC_PCT", pct=pct))
    if org_p is None and dmarc.get("source") in ("organizational", "tree-walk"):
        org_p = dmarc.get("p")  # the inherited record is the organizational domain's own
    if org_p == "none" and policy in ("quarantine", "reject"):
        out.append(finding("BIMI_DMARC_ORG_NONE"))
    return out


async def _org_policy(org: str, resolver: Resolver) -> str | None:
    """p= of the organizational domain's DMARC record (one TXT query); None when absent or unknown."""
    from mailposture.checks.dmarc import is_dmarc_text
    from mailposture.checks.dmarc import parse_record as parse_dmarc

    ans = await resolver.query(f"_dmarc.{org}", "TXT")
    recs = [t for t in ans.txt_strings() if is_dmarc_text(t)] if ans.ok else []
    return parse_dmarc(recs[0]).p if len(recs) == 1 else None


# ------------------------------------------------------------------------------------------------ SVG

def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def check_svg(body: bytes, content_type: str = "") -> tuple[dict[str, Any], list[Finding]]:
    """Check a logo against the SVG Tiny PS basics. Pure; never raises. Returns (facts, findings)."""
    findings: list[Finding] = []
    facts: dict[str, Any] = {"bytes": len(body), "gzip": False}
    if content_type and content_type not in ("image/svg+xml",):
        findings.append(finding("BIMI_SVG_CONTENT_TYPE", content_type=content_type))
    if body[:2] == b"\x1f\x8b":  # a gzip-compressed SVG (.svgz): bounded decompression
        facts["gzip"] = True
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = d.decompress(body, SVG_MAX_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile) as e:
            findings.append(finding("BIMI_SVG_NOT_XML", reason=f"bad gzip data: {e}"))
            return facts, findings
    if len(body) > SVG_MAX_BYTES:
        findings.append(finding("BIMI_SVG_TOO_LARGE", limit=SVG_MAX_BYTES))
        return facts, findings
    if re.search(rb"<!ENTITY", body, re.I):  # entity expansion is a classic XML bomb; SVG Tiny PS needs none
        findings.append(finding("BIMI_SVG_FORBIDDEN", what="XML entity declarations"))
        return facts, findings
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        findings.append(finding("BIMI_SVG_NOT_XML", reason=str(e)))
        return facts, findings
    if root.tag != f"{{{SVG_NS}}}svg":
        reason = ("the root element is not <svg>" if _local(root.tag) != "svg"
                  else "the root <svg> is not in the SVG namespace")
        findings.append(finding("BIMI_SVG_PROFILE", reason=reason))
    if root.get("version") != "1.2":
        findings.append(finding("BIMI_SVG_PROFILE", reason=f"version is '{root.get('version', '')}', not '1.2'"))
    if root.get("baseProfile") != "tiny-ps":
        findings.append(finding("BIMI_SVG_PROFILE",
                                reason=f"baseProfile is '{root.get('baseProfile', '')}', not 'tiny-ps'"))
    for attr in ("x", "y"):
        if root.get(attr) is not None:
            findings.append(finding("BIMI_SVG_FORBIDDEN", what=f"the attribute {attr}= on the root <svg>"))
    title = next((c for c in root if _local(c.tag) == "title"), None)
    facts["title"] = (title.text or "").strip()[:200] if title is not None else None
    if title is None or not (title.text or "").strip():
        findings.append(finding("BIMI_SVG_NO_TITLE"))
    seen: set[str] = set()
    for el in root.iter():
        name = _local(el.tag)
        what = FORBIDDEN_ELEMENTS.get(name) or (f"animation (<{name}>)" if name in ANIMATION else None)
        if what and what not in seen:
            seen.add(what)
            findings.append(finding("BIMI_SVG_FORBIDDEN", what=what))
        for key, value in el.attrib.items():
            lkey = _local(key)
            if lkey.lower().startswith("on") and f"on:{lkey}" not in seen:
                seen.add(f"on:{lkey}")
                findings.append(finding("BIMI_SVG_FORBIDDEN", what=f"the event handler {lkey}="))
            if (key == XLINK_HREF or lkey == "href") and not value.strip().startswith("#"):
                findings.append(finding("BIMI_SVG_EXTERNAL_REF", ref=value.strip()[:100]))
            elif _EXTERNAL_URL.search(value):
                findings.append(finding("BIMI_SVG_EXTERNAL_REF", ref=value.strip()[:100]))
        if name == "style" and el.text and (_EXTERNAL_URL.search(el.text) or "@import" in el.text):
            findings.append(finding("BIMI_SVG_EXTERNAL_REF", ref=el.text.strip()[:100]))
    vb = (root.get("viewBox") or "").replace(",", " ").split()
    if len(vb) == 4:
        facts["viewBox"] = " ".join(vb)
        try:
            w, h = float(vb[2]), float(vb[3])
            if w <= 0 or h <= 0 or abs(w - h) > 1e-6 * max(w, h):
                findings.append(finding("BIMI_SVG_NOT_SQUARE", viewbox=" ".join(vb)))
        except ValueError:
            findings.append(finding("BIMI_SVG_PROFILE", reason=f"viewBox '{' '.join(vb)}' is not numeric"))
    if not any(f.severity == "error" for f in findings):
        findings.append(finding("BIMI_SVG_VALID", size=len(body)))
    return facts, findings


# ------------------------------------------------------------------------------------------------ evidence

def check_evidence(pem: bytes, domain: str, org_domain: str | None = None,
                   now: dt.datetime | None = None) -> tuple[dict[str, Any], list[Finding]]:
    """Basic checks of a mark certificate (VMC/CMC) chain in PEM: validity period, the BIMI extended key usage,
    and that its subjectAltName names the domain (or its organizational domain). Pure; never raises.

    The chain is not verified up to a VMC root (no root store is bundled). Needs the ``cryptography`` package;
    without it the facts say ``checked: False`` and no finding is made.
    """
    facts: dict[str, Any] = {"checked": False, "bytes": len(pem)}
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        return facts, [finding("BIMI_EVIDENCE_INVALID", reason="no '-----BEGIN CERTIFICATE-----' block")]
    try:
        from cryptography import x509
    except ImportError:
        return facts, []
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        return facts, [finding("BIMI_EVIDENCE_INVALID", reason=str(e)[:120])]
    leaf = certs[0]
    now = now or dt.datetime.now(dt.UTC)
    nb, na = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    try:
        names = [n.lower().rstrip(".") for n in leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    except ValueError:  # a malformed extension
        names = []
    try:
        ekus = {o.dotted_string for o in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
    except (x509.ExtensionNotFound, ValueError):
        ekus = set()
    issuer = leaf.issuer.rfc4514_string()[:120]
    facts.update(checked=True, certificates=len(certs), issuer=issuer, names=names,
                 not_before=nb.date().isoformat(), not_after=na.date().isoformat())
    findings: list[Finding] = []
    if not nb <= now <= na:
        findings.append(finding("BIMI_EVIDENCE_EXPIRED", not_before=facts["not_before"], not_after=facts["not_after"]))
    if BIMI_EKU not in ekus:
        findings.append(finding("BIMI_EVIDENCE_NOT_BIMI"))
    wanted = {domain.lower(), (org_domain or domain).lower()}
    if not wanted & set(names) and not any(n.endswith(f"._bimi.{w}") for n in names for w in wanted):
        findings.append(finding("BIMI_EVIDENCE_DOMAIN", domain=domain, names=", ".join(names) or "-"))
    if not findings:
        findings.append(finding("BIMI_EVIDENCE_OK", names=", ".join(names), issuer=issuer,
                                not_after=facts["not_after"]))
    return facts, findings


# ------------------------------------------------------------------------------------------------ analyze

async def _none() -> None:
    return None


async def _lookup(name: str, resolver: Resolver) -> tuple[str, list[str], str | None]:
    """(status "ok"|"none"|"error", BIMI records, error)."""
    ans = await resolver.query(name, "TXT")
    if ans.status == "error":
        return "error", [], ans.error or "error"
    recs = select(ans.txt_strings()) if ans.ok else []
    return ("ok" if recs else "none"), recs, None


async def analyze(domain: str, resolver: Resolver, *, dmarc: dict[str, Any] | None = None, selector: str = "default",
                  fetch: bool = False, ca_file: str | None = None, allow_private: bool = False,
                  fetch_timeout: float = 10.0, org_domain: str | None = None, **_options: Any) -> dict[str, Any]:
    """BIMI section: status ok|none|error, present, valid, record, location, evidence, logo (when fetched).

    Queries: 1 TXT, +1 at the organizational domain when the domain has no record, +1 ``_dmarc.<org>`` TXT
    when a record exists, the DMARC record is the domain's own and the domain is not its org domain;
    with ``fetch=True`` also A+AAAA of the logo host and one GET.
    """
    name = f"{selector}._bimi.{domain}"
    out: dict[str, Any] = {"status": "ok", "name": name, "present": None, "valid": None, "record": None,
                           "source": None, "location": None, "evidence": None, "declined": False, "fetched": False,
                           "findings": []}
    findings: list[Finding] = out["findings"]
    if org_domain is None:
        org_domain = ((dmarc or {}).get("org_domain") or {}).get("psl")
    if org_domain is None:
        from mailposture.checks.dmarc.discover import psl_org_domain

        org_domain = psl_org_domain(domain)
    status, recs, err = await _lookup(name, resolver)
    source = "domain"
    if status == "none" and org_domain and org_domain != domain:
        org_name = f"{selector}._bimi.{org_domain}"
        status, recs, err = await _lookup(org_name, resolver)
        if status == "ok":
            source, name = "organizational", org_name
            findings.append(finding("BIMI_INHERITED", name=org_name))
        elif status == "error":
            name = org_name
    if status == "error":
        out["status"] = "error"
        findings.append(finding("BIMI_DNS_ERROR", name=name, error=err))
        return out
    if status == "none":
        out.update(status="none", present=False)
        findings.append(finding("BIMI_NONE", name=out["name"]))
        return out
    out.update(present=True, source=source)
    if len(recs) > 1:
        out.update(valid=False, records=recs)
        findings.append(finding("BIMI_MULTIPLE_RECORDS", name=name, count=len(recs)))
        return out
    out["record"] = recs[0]
    data, problems = parse_record(recs[0])
    findings.extend(problems)
    out.update(location=data["l"], evidence=data["a"], declined=data["declined"])
    if data["declined"]:
        out["valid"] = not any(f.severity == "error" for f in problems)
        return out  # a declination needs no DMARC enforcement and has no logo
    org_p = None
    if dmarc and dmarc.get("source") == "domain" and org_domain and org_domain != domain:
        org_p = await _org_policy(org_domain, resolver)
    pre = dmarc_precondition(dmarc, org_p)
    findings.extend(pre)
    out["dmarc_ok"] = None if any(f.code == "BIMI_DMARC_UNKNOWN" for f in pre) else not pre
    out["valid"] = not any(f.severity == "error" for f in problems)
    if not fetch:
        return out
    want_logo = bool(data["l"]) and check_url(data["l"]) is None
    want_evidence = bool(data["a"]) and check_url(data["a"]) is None
    opts: dict[str, Any] = {"timeout": fetch_timeout, "ca_file": ca_file, "allow_private": allow_private}
    logo_res, ev_res = await asyncio.gather(
        fetchmod.fetch(data["l"], resolver, max_bytes=SVG_MAX_BYTES + 1, **opts) if want_logo else _none(),
        fetchmod.fetch(data["a"], resolver, max_bytes=EVIDENCE_MAX_BYTES, **opts) if want_evidence else _none())
    out["fetched"] = want_logo or want_evidence
    if ev_res is not None:
        out["evidence_fetch"] = ev_res.to_json()
        if ev_res.error is not None or ev_res.status != 200 or ev_res.truncated:
            error = ev_res.error or (f"larger than {EVIDENCE_MAX_BYTES} bytes" if ev_res.ok else f"HTTP {ev_res.status}")
            findings.append(finding("BIMI_EVIDENCE_FETCH_FAILED", url=data["a"], error=error))
        else:
            facts, ev_findings = check_evidence(ev_res.body, domain, org_domain)
            out["evidence_certificate"] = facts
            findings.extend(ev_findings)
    if logo_res is not None:
        res = logo_res
        out["fetch"] = res.to_json()
        if res.error is not None or res.status != 200:
            error = res.error or f"HTTP {res.status}" + (" (redirects are not followed)" if res.redirect else "")
            findings.append(finding("BIMI_SVG_FETCH_FAILED", url=data["l"], error=error))
            out["logo_valid"] = False
        else:
            body = res.body + (b"\0" if res.truncated else b"")  # one byte past the limit marks oversize
            facts, svg_findings = check_svg(body, res.content_type)
            findings.extend(svg_findings)
            out["logo"] = facts
            out["logo_valid"] = not any(f.severity == "error" for f in svg_findings)
    return out
