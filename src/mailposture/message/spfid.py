"""The SPF identities of a received message and their check_host() results (RFC 7208 §2.3, §2.4).

The connecting IP, the HELO name and the MAIL FROM are facts of the SMTP session, not of the message. They are
taken from the options, or else from the Received field (RFC 5321 §4.4) written by one of the operator's own
receiving MTAs (``trusted_hosts``): the topmost Received whose ``by`` host is trusted and whose ``from`` host is
not, walking down only through trusted hops. Received-SPF and every field the sender could have written are
never believed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from typing import Any

from mailposture.checks.spf.evaluate import check_host, check_spf
from mailposture.checks.spf.reasons import reason_ja
from mailposture.dns.types import Resolver
from mailposture.findings import Finding, finding
from mailposture.message.parse import Message

_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)", re.IGNORECASE)
_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_PAREN_IP = re.compile(r"\(([^()]*?)\)")
# the name the client gave in HELO/EHLO when the MTA writes the reverse DNS name first: Exim
# "from rdns ([ip] helo=NAME)", qmail "from rdns (HELO NAME) (ip)", Sendmail-style "(EHLO NAME)"
_HELO_SAID = re.compile(r"\(\s*(?:[^()]*?\s)?(?:helo=|(?:HELO|EHLO)\s+)([^\s;()]+)", re.IGNORECASE)
_ENVFROM = re.compile(r"envelope-from\s*[=:]?\s*<?([^>\s;)]*)>?", re.IGNORECASE)

REASON_JA = {"no ip given and no --trusted-hosts": "IP 未指定で --trusted-hosts もありません",
             "no Received field of a trusted host": "信頼するホストの Received がありません",
             "the trusted Received field names no IP": "信頼する Received に IP がありません",
             "invalid IP": "IP アドレスが不正です"}


def _host_matches(host: str, trusted: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for t in trusted:
        t = t.lower().rstrip(".")
        if host == t or (t.startswith("*.") and host.endswith(t[1:])):
            return True
        try:
            if ipaddress.ip_address(host.strip("[]")) == ipaddress.ip_address(t):
                return True
        except ValueError:
            pass
    return False


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def from_received(msg: Message, trusted: list[str]) -> dict[str, Any] | None:
    """IP, HELO and (when recorded) the envelope sender from the trusted hop's Received field."""
    received = msg.get_all("received")
    names = [n.lower() for n, _ in msg.fields]
    rec_positions = [i for i, n in enumerate(names) if n == b"received"]
    for pos, value in zip(rec_positions, received, strict=True):
        by = _BY.search(value)
        if not by or not _host_matches(by.group(1), trusted):
            return None   # written by someone we do not trust: nothing below it is believed
        frm = _FROM.match(value)
        helo = frm.group(1) if frm else ""
        said = _HELO_SAID.search(value[:by.start()]) if frm else None
        if said:   # RFC 7208 §2.3: the HELO identity is what the client said, not the reverse DNS name
            helo = said.group(1)
        ips = [ip for ip in (_valid_ip(m) for m in _IP.findall(value)) if ip]
        if not ips:   # "from helo (rdns 192.0.2.1)" without brackets
            for paren in _PAREN_IP.findall(value):
                ips = [ip for ip in (_valid_ip(w) for w in paren.split()) if ip]
                if ips:
                    break
        if frm and (_host_matches(helo, trusted) or (ips and _host_matches(ips[0], trusted))):
            continue   # an internal hop between our own hosts
        env = _ENVFROM.search(value)
        mail_from = env.group(1) if env else None
        if mail_from is None:
            rp = [i for i, n in enumerate(names) if n == b"return-path" and i < pos]
            if rp:   # written at delivery, above the trusted hop
                mail_from = msg.get_all("return-path")[0].strip().strip("<>") if msg.get_all("return-path") else None
        return {"ip": ips[0] if ips else None, "helo": helo, "mail_from": mail_from, "received": value[:300]}
    return None


async def evaluate(msg: Message, resolver: Resolver, *, ip: str | None, helo: str | None, mail_from: str | None,
                   trusted: list[str]) -> tuple[dict[str, Any], list[Finding]]:
    """The ``spf`` section: result of the MAIL FROM identity (HELO's beside it), domain, ip."""
    out: dict[str, Any] = {"result": "none", "domain": None, "ip": ip, "helo": helo, "mail_from": mail_from,
                           "source": "options" if ip else None, "evaluated": False, "reason": None,
                           "helo_result": None, "mechanism": None, "record": None, "lookups": 0}
    findings: list[Finding] = []
    if not ip and trusted:
        hop = from_received(msg, trusted)
        if hop is None:
            out["reason"] = "no Received field of a trusted host"
        elif not hop["ip"]:
            out["reason"] = "the trusted Received field names no IP"
        else:
            ip = hop["ip"]
            helo = helo or hop["helo"]
            mail_from = mail_from if mail_from is not None else hop["mail_from"]
            out.update(ip=ip, helo=helo, mail_from=mail_from, source="received", received=hop["received"])
    elif not ip:
        out["reason"] = "no ip given and no --trusted-hosts"
    if ip and _valid_ip(ip) is None:
        out["reason"], ip = "invalid IP", None
    if not ip:
        findings.append(finding("MSG_SPF_NOT_EVALUATED", reason=out["reason"],
                                reason_ja=REASON_JA.get(out["reason"] or "", out["reason"])))
        return out, findings
    helo = (helo or "").strip().rstrip(".")
    sender = (mail_from or "").strip().strip("<>")
    if not helo and not sender:
        out["reason"] = "no ip given and no --trusted-hosts"
        findings.append(finding("MSG_SPF_NOT_EVALUATED", reason="no HELO name and no MAIL FROM",
                                reason_ja="HELO 名も MAIL FROM もありません"))
        return out, findings
    tasks = [check_spf(ip, sender, helo or (sender.rpartition("@")[2]), resolver=resolver)]
    helo_is_domain = bool(helo) and "." in helo and _valid_ip(helo.strip("[]")) is None
    if helo_is_domain:   # §2.3: the HELO identity, checked on its own
        tasks.append(check_host(ip, helo, f"postmaster@{helo}", resolver=resolver, helo=helo))
    got = await asyncio.gather(*tasks)
    main = got[0]
    out.update(result=main.result, domain=main.domain, evaluated=True, reason=main.reason,
               mechanism=main.mechanism, record=main.record, lookups=main.dns_lookups, ip=ip, helo=helo or None,
               mail_from=sender)
    out["identity"] = "mailfrom" if sender else "helo"
    if len(got) > 1:
        h = got[1]
        out["helo_result"] = {"result": h.result, "domain": h.domain, "reason": h.reason}
    why = f" ({main.reason})" if main.reason else ""
    why_ja = f" ({reason_ja(main.reason)})" if main.reason else ""
    findings.append(finding("MSG_SPF_RESULT", "info" if main.result in ("pass", "none", "neutral") else "warning",
                            identity="MAIL FROM" if sender else "HELO", domain=main.domain, ip=ip,
                            result=main.result, why=why, why_ja=why_ja))
    return out, findings
