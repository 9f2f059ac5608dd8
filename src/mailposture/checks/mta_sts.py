"""SMTP MTA Strict Transport Security (RFC 8461): the ``_mta-sts`` TXT record and, on request, the policy file.

Pure functions: :func:`parse_record` (TXT, §3.1), :func:`parse_policy` (policy body, §3.2), :func:`mx_matches`
(§4.1), :func:`check_response` (HTTP result → findings, §3.3). :func:`analyze` does one DNS lookup and, with
``fetch=True``, one bounded HTTPS GET through :mod:`mailposture.checks.fetch` (names resolved by the same
resolver). Every problem is reported, not only the first.
"""

from __future__ import annotations

import re
from typing import Any

from mailposture.checks import fetch as fetchmod
from mailposture.checks.tls_rpt import EXT_NAME, EXT_VALUE, split_fields
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding

VERSION = "STSv1"
MAX_AGE_LIMIT = 31_557_600        # RFC 8461 §3.2: max_age MUST be <= 31557600 (about one year)
MAX_AGE_SHORT = 86_400            # below one day: warn (§3.2 expects "weeks or greater")
POLICY_MAX_BYTES = 64 * 1024      # bound on the policy body (§3.3 leaves limits to the sender; 64 KiB is ample)
POLICY_PATH = "/.well-known/mta-sts.txt"
MODES = ("enforce", "testing", "none")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")                                 # §3.1 sts-id = 1*32(ALPHA / DIGIT)
_POLICY_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")          # §3.2 sts-policy-ext-name
_MX_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_MX_PATTERN = re.compile(rf"(?:\*\.)?{_MX_LABEL}(?:\.{_MX_LABEL})+\.?")  # §3.2 sts-policy-mx-value (+ wildcard)


# ------------------------------------------------------------------------------------------------ TXT record

def select(records: list[str]) -> list[str]:
    """§3.1: records that do not begin with "v=STSv1;" are discarded (a lone "v=STSv1" is kept and flagged)."""
    return [r for r in records if re.match(r"v=STSv1(?:[ \t]*;|[ \t]*$)", r)]


def parse_record(record: str) -> tuple[dict[str, Any], list[Finding]]:
    """Parse one ``v=STSv1; id=…`` record (RFC 8461 §3.1). Returns ({"id", "extensions"}, findings)."""
    findings: list[Finding] = []
    fields, problems = split_fields(record)
    for term, reason in problems:
        findings.append(finding("MTASTS_SYNTAX", term=term, reason=reason))
    data: dict[str, Any] = {"id": None, "extensions": {}}
    if not fields or fields[0] != ("v", VERSION):
        found = f"{fields[0][0]}={fields[0][1]}" if fields else record[:20]
        findings.append(finding("MTASTS_SYNTAX", term=found, reason="the record must start with 'v=STSv1'"))
    seen: set[str] = set()
    for idx, (name, value) in enumerate(fields):
        if idx == 0 and name == "v":
            continue
        term = f"{name}={value}"
        if name in seen:
            findings.append(finding("MTASTS_SYNTAX", term=term, reason=f"'{name}' appears more than once"))
            continue
        seen.add(name)
        if name == "v":
            findings.append(finding("MTASTS_SYNTAX", term=term, reason="'v' must be the first field"))
        elif name == "id":
            if _ID.fullmatch(value):
                data["id"] = value
            else:
                findings.append(finding("MTASTS_SYNTAX", term=term, reason="id must be 1 to 32 letters or digits"))
        elif not EXT_NAME.fullmatch(name) or not EXT_VALUE.fullmatch(value):
            findings.append(finding("MTASTS_SYNTAX", term=term, reason="invalid extension field"))
        else:
            data["extensions"][name] = value
    if "id" not in seen:
        findings.append(finding("MTASTS_SYNTAX", term=record[:40], reason="the required field id= is missing"))
    return data, findings


# ------------------------------------------------------------------------------------------------ policy file

def parse_policy(body: bytes | str) -> tuple[dict[str, Any], list[Finding]]:
    """Parse a policy body (RFC 8461 §3.2): ``key: value`` lines separated by CRLF (LF accepted).

    Returns ({"version", "mode", "max_age", "mx": [...], "extensions"}, findings). Unknown fields are kept in
    "extensions" (senders ignore them, §3.2); repeated fields other than mx keep the first value.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    findings: list[Finding] = []
    data: dict[str, Any] = {"version": None, "mode": None, "max_age": None, "mx": [], "extensions": {}}
    seen: set[str] = set()
    for lineno, raw in enumerate(re.split(r"\r?\n", text), start=1):
        line = raw.rstrip(" \t\r")
        if not line:
            continue
        shown = line[:60]
        if ":" not in line:
            findings.append(finding("MTASTS_POLICY_SYNTAX", line=lineno, text=shown, reason="expected 'key: value'"))
            continue
        key, value = line.split(":", 1)
        value = value.strip(" \t")
        if not _POLICY_KEY.fullmatch(key):
            findings.append(finding("MTASTS_POLICY_SYNTAX", line=lineno, text=shown,
                                    reason=f"'{key}' is not a valid field name"))
            continue
        if key != "mx" and key in seen:
            findings.append(finding("MTASTS_POLICY_DUPLICATE_FIELD", field=key))
            continue
        seen.add(key)
        if key == "version":
            if value == VERSION:
                data["version"] = value
            else:
                findings.append(finding("MTASTS_POLICY_BAD_VALUE", field=key, value=value, expected=" (STSv1)"))
        elif key == "mode":
            if value in MODES:
                data["mode"] = value
            else:
                findings.append(finding("MTASTS_POLICY_BAD_VALUE", field=key, value=value,
                                        expected=" (enforce, testing or none)"))
        elif key == "max_age":
            # sts-policy-max-age-value = 1*10DIGIT; MUST be <= 31557600 (§3.2)
            if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_AGE_LIMIT:
                data["max_age"] = int(value)
            else:
                findings.append(finding("MTASTS_POLICY_BAD_VALUE", field=key, value=value,
                                        expected=f" (0 to {MAX_AGE_LIMIT} seconds)"))
        elif key == "mx":
            if _MX_PATTERN.fullmatch(value):
                data["mx"].append(value.rstrip(".").lower())
            else:
                findings.append(finding("MTASTS_POLICY_BAD_VALUE", field=key, value=value,
                                        expected=" (a host name, or *. followed by a domain)"))
        else:
            data["extensions"][key] = value
    if data["version"] is None and "version" not in seen:
        findings.append(finding("MTASTS_POLICY_FIELD_MISSING", field="version"))
    if data["mode"] is None and "mode" not in seen:
        findings.append(finding("MTASTS_POLICY_FIELD_MISSING", field="mode"))
    if data["max_age"] is None and "max_age" not in seen:
        findings.append(finding("MTASTS_POLICY_FIELD_MISSING", field="max_age"))
    mode = data["mode"]
    if data["max_age"] is not None and data["max_age"] < MAX_AGE_SHORT and mode != "none":
        findings.append(finding("MTASTS_MAX_AGE_SHORT", max_age=data["max_age"]))
    if mode in ("enforce", "testing") and not data["mx"] and "mx" not in seen:
        findings.append(finding("MTASTS_NO_MX_PATTERN", mode=mode))
    if mode == "testing":
        findings.append(finding("MTASTS_MODE_TESTING"))
    elif mode == "none":
        findings.append(finding("MTASTS_MODE_NONE"))
    return data, findings


def mx_matches(host: str, pattern: str) -> bool:
    """RFC 8461 §4.1: exact match, or ``*.example.com`` matching exactly one extra leftmost label."""
    host, pattern = host.rstrip(".").lower(), pattern.rstrip(".").lower()
    if pattern.startswith("*."):
        first, _, rest = host.partition(".")
        return bool(first) and rest == pattern[2:]
    return host == pattern


def check_response(res: fetchmod.FetchResult, domain: str) -> list[Finding]:
    """Findings for the HTTP side of a policy fetch (RFC 8461 §3.3); empty when the body can be parsed."""
    if res.error is not None:
        return [finding("MTASTS_POLICY_FETCH_FAILED", url=res.url, error=res.error)]
    if res.redirect:
        return [finding("MTASTS_POLICY_REDIRECT", status=res.status, location=res.headers.get("location", "-"),
                        domain=domain)]
    if res.status != 200:
        return [finding("MTASTS_POLICY_HTTP_STATUS", status=res.status)]
    out: list[Finding] = []
    if res.content_type != "text/plain":  # §3.2: media type "text/plain"
        out.append(finding("MTASTS_POLICY_CONTENT_TYPE", content_type=res.content_type or "(none)"))
    if res.truncated:
        out.append(finding("MTASTS_POLICY_TOO_LARGE", limit=len(res.body)))
    return out


def check_mx(policy: dict[str, Any], mx_hosts: list[str]) -> tuple[dict[str, bool], list[Finding]]:
    """Which MX hosts a policy allows (§4.1); in enforce/testing mode an uncovered host is a finding."""
    covered = {h: any(mx_matches(h, p) for p in policy.get("mx", [])) for h in mx_hosts}
    mode = policy.get("mode")
    findings = []
    if mode in ("enforce", "testing") and policy.get("mx"):
        for host, ok in covered.items():
            if not ok:
                sev = "error" if mode == "enforce" else "warning"
                findings.append(finding("MTASTS_MX_NOT_COVERED", severity=sev, host=host, mode=mode))
    return covered, findings


def _mx_hosts(mx: dict[str, Any] | None) -> list[str]:
    """MX exchange names from the mx section (records of {"host"|"exchange", "preference"}); null MX skipped."""
    hosts: list[str] = []
    for rec in (mx or {}).get("records") or []:
        host = rec.get("host") or rec.get("exchange") if isinstance(rec, dict) else None
        if isinstance(rec, list | tuple) and len(rec) == 2:
            host = rec[1]
        if isinstance(host, str) and host.strip(".") and host.rstrip(".").lower() not in hosts:
            hosts.append(host.rstrip(".").lower())
    return hosts


# ------------------------------------------------------------------------------------------------ analyze

async def analyze(domain: str, resolver: Resolver, *, mx: dict[str, Any] | None = None, fetch: bool = False,
                  ca_file: str | None = None, https_port: int | None = None, allow_private: bool = False,
                  fetch_timeout: float = 10.0, **_options: Any) -> dict[str, Any]:
    """MTA-STS section: status ok|none|error, present, valid, record, id, mode and, when fetched, the policy.

    One TXT query; with ``fetch=True`` and a usable record, also A+AAAA of ``mta-sts.<domain>`` and one GET.
    ``mx`` is the mx section (its host names are matched against the policy's mx patterns).
    """
    name = f"_mta-sts.{domain}"
    out: dict[str, Any] = {"status": "ok", "name": name, "present": None, "valid": None, "record": None,
                           "id": None, "mode": None, "fetched": False, "findings": []}
    findings: list[Finding] = out["findings"]
    ans = await resolver.query(name, "TXT")
    if ans.status == "error":
        out["status"] = "error"
        findings.append(finding("MTASTS_DNS_ERROR", name=name, error=ans.error or "error"))
        return out
    texts = ans.txt_strings() if ans.ok else []
    cand = select(texts)
    for rec in texts:
        if rec not in cand and re.match(r"[ \t]*v[ \t]*=[ \t]*stsv", rec, re.I):
            findings.append(finding("MTASTS_SYNTAX", term=rec[:40],
                                    reason="the version must be exactly 'v=STSv1' (case-sensitive); senders discard this record"))
    if not cand:
        out.update(status="none", present=False)
        findings.append(finding("MTASTS_NONE", domain=domain))
        return out
    out["present"] = True
    if len(cand) > 1:
        out.update(valid=False, records=cand)
        findings.append(finding("MTASTS_MULTIPLE_RECORDS", name=name, count=len(cand)))
        return out
    out["record"] = cand[0]
    data, problems = parse_record(cand[0])
    findings.extend(problems)
    out["id"] = data["id"]
    record_ok = not any(f.severity == "error" for f in problems)
    out["valid"] = record_ok
    if not fetch or not record_ok:
        return out  # §3.1: with an invalid record senders assume no policy, so there is nothing to fetch

    url = f"https://mta-sts.{domain}{POLICY_PATH}"
    res = await fetchmod.fetch(url, resolver, max_bytes=POLICY_MAX_BYTES, timeout=fetch_timeout, ca_file=ca_file,
                               port=https_port, allow_private=allow_private)
    out["fetched"] = True
    out["fetch"] = res.to_json()
    http_problems = check_response(res, domain)
    findings.extend(http_problems)
    if res.status != 200 or res.error is not None:
        out["valid"] = False
        return out
    policy, pproblems = parse_policy(res.body)
    findings.extend(pproblems)
    out["mode"] = policy["mode"]
    out["max_age"] = policy["max_age"]
    out["mx_patterns"] = policy["mx"]
    if policy["extensions"]:
        out["policy_extensions"] = policy["extensions"]
    hosts = _mx_hosts(mx)
    if hosts:
        covered, mx_findings = check_mx(policy, hosts)
        out["mx_covered"] = covered
        findings.extend(mx_findings)
    out["valid"] = not any(f.severity == "error" for f in (*http_problems, *pproblems))
    return out
