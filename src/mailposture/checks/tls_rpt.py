"""SMTP TLS Reporting (RFC 8460): the ``_smtp._tls.<domain>`` TXT record.

Pure functions (:func:`split_fields`, :func:`parse`, :func:`check_uri`, :func:`select`) take record text;
:func:`analyze` does the one DNS lookup. Every problem of a record is reported, not only the first.
:func:`split_fields` is shared with MTA-STS (RFC 8461 §3.1 uses the same field syntax).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding

VERSION = "TLSRPTv1"
# RFC 8460 §3: ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
# RFC 8460 §3 / RFC 8461 §3.1: ext-value = 1*(%x21-3A / %x3C / %x3E-7E)  (printable, no ";" and no "=")
EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
WSP = " \t"
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+|\"[^\"\\]*\"")


def split_fields(record: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split ``name=value`` fields separated by ``*WSP ";" *WSP`` (RFC 8460 §3, RFC 8461 §3.1).

    Returns (fields in order, problems as (term, reason)). A trailing ";" is allowed; empty fields elsewhere
    and fields without "=" are problems. Whitespace around "=" is not allowed by either grammar.
    """
    fields: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    parts = record.split(";")
    for i, raw in enumerate(parts):
        term = raw.strip(WSP)
        if not term:
            if i == len(parts) - 1 and i > 0:
                continue  # [field-delim] at the end
            problems.append((raw, "empty field"))
            continue
        if "=" not in term:
            problems.append((term, "a field must be name=value"))
            continue
        name, value = term.split("=", 1)
        if name != name.strip(WSP) or (value and value[0] in WSP):
            problems.append((term, "no whitespace is allowed around '='"))
            name, value = name.strip(WSP), value.strip(WSP)
        fields.append((name, value))
    return fields, problems


def is_hostname(host: str) -> bool:
    host = host.rstrip(".")
    labels = host.split(".")
    return 1 < len(labels) and len(host) <= 253 and all(_HOST_LABEL.fullmatch(lb) for lb in labels)


def check_uri(uri: str) -> str | None:
    """Return why ``uri`` is not a valid rua destination (RFC 8460 §3: mailto: or https:), or None."""
    if any(c in uri for c in WSP) or not uri:
        return "contains whitespace or is empty"
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "mailto":
        addr = unquote(uri[7:].split("?", 1)[0])
        local, at, host = addr.rpartition("@")
        if not at or not local:
            return "no address after mailto:"
        if not _LOCAL_PART.fullmatch(local):
            return f"invalid local part '{local}'"
        if not is_hostname(host):
            return f"invalid domain '{host}'"
        return None
    if scheme == "https":
        try:
            parts = urlsplit(uri)
            host = parts.hostname or ""
            _ = parts.port
        except ValueError as e:
            return f"malformed URL ({e})"
        if not is_hostname(host):
            return f"invalid host '{host}'"
        return None
    if not scheme:
        return "no scheme"
    return f"scheme '{scheme}' is not allowed"


def parse(record: str) -> tuple[dict[str, Any], list[Finding]]:
    """Parse one TLS-RPT record (RFC 8460 §3). Returns (data, findings); never raises."""
    findings: list[Finding] = []
    fields, problems = split_fields(record)
    for term, reason in problems:
        findings.append(finding("TLSRPT_SYNTAX", term=term, reason=reason))
    data: dict[str, Any] = {"version": None, "rua": [], "extensions": {}}
    if not fields or fields[0] != ("v", VERSION):
        found = f"{fields[0][0]}={fields[0][1]}" if fields else record[:20]
        findings.append(finding("TLSRPT_SYNTAX", term=found, reason="the record must start with 'v=TLSRPTv1'"))
    else:
        data["version"] = VERSION
    seen: set[str] = set()
    for idx, (name, value) in enumerate(fields):
        if idx == 0 and name == "v":
            continue
        term = f"{name}={value}"
        if name in seen:
            findings.append(finding("TLSRPT_SYNTAX", term=term, reason=f"'{name}' appears more than once"))
            continue
        seen.add(name)
        if name == "v":
            findings.append(finding("TLSRPT_SYNTAX", term=term, reason="'v' must be the first field"))
        elif name == "rua":
            # tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)  (RFC 8460 §3)
            uris = [u.strip(WSP) for u in value.split(",")]
            for uri in uris:
                reason = check_uri(uri)
                if reason:
                    findings.append(finding("TLSRPT_BAD_URI", uri=uri, reason=reason))
                else:
                    data["rua"].append(uri)
        elif not EXT_NAME.fullmatch(name):
            findings.append(finding("TLSRPT_SYNTAX", term=term, reason=f"'{name}' is not a valid field name"))
        elif not EXT_VALUE.fullmatch(value):
            findings.append(finding("TLSRPT_SYNTAX", term=term, reason=f"invalid value for '{name}'"))
        else:
            data["extensions"][name] = value
    if "rua" not in seen:
        findings.append(finding("TLSRPT_NO_RUA"))  # RFC 8460 §3: rua is REQUIRED
    return data, findings


def select(records: list[str]) -> tuple[list[str], list[str]]:
    """Split TXT strings into TLS-RPT candidates and near misses (RFC 8460 §3: records not beginning with
    "v=TLSRPTv1" are discarded; a wrong-case version is reported since receivers silently ignore it)."""
    cand = [r for r in records if re.match(r"v=TLSRPTv1(?:[ \t]*;|[ \t]*$)", r)]
    near = [r for r in records if r not in cand and re.match(r"[ \t]*v[ \t]*=[ \t]*tlsrpt", r, re.I)]
    return cand, near


async def analyze(domain: str, resolver: Resolver, **_options: Any) -> dict[str, Any]:
    """One TXT lookup at ``_smtp._tls.<domain>``. Section: status ok|none|error, present, valid, record, rua."""
    name = f"_smtp._tls.{domain}"
    out: dict[str, Any] = {"status": "ok", "name": name, "present": None, "valid": None, "record": None,
                           "rua": [], "findings": []}
    ans = await resolver.query(name, "TXT")
    findings: list[Finding] = out["findings"]
    if ans.status == "error":
        out["status"] = "error"
        findings.append(finding("TLSRPT_DNS_ERROR", name=name, error=ans.error or "error"))
        return out
    cand, near = select(ans.txt_strings() if ans.ok else [])
    for rec in near:
        findings.append(finding("TLSRPT_SYNTAX", term=rec[:40],
                                reason="the version must be exactly 'v=TLSRPTv1' (case-sensitive); receivers discard this record"))
    if not cand:
        out.update(status="none", present=False)
        findings.append(finding("TLSRPT_NONE", domain=domain))
        return out
    out["present"] = True
    if len(cand) > 1:
        out.update(valid=False, records=cand)
        findings.append(finding("TLSRPT_MULTIPLE_RECORDS", name=name, count=len(cand)))
        return out
    out["record"] = cand[0]
    data, problems = parse(cand[0])
    findings.extend(problems)
    out["rua"] = data["rua"]
    if data["extensions"]:
        out["extensions"] = data["extensions"]
    out["valid"] = not any(f.severity == "error" for f in problems)
    return out
