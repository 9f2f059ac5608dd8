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

EVENTS = ("abroad_allowed", "abroad_always", "restricted", "locked", "unlocked", "change_refused",
          "code_refused")

SUBJECT = "【お知らせ】国外からの送信設定が変更されました / Your sending-from-abroad setting has changed"
SUBJECT_REFUSED = ("【警告】国外からの送信設定の変更を拒否しました / "
                   "A change of your sending-from-abroad setting was refused")
SUBJECT_CONFIRM = "【確認】国外からの送信の許可 / Confirm: allow sending from abroad"

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
    # an attempt on the owner's page that was refused (issue 17): the setting did NOT change
    "change_refused": ("国外からの送信を許可する操作が、国外のアドレス {ip} ({country}) から行われたため拒否しました。"
                       "設定は変更されていません。",
                       "An attempt to allow sending from abroad was refused because it came from an address "
                       "outside Japan, {ip} ({country}). The setting has not changed."),
    "code_refused": ("国外からの送信を許可する操作が、確認コードが正しくないため拒否しました ({ip}, {country})。"
                     "設定は変更されていません。",
                     "An attempt to allow sending from abroad was refused because its confirmation code was "
                     "wrong ({ip}, {country}). The setting has not changed."),
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


def notice_text(cfg, user, event: str, lang: str = "ja", now: datetime | None = None,
                detail: dict[str, str] | None = None) -> tuple[str, str]:
    """(subject, body) of a notice; pure, for tests and previews. ``detail``: ip and country of a refused
    attempt."""
    if event not in _WHAT:
        raise ValueError(f"unknown notice event {event!r} (known: {', '.join(EVENTS)})")
    now = now or datetime.now(UTC)
    until = getattr(user, "abroad_until", None)
    ja_what, en_what = _WHAT[event]
    d = {"ip": "-", "country": "??", **(detail or {})}
    refused = event in ("change_refused", "code_refused")
    ja = "\n".join([
        f"{user.username} 様",
        "",
        ja_what.format(until_ja=_fmt(until, "ja"), **d),
        "",
        *([f"日時: {_fmt(now, 'ja')}"] if refused else [  # nothing changed: the attempt's time, no "by"
            f"変更日時: {_fmt(getattr(user, 'updated_at', None) or now, 'ja')}", f"変更者: {_by(user, 'ja')}"]),
        f"設定ページ: {cfg.owner_page_url}",
        "",
        ("この操作に心当たりがない場合、パスワードが他人に知られています。" if refused else
         "この変更に心当たりがない場合は、") + "すぐにパスワードを変更し、サポート窓口へご連絡ください。",
    ])
    en = "\n".join([
        f"Dear {user.username},",
        "",
        en_what.format(until_en=_fmt(until, "en"), **d),
        "",
        *([f"Time: {_fmt(now, 'en')}"] if refused else [
            f"Changed at: {_fmt(getattr(user, 'updated_at', None) or now, 'en')}", f"Changed by: {_by(user, 'en')}"]),
        f"Settings page: {cfg.owner_page_url}",
        "",
        ("If this was not you, someone else knows your password: " if refused else
         "If you did not make this change, ") + "change your password at once and contact support.",
    ])
    sep = "\n\n" + "-" * 60 + "\n\n"
    body = (ja + sep + en if lang != "en" else en + sep + ja) + "\n"
    return (SUBJECT_REFUSED if refused else SUBJECT), body


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


def build_message(cfg, user, event: str, lang: str = "ja", now: datetime | None = None,
                  detail: dict[str, str] | None = None, to: str | None = None) -> EmailMessage:
    single_recipient(user.username)
    subject, body = notice_text(cfg, user, event, lang, now, detail)
    return _message(cfg, to or user.username, subject, body, now)


def _message(cfg, to: str, subject: str, body: str, now: datetime | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.notice_from
    msg["To"] = single_recipient(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=cfg.notice_from.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"   # RFC 3834 §5
    msg.set_content(body, charset="utf-8")
    return msg


def confirmation_text(cfg, username: str, link: str, days: int, ip: str, country: str | None,
                      lang: str = "ja", minutes: int = 30) -> tuple[str, str]:
    """(subject, body) of the confirmation mail to the alternate contact (second factor "contact")."""
    ja = "\n".join([
        f"{username} の国外からのメール送信を {days} 日間許可する操作がありました "
        f"(アドレス {ip}, 国 {country or '不明'})。",
        "",
        f"ご本人の操作であれば、{minutes} 分以内に次のリンクを開いて確定してください:",
        link,
        "",
        "心当たりがない場合はリンクを開かず、すぐにパスワードを変更し、サポート窓口へご連絡ください。",
    ])
    en = "\n".join([
        f"Someone asked to allow sending mail from abroad for {username} for {days} days "
        f"(address {ip}, country {country or 'unknown'}).",
        "",
        f"If this was you, open this link within {minutes} minutes to confirm:",
        link,
        "",
        "If it was not you, do not open the link; change the password at once and contact support.",
    ])
    sep = "\n\n" + "-" * 60 + "\n\n"
    return SUBJECT_CONFIRM, (ja + sep + en if lang != "en" else en + sep + ja) + "\n"


def _deliver(cfg, msgs: list[EmailMessage], timeout: float) -> None:
    host, port = parse_relay(cfg.smtp_relay)
    with smtplib.SMTP(host, port, timeout=timeout, local_hostname="localhost") as smtp:
        for msg in msgs:
            smtp.send_message(msg, to_addrs=[str(msg["To"])])


def send_confirmation(cfg, username: str, to: str, link: str, days: int, ip: str, country: str | None,
                      lang: str = "ja", *, timeout: float = 10.0) -> bool:
    """Mail the confirmation link to the alternate contact; True when the relay accepted it. Never raises."""
    try:
        subject, body = confirmation_text(cfg, username, link, days, ip, country, lang)
        _deliver(cfg, [_message(cfg, to, subject, body)], timeout)
        return True
    except Exception as exc:
        log.warning("confirmation for %r not sent via %s: %s: %s", username, getattr(cfg, "smtp_relay", "?"),
                    type(exc).__name__, exc)
    return False


def send_notice(cfg, user, event: str, lang: str = "ja", *, timeout: float = 10.0, also: tuple[str, ...] = (),
                detail: dict[str, str] | None = None) -> bool:
    """Mail a notice about `event` to `user.username` and to each address in ``also`` (the alternate contact
    registered by the administrator, which the mailbox password does not open); True when the relay accepted
    them. Never raises."""
    try:
        msgs = [build_message(cfg, user, event, lang, detail=detail)]
        msgs += [build_message(cfg, user, event, lang, detail=detail, to=a) for a in also
                 if a and a.strip().lower() != user.username.strip().lower()]
        _deliver(cfg, msgs, timeout)
        return True
    except (TimeoutError, smtplib.SMTPException, OSError, ValueError) as exc:
        log.warning("notice %s for %r not sent via %s: %s: %s", event, getattr(user, "username", "?"),
                    getattr(cfg, "smtp_relay", "?"), type(exc).__name__, exc)
    except Exception as exc:   # a notice must never break the caller
        log.warning("notice %s not sent: %s", event, type(exc).__name__)
    return False
