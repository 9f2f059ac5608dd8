"""Notice mails: every change of a mailbox's sending-from-abroad setting is mailed to that mailbox.

The owner learns at once when someone else (a thief with the password, or the administrator) changed it.
Bilingual (the chosen language first), plain text, sent over SMTP to ``cfg.smtp_relay``. Sending never raises:
a failure is logged (relay and error only, never a password or the mail body) and the caller goes on.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

log = logging.getLogger(__name__)

JST = timezone(timedelta(hours=9), "JST")

EVENTS = ("abroad_allowed", "abroad_always", "restricted", "locked", "unlocked")

SUBJECT = "【お知らせ】国外からの送信設定が変更されました / Your sending-from-abroad setting has changed"

_WHAT = {
    "abroad_allowed": ("国外からのメール送信を {until_ja} まで許可しました。",
                       "Sending mail from abroad is now allowed until {until_en}."),
    "abroad_always": ("国外からのメール送信を期限なしで許可しました (管理者による設定)。",
                      "Sending mail from abroad is now allowed with no end date (set by the administrator)."),
    "restricted": ("国外からのメール送信を停止しました。日本国内からの送信のみ受け付けます。",
                   "Sending mail from abroad is now switched off; only mail sent from Japan is accepted."),
    "locked": ("このアカウントからのメール送信を管理者が停止しました。サポート窓口へご連絡ください。",
               "The administrator has locked sending from this account. Please contact support."),
    "unlocked": ("アカウントのロックを解除しました。国外からの送信は停止中です。",
                 "The account is unlocked. Sending from abroad is switched off."),
}


def _fmt(dt: datetime | None, lang: str) -> str:
    if dt is None:
        return "-"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    j = dt.astimezone(JST)
    if lang == "ja":
        return f"{j.year}年{j.month}月{j.day}日 {j:%H:%M} (日本時間 JST)"
    return f"{j:%Y-%m-%d %H:%M} JST ({dt.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def _by(user, lang: str) -> str:
    by = (getattr(user, "updated_by", None) or "").strip()
    admin = not by.startswith(("web:", "owner"))   # the owner's page records "web:<user>"
    if lang == "ja":
        return "管理者" if admin else "ご本人 (設定ページ)"
    return "the administrator" if admin else "you (settings page)"


def notice_text(cfg, user, event: str, lang: str = "ja", now: datetime | None = None) -> tuple[str, str]:
    """(subject, body) of a notice; pure, for tests and previews."""
    if event not in _WHAT:
        raise ValueError(f"unknown notice event {event!r} (known: {', '.join(EVENTS)})")
    now = now or datetime.now(UTC)
    until = getattr(user, "abroad_until", None)
    ja_what, en_what = _WHAT[event]
    ja = "\n".join([
        f"{user.username} 様",
        "",
        ja_what.format(until_ja=_fmt(until, "ja")),
        "",
        f"変更日時: {_fmt(getattr(user, 'updated_at', None) or now, 'ja')}",
        f"変更者: {_by(user, 'ja')}",
        f"設定ページ: {cfg.owner_page_url}",
        "",
        "この変更に心当たりがない場合は、すぐにパスワードを変更し、サポート窓口へご連絡ください。",
    ])
    en = "\n".join([
        f"Dear {user.username},",
        "",
        en_what.format(until_en=_fmt(until, "en")),
        "",
        f"Changed at: {_fmt(getattr(user, 'updated_at', None) or now, 'en')}",
        f"Changed by: {_by(user, 'en')}",
        f"Settings page: {cfg.owner_page_url}",
        "",
        "If you did not make this change, change your password at once and contact support.",
    ])
    sep = "\n\n" + "-" * 60 + "\n\n"
    body = (ja + sep + en if lang != "en" else en + sep + ja) + "\n"
    return SUBJECT, body


def parse_relay(relay: str) -> tuple[str, int]:
    """'host:port', '[v6]:port' or 'host' (port 25)."""
    relay = relay.strip()
    if relay.startswith("["):
        host, _, rest = relay[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"smtp_relay {relay!r} is not [address]:port")
        port = rest[1:] if rest else "25"
    elif relay.count(":") == 1:
        host, port = relay.split(":")
    else:
        host, port = relay, "25"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"smtp_relay {relay!r} is not host:port")
    return host, int(port)


_NOT_IN_ADDRESS = set(' ,;<>()"[]\\\t\r\n\x00')


def single_recipient(username: str) -> str:
    """The user name as the one recipient of its notice, or ValueError: a name that would be read as several
    addresses ("a@x,b@y"), a display name or a group must not mail anybody else (RFC 5322 §3.4)."""
    name = username.strip()
    if (not name or len(name) > 254 or any(c in _NOT_IN_ADDRESS or ord(c) < 32 or ord(c) == 127 for c in name)
            or [a for _, a in getaddresses([name])] != [name]):
        raise ValueError(f"user name {username[:80]!r} is not a single mail address")
    return name


def build_message(cfg, user, event: str, lang: str = "ja", now: datetime | None = None) -> EmailMessage:
    single_recipient(user.username)
    subject, body = notice_text(cfg, user, event, lang, now)
    msg = EmailMessage()
    msg["From"] = cfg.notice_from
    msg["To"] = user.username
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=cfg.notice_from.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"   # RFC 3834 §5
    msg.set_content(body, charset="utf-8")
    return msg


def send_notice(cfg, user, event: str, lang: str = "ja", *, timeout: float = 10.0) -> bool:
    """Mail a notice about `event` to `user.username`; True when the relay accepted it. Never raises."""
    try:
        msg = build_message(cfg, user, event, lang)
        host, port = parse_relay(cfg.smtp_relay)
        with smtplib.SMTP(host, port, timeout=timeout, local_hostname="localhost") as smtp:
            smtp.send_message(msg, to_addrs=[single_recipient(user.username)])
        return True
    except (TimeoutError, smtplib.SMTPException, OSError, ValueError) as exc:
        log.warning("notice %s for %r not sent via %s: %s: %s", event, getattr(user, "username", "?"),
                    getattr(cfg, "smtp_relay", "?"), type(exc).__name__, exc)
    except Exception as exc:   # a notice must never break the caller
        log.warning("notice %s not sent: %s", event, type(exc).__name__)
    return False
