"""Verify one received message: SPF, every DKIM signature, DMARC, the ARC chain and BIMI eligibility.

:func:`verify_message` is the whole pipeline, I/O only through the ``resolver`` it is given:

1. parse the message (findings for every defect, never an exception);
2. at once, concurrently: every DKIM/ARC key name, SPF check_host() and the From domain's DMARC discovery;
3. the DKIM signatures and the ARC chain with dkimpy, keys served from step 2 (see :mod:`.keys`);
4. DMARC alignment and disposition, then BIMI.

Each part runs inside its own guard: an unexpected error in one part becomes a ``MSG_SECTION_ERROR`` finding
and the other parts are still reported.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from mailposture.dns.types import QueryStats, Resolver, TrackingResolver
from mailposture.findings import Finding, finding
from mailposture.message import arc as arcmod
from mailposture.message import bimimsg, dkimsig, dmarcmsg, spfid
from mailposture.message.keys import KeyBook
from mailposture.message.parse import Message, decode_words, from_domain, parse

DKIM_REASONS: dict[str, tuple[str, str]] = {
    "ok": ("verified", "検証成功"),
    "malformed": ("the signature field is malformed", "署名フィールドの形式が不正"),
    "missing-tag": ("a required tag is missing", "必須タグがない"),
    "bad-version": ("v= is not 1", "v= が 1 ではない"),
    "unsupported-algorithm": ("unknown signing algorithm", "未知の署名アルゴリズム"),
    "bad-tag-value": ("a tag has an invalid value", "タグの値が不正"),
    "identity-mismatch": ("i= is not within d=", "i= が d= のドメイン配下ではない"),
    "from-not-signed": ("From is not signed (RFC 6376 §6.1.1)", "From が署名対象でない (RFC 6376 §6.1.1)"),
    "key-missing": ("no key record at the selector", "セレクタに鍵レコードがない"),
    "key-revoked": ("the key is revoked (empty p=)", "鍵が失効している (p= が空)"),
    "key-syntax": ("the key record is not usable", "鍵レコードが使えない"),
    "key-type-mismatch": ("the key type does not match a=", "鍵の種類が a= と一致しない"),
    "key-hash-not-allowed": ("the key's h= does not allow this hash", "鍵の h= がこのハッシュを許可していない"),
    "key-strict-subdomain": ("the key forbids subdomain identities (t=s)", "鍵がサブドメインの i= を禁止 (t=s)"),
    "key-dns-error": ("the key could not be looked up (DNS error)", "DNS エラーで鍵を取得できない"),
    "expired": ("the signature has expired (x=)", "署名の有効期限 (x=) 切れ"),
    "body-hash-mismatch": ("the body was altered after signing", "署名後に本文が変更された"),
    "signature-mismatch": ("signed header fields were altered (signature mismatch)", "署名対象ヘッダが変更された (署名不一致)"),
    "rsa-sha1": ("rsa-sha1 is not accepted (RFC 8301 §3.1)", "rsa-sha1 は認められない (RFC 8301 §3.1)"),
    "key-too-short": ("the RSA key is shorter than 1024 bits (RFC 8301 §3.2)", "RSA 鍵が 1024 ビット未満 (RFC 8301 §3.2)"),
    "body-length-exceeds": ("l= is longer than the body (body truncated)", "l= が本文より長い (本文が切り詰められた)"),
    "over-limit": ("not verified: too many signatures on one message", "未検証: 1 通の署名が多すぎる"),
}


@dataclass(slots=True)
class VerifyOptions:
    ip: str | None = None
    helo: str | None = None
    mail_from: str | None = None
    trusted_hosts: list[str] = field(default_factory=list)
    fetch: bool = False            # BIMI logo (HTTPS)
    ca_file: str | None = None     # extra CA for that fetch (a private PKI; tests)
    allow_private: bool = False    # let the fetch reach loopback/private addresses (tests only)
    fetch_timeout: float = 10.0
    now: float | None = None       # verification time (tests)
    bimi: bool = True


async def _guard(section: str, coro: Any, default: Any, findings: list[Finding]) -> Any:
    try:
        return await coro
    except Exception as exc:  # a bug or a hostile input in one part must not lose the others
        findings.append(finding("MSG_SECTION_ERROR", section=section, error=f"{type(exc).__name__}: {exc}"[:200]))
        return default


async def _pair(value: tuple[Any, list[Finding]]) -> tuple[Any, list[Finding]]:
    return value


async def verify_message(data: bytes, resolver: Resolver, options: VerifyOptions | None = None,
                         *, lang: str = "en") -> dict[str, Any]:
    """The verification result (JSON-ready; ``findings`` rendered in ``lang``)."""
    opts = options or VerifyOptions()
    stats = QueryStats()
    res = TrackingResolver(resolver, stats)
    findings: list[Finding] = []
    try:
        msg = parse(data)
    except Exception as exc:   # parse() does not raise by design; belt and braces for the report
        msg = Message()
        findings.append(finding("MSG_SECTION_ERROR", section="message", error=str(exc)[:200]))
    findings.extend(msg.findings)
    fr, ffind = from_domain(msg)
    findings.extend(ffind)
    book = KeyBook(res)
    key_names = dkimsig.signature_key_names(msg, fr.domain) + arcmod.key_names(msg)

    empty_spf = ({"result": "none", "domain": None, "ip": opts.ip, "evaluated": False}, [])
    (_, (spf, spf_f), policy) = await asyncio.gather(
        _guard("dkim-keys", book.fetch(key_names), None, findings),
        _guard("spf", spfid.evaluate(msg, res, ip=opts.ip, helo=opts.helo, mail_from=opts.mail_from,
                                     trusted=opts.trusted_hosts), empty_spf, findings),
        _guard("dmarc", dmarcmsg.discover(fr, res), None, findings))
    findings.extend(spf_f)

    dkim_results, dkim_f = await _guard(
        "dkim", _pair(dkimsig.verify_all(msg, book, now=opts.now, prefer=fr.domain)), ([], []), findings)
    findings.extend(dkim_f)
    if not dkim_results and msg.fields:
        findings.append(finding("MSG_DKIM_NONE"))
    for r in dkim_results:
        if r["reason"] == "over-limit":   # said once by MSG_DKIM_TOO_MANY, not once per signature
            continue
        en, ja = DKIM_REASONS.get(r["reason"], (r["reason"], r["reason"]))
        detail = f" ({r['detail']})" if r.get("detail") and r["result"] != "pass" else ""
        if r["result"] == "pass":
            findings.append(finding("MSG_DKIM_RESULT", d=r["d"], s=r["s"], a=r["a"], result="pass", reason=en,
                                    reason_ja=ja, detail=""))
        else:
            # RFC 6376 §3.6.1: a failure under a testing key (t=y) weighs no more than no signature (MSG_DKIM_NONE
            # is a warning); it is still reported as the failure it is, with a note
            testing = bool(r.get("testing"))
            findings.append(finding("MSG_DKIM_FAIL", "warning" if r["result"] == "temperror" or testing else None,
                                    d=r["d"] or "?", s=r["s"] or "?", a=r["a"] or "?", reason=en, reason_ja=ja,
                                    detail=detail))
            if testing:
                findings.append(finding("MSG_DKIM_TESTING_FAIL", d=r["d"] or "?", s=r["s"] or "?",
                                        result=r["result"]))

    arc_default = ({"cv": "fail", "instances": 0, "failed_instance": None, "reason": "not evaluated"}, [])
    arc, arc_f = await _guard("arc", arcmod.validate(msg, book), arc_default, findings)
    findings.extend(arc_f)
    if arc.get("cv") == "pass":
        first = next((s for s in arc.get("sets", []) if s["instance"] == 1), None)
        claims = ", ".join(f"{r['method']}={r['result']}" for r in ((first or {}).get("aar") or {}).get("results", []))
        findings.append(finding("ARC_CHAIN_PASS", count=arc["instances"], oldest_pass=arc.get("oldest_pass"),
                                claims=claims or "-"))

    dmarc_default = ({"result": "temperror", "policy": None, "disposition": "none",
                      "aligned": {"spf": False, "dkim": False}}, [], None)
    dmarc, dmarc_f, section = await _guard("dmarc", _pair(dmarcmsg.evaluate(fr, policy, spf, dkim_results)),
                                           dmarc_default, findings)
    findings.extend(dmarc_f)
    if policy:
        findings.extend(f for f in policy.get("findings", []) if f.severity != "info")

    bimi: dict[str, Any] = {"eligible": False, "reason": "not evaluated"}
    if opts.bimi:
        bimi, bimi_f = await _guard("bimi", bimimsg.evaluate(msg, fr.domain, dmarc, section, res, fetch=opts.fetch,
                                                             ca_file=opts.ca_file, allow_private=opts.allow_private,
                                                             fetch_timeout=opts.fetch_timeout),
                                    (bimi, []), findings)
        findings.extend(bimi_f)

    subject = msg.get_all("subject")
    return {
        "from_domain": fr.domain,
        "spf": spf,
        "dkim": dkim_results,
        "dmarc": dmarc,
        "arc": arc,
        "bimi": bimi,
        "findings": [f.to_json(lang) for f in _dedupe(findings)],
        "message": {"from": fr.addresses, "subject": decode_words(subject[0]) if subject else None,
                    "fields": len(msg.fields), "body_octets": len(msg.body)},
        "dns": {"queries": stats.queries, "errors": stats.errors,
                "keys": {name: ans.to_json() for name, ans in book.answers.items()}},
        "verified_at": int(opts.now if opts.now is not None else time.time()),
    }


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        key = (f.code, repr(sorted(f.params.items())))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
