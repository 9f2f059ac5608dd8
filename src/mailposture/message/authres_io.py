"""RFC 8601 Authentication-Results: reading the fields hops wrote (AAR bodies) and writing ours.

Reading uses the ``authres`` package; a field it refuses (non-standard property types such as Microsoft's
``action=none`` or ``compauth=``, a version number after the authserv-id, stray comments) is read by a lenient
fallback that keeps method, result, reason and properties, and says which parser was used.
Writing builds the field with ``authres`` too, so what we emit is what a standard parser reads back.
"""

from __future__ import annotations

import re
from typing import Any

import authres

_COMMENT = re.compile(r"\([^()]*\)")
_PROP = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")
_BARE = re.compile(r"(?<![\w.])([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\"[^\"]*\"|[^\s;]+)")
_RESINFO = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:/\s*\d+\s*)?=\s*([A-Za-z0-9_-]+)")


def _strip_comments(text: str) -> str:
    prev = None
    while prev != text:   # nested comments (RFC 5322 §3.2.2)
        prev, text = text, _COMMENT.sub(" ", text)
    return text


def parse_results(body: str) -> dict[str, Any]:
    """``authserv-id; method=result ...; ...`` -> {authserv_id, results: [{method, result, reason, properties}],
    parser: "authres" | "lenient" | "unreadable", problem}."""
    try:
        hdr = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + body.strip())
        results = [{"method": r.method, "result": (r.result or "").lower(), "reason": r.reason,
                    "properties": {f"{p.type}.{p.name}": p.value for p in r.properties}}
                   for r in hdr.results]
        out: dict[str, Any] = {"authserv_id": hdr.authserv_id, "results": results, "parser": "authres"}
        # authres drops what is not ptype.property (Microsoft's "action=oreject", "compauth" reasons): keep it
        loose = _lenient(body, "")["results"]
        extras = []
        for mine, other in zip(results, loose, strict=False):
            if mine["method"] == other["method"]:
                for key, value in other["extra"].items():
                    mine.setdefault("extra", {})[key] = value
                    extras.append(f"{mine['method']}: {key}=")
        if extras:
            out["problem"] = "not ptype.property: " + ", ".join(extras)
        return out
    except Exception as exc:   # authres raises several error types for non-standard fields
        problem = str(exc)[:120] or type(exc).__name__
    return _lenient(body, problem)


def _lenient(body: str, problem: str) -> dict[str, Any]:
    text = _strip_comments(body.replace("\r", " ").replace("\n", " "))
    parts = [p.strip() for p in text.split(";")]
    if not parts or not parts[0]:
        return {"authserv_id": None, "results": [], "parser": "unreadable", "problem": problem}
    authserv = parts[0].split()[0] if parts[0].split() else None   # "mx.example 1": a version after the id
    results = []
    for part in parts[1:]:
        m = _RESINFO.match(part)
        if not m:
            continue
        method, result = m.group(1).lower(), m.group(2).lower()
        rest = part[m.end():]
        props = {f"{a.lower()}.{b.lower()}": c.strip('"') for a, b, c in _PROP.findall(rest)}
        extra = {k.lower(): v.strip('"') for k, v in _BARE.findall(_PROP.sub(" ", rest)) if k.lower() != "reason"}
        reason = None
        rm = re.search(r"reason\s*=\s*(\"[^\"]*\"|\S+)", rest)
        if rm:
            reason = rm.group(1).strip('"')
        results.append({"method": method, "result": result, "reason": reason, "properties": props, "extra": extra})
    return {"authserv_id": authserv, "results": results, "parser": "lenient", "problem": problem}


def claims(results: list[dict[str, Any]]) -> dict[str, str]:
    """method -> result of the first result of each method (what a hop says it saw)."""
    out: dict[str, str] = {}
    for r in results:
        out.setdefault(r["method"], r["result"])
    return out


def ar_header(host: str, verdict: dict[str, Any]) -> str:
    """The RFC 8601 field (``Authentication-Results: host; spf=...; dkim=...; dmarc=...; arc=...``) for a
    verification result; one dkim= entry per signature (§2.7.1, header.d/header.s/header.a/header.b)."""
    res: list[Any] = []
    spf = verdict.get("spf") or {}
    if spf.get("result") and spf.get("evaluated"):
        props = []
        if spf.get("mail_from") is not None:
            props.append(authres.AuthenticationResultProperty("smtp", "mailfrom",
                                                              spf.get("mail_from") or spf.get("domain") or ""))
        if spf.get("helo"):
            props.append(authres.AuthenticationResultProperty("smtp", "helo", spf["helo"]))
        res.append(authres.AuthenticationResult(method="spf", result=spf["result"], properties=props))
    for sig in verdict.get("dkim") or []:
        if sig.get("reason") == "over-limit":   # not verified: nothing to state about it (RFC 8601 §2.7.1)
            continue
        props = []
        if sig.get("d"):
            props.append(authres.AuthenticationResultProperty("header", "d", sig["d"]))
        if sig.get("s"):
            props.append(authres.AuthenticationResultProperty("header", "s", sig["s"]))
        if sig.get("a"):
            props.append(authres.AuthenticationResultProperty("header", "a", sig["a"]))
        if sig.get("b8"):
            props.append(authres.AuthenticationResultProperty("header", "b", sig["b8"]))
        reason = None if sig.get("result") == "pass" else sig.get("reason")
        res.append(authres.AuthenticationResult(method="dkim", result=sig.get("result") or "none",
                                                reason=reason, properties=props))
    if not verdict.get("dkim"):
        res.append(authres.AuthenticationResult(method="dkim", result="none"))
    dm = verdict.get("dmarc") or {}
    if dm.get("result"):
        props = []
        if verdict.get("from_domain"):
            props.append(authres.AuthenticationResultProperty("header", "from", verdict["from_domain"]))
        if dm.get("policy"):
            props.append(authres.AuthenticationResultProperty("policy", "dmarc", dm["policy"]))
        res.append(authres.AuthenticationResult(method="dmarc", result=dm["result"], properties=props))
    arc = verdict.get("arc") or {}
    if arc.get("cv"):
        props = []   # RFC 8617 §10.1: header.oldest-pass, smtp.remote-ip
        if arc.get("cv") == "pass" and arc.get("oldest_pass") is not None:
            props.append(authres.AuthenticationResultProperty("header", "oldest-pass", str(arc["oldest_pass"])))
        if spf.get("ip"):
            props.append(authres.AuthenticationResultProperty("smtp", "remote-ip", spf["ip"]))
        res.append(authres.AuthenticationResult(method="arc", result=arc["cv"], properties=props))
    header = authres.AuthenticationResultsHeader(authserv_id=host, results=res)
    return str(header)
