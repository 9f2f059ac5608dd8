"""Plain notices of the 踏み台 facts features (account locked by the detector, block-list changes), bilingual,
sent over SMTP to ``cfg.smtp_relay`` like guard/notices.py. Sending never raises; False when not sent."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailposture.guard.notices import parse_relay, single_recipient

log = logging.getLogger(__name__)


def send_text(cfg, to: list[str], subject: str, body: str, timeout: float = 10.0) -> bool:
    try:
        rcpts = [single_recipient(a) for a in to if a]
        if not rcpts:
            return False
        msg = EmailMessage()
        msg["From"] = cfg.notice_from
        msg["To"] = ", ".join(rcpts)
        msg["Subject"] = subject
        from datetime import UTC, datetime
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=cfg.notice_from.rpartition("@")[2] or "localhost")
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5
        msg.set_content(body, charset="utf-8")
        host, port = parse_relay(cfg.smtp_relay)
        with smtplib.SMTP(host, port, timeout=timeout, local_hostname="localhost") as smtp:
            smtp.send_message(msg, to_addrs=rcpts)
        return True
    except (TimeoutError, smtplib.SMTPException, OSError, ValueError) as exc:
        log.warning("notice %r not sent via %s: %s: %s", subject[:40], getattr(cfg, "smtp_relay", "?"),
                    type(exc).__name__, exc)
        return False


def lock_notice(user: str, reasons: list[dict[str, str]], reasons_ja: list[dict[str, str]], when: str,
                lang: str = "ja") -> tuple[str, str]:
    subject = ("【重要】不正利用の疑いのためメール送信を停止しました / Sending from your account has been locked "
               "(suspected compromise)")
    ja = "\n".join([f"{user} 様", "", "このアカウントに不正利用の兆候を検知したため、メール送信を停止しました。",
                    f"検知日時: {when}", "理由:"] + [f"  - {r['code']}: {r['detail']}" for r in reasons_ja]
                   + ["", "パスワードを変更のうえ、サポート窓口へご連絡ください。解除は管理者が行います。"])
    en = "\n".join([f"Dear {user},", "", "We saw signs that this account is being misused and locked sending "
                    "from it.", f"Detected at: {when}", "Reasons:"] + [f"  - {r['code']}: {r['detail']}"
                                                                       for r in reasons]
                   + ["", "Please change your password and contact support; the administrator will unlock it."])
    sep = "\n\n" + "-" * 60 + "\n\n"
    return subject, (ja + sep + en if lang != "en" else en + sep + ja) + "\n"


def dnsbl_notice(changes: list[dict], lang: str = "ja") -> tuple[str, str]:
    listed = [c for c in changes if c["to"] == "listed"]
    subject = (f"【DNSBL】送信 IP の掲載状況が変わりました ({len(listed)} 件掲載) / Block-list status of outbound "
               f"addresses changed ({len(listed)} listed)")
    ja = ["送信 IP アドレスのブロックリスト掲載状況が変わりました。", ""]
    en = ["The block-list status of your outbound addresses changed.", ""]
    for c in changes:
        if c["to"] == "listed":
            ja.append(f"  掲載: {c['ip']} — {c['list']} ({' '.join(c.get('codes') or [])}) {c.get('reason') or ''}")
            en.append(f"  LISTED: {c['ip']} on {c['list']} ({' '.join(c.get('codes') or [])}) {c.get('reason') or ''}")
        else:
            ja.append(f"  掲載解除: {c['ip']} — {c['list']}")
            en.append(f"  delisted: {c['ip']} from {c['list']}")
    sep = "\n\n" + "-" * 60 + "\n\n"
    body = "\n".join(ja) + sep + "\n".join(en) if lang != "en" else "\n".join(en) + sep + "\n".join(ja)
    return subject, body + "\n"
