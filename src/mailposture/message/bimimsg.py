"""BIMI eligibility of one message (draft-brand-indicators-for-message-identification §7): the message passes
DMARC, the From domain's policy is at enforcement, a valid BIMI record exists for the selector the message asks
for (``BIMI-Selector``, §4.5), and — with ``fetch`` — the logo is SVG Tiny PS. The record and logo checks are
the project's BIMI check (:mod:`mailposture.checks.bimi`)."""

from __future__ import annotations

import re
from typing import Any

from mailposture.checks import bimi
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding
from mailposture.message.parse import Message

_SELECTOR = re.compile(r"(?:^|;)\s*s\s*=\s*([A-Za-z0-9_-]+)", re.IGNORECASE)
REASONS = {
    "no-from-domain": ("the message has no single From domain", "From ドメインが 1 つに定まりません"),
    "dmarc-not-pass": ("the message does not pass DMARC", "メッセージが DMARC に合格していません"),
    "dmarc-not-enforcing": ("the domain's DMARC policy is not at enforcement (quarantine/reject, pct=100)",
                            "ドメインの DMARC ポリシーが強制 (quarantine/reject、pct=100) ではありません"),
    "no-record": ("the domain publishes no BIMI record", "ドメインに BIMI レコードがありません"),
    "dns-error": ("the BIMI record could not be looked up (DNS error)", "DNS エラーで BIMI レコードを取得できません"),
    "invalid-record": ("the BIMI record is not valid", "BIMI レコードが正しくありません"),
    "declined": ("the domain declines to show a logo", "ドメインがロゴ表示を辞退しています"),
    "logo-invalid": ("the logo is not SVG Tiny PS", "ロゴが SVG Tiny PS ではありません"),
    "logo-fetch-failed": ("the logo could not be fetched", "ロゴを取得できません"),
}


def selector_of(msg: Message) -> str:
    """§4.5: the BIMI-Selector field's s= (default "default")."""
    for value in msg.get_all("bimi-selector"):
        m = _SELECTOR.search(value)
        if m:
            return m.group(1).lower()
    return "default"


async def evaluate(msg: Message, from_domain: str | None, dmarc: dict[str, Any], policy: dict[str, Any] | None,
                   resolver: Resolver, *, fetch: bool = False, ca_file: str | None = None,
                   allow_private: bool = False, fetch_timeout: float = 10.0) -> tuple[dict[str, Any], list[Finding]]:
    """BIMI eligibility; with ``fetch`` the logo (and evidence) are fetched by the project's BIMI check over HTTPS
    (``ca_file``: an extra CA; ``allow_private``: loopback/private addresses, for tests)."""
    sel = selector_of(msg)
    out: dict[str, Any] = {"eligible": False, "reason": None, "selector": sel, "record": None, "location": None,
                           "evidence": None, "logo_valid": None, "status": None}
    findings: list[Finding] = []
    if not from_domain:
        return _no(out, findings, "no-from-domain")
    if dmarc.get("result") != "pass":   # §7: nothing more to look up for a message that fails DMARC
        return _no(out, findings, "dmarc-not-pass")
    sec = await bimi.analyze(from_domain, resolver, dmarc=policy, selector=sel, fetch=fetch, ca_file=ca_file,
                             allow_private=allow_private, fetch_timeout=fetch_timeout)
    out.update(status=sec.get("status"), record=sec.get("record"), location=sec.get("location"),
               evidence=sec.get("evidence"), logo_valid=sec.get("logo_valid"), dmarc_ok=sec.get("dmarc_ok"))
    if sec.get("fetch") is not None:
        out["fetch"] = sec["fetch"]          # the logo's GET: url, status, bytes, address or error
    if sec.get("logo") is not None:
        out["logo"] = sec["logo"]
    findings.extend(f for f in sec.get("findings", []) if f.code != "BIMI_NONE")
    if dmarc.get("result") != "pass":
        return _no(out, findings, "dmarc-not-pass")
    if sec.get("status") == "error":
        return _no(out, findings, "dns-error")
    if not sec.get("present"):
        return _no(out, findings, "no-record")
    if sec.get("declined"):
        return _no(out, findings, "declined")
    if not sec.get("valid"):
        return _no(out, findings, "invalid-record")
    if not sec.get("dmarc_ok"):
        return _no(out, findings, "dmarc-not-enforcing")
    if fetch and sec.get("logo_valid") is False:
        got = sec.get("fetch") or {}
        return _no(out, findings, "logo-fetch-failed" if got.get("error") or got.get("status") != 200
                   else "logo-invalid")
    out.update(eligible=True, reason="eligible")
    findings.append(finding("MSG_BIMI_ELIGIBLE", location=sec.get("location") or ""))
    return out, findings


def _no(out: dict[str, Any], findings: list[Finding], reason: str) -> tuple[dict[str, Any], list[Finding]]:
    out.update(eligible=False, reason=reason)
    en, ja = REASONS[reason]
    findings.append(finding("MSG_BIMI_NOT_ELIGIBLE", reason=en, reason_ja=ja))
    return out, findings
