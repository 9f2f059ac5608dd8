"""Stable reason codes of the compromised-account detector (``guard analyze`` and ``guard watch``).

A code never changes meaning once published. ``detail`` templates are ``str.format`` strings filled from the
signal's parameters; both languages carry the same placeholders (tests check it).
"""

from __future__ import annotations

from typing import Any

# code: (weight kind, ja title, en title, ja detail, en detail)
REASONS: dict[str, tuple[str, str, str, str, str]] = {
    "GD_NEW_COUNTRY": (
        "access", "初めての国からの利用", "Use from a new country",
        "これまで利用のなかった国 {country} から認証に成功",
        "authenticated from {country}, a country this account had not used before"),
    "GD_MULTI_COUNTRY": (
        "access", "短時間に複数の国", "Several countries in a short window",
        "{hours} 時間以内に {n} か国から認証に成功 ({countries})",
        "authenticated from {n} countries within {hours} h ({countries})"),
    "GD_IMPOSSIBLE_TRAVEL": (
        "access", "移動不可能な速度", "Impossible travel",
        "{from_cc} から {to_cc} へ {km} km を {minutes} 分で移動 (時速 {kmh} km)",
        "{from_cc} to {to_cc}: {km} km in {minutes} min ({kmh} km/h)"),
    "GD_MANY_IPS": (
        "access", "多数の IP アドレス", "Many distinct IP addresses",
        "24 時間に {nets} 個のネットワークの {n} 個の IP アドレスから認証 (普段は 1 日最大 {baseline} ネットワーク)",
        "authenticated from {n} IP addresses in {nets} networks in 24 h (usually at most {baseline} networks a day)"),
    "GD_GUESS_THEN_SUCCESS": (
        "access", "パスワード推測の後に成功", "Password guessing followed by a success",
        "{days} 日間に {ips} 個の IP から {failures} 回の認証失敗の後、新しいネットワーク {ip} から成功",
        "{failures} failures from {ips} IP addresses over {days} days, then a success from a new network {ip}"),
    "GD_BURST": (
        "volume", "送信の急増", "Submission burst",
        "1 時間に {n} 通を送信 (普段は 1 時間最大 {baseline} 通)",
        "{n} messages in one hour (usually at most {baseline} an hour)"),
    "GD_FANOUT": (
        "volume", "宛先数の急増", "Recipient fan-out",
        "1 日に {n} 件の宛先へ送信 (普段は 1 日最大 {baseline} 件)",
        "{n} recipients in one day (usually at most {baseline} a day)"),
}


def reason_text(code: str, params: dict[str, Any], lang: str = "en") -> str:
    _kind, _ja_t, _en_t, ja_d, en_d = REASONS[code]
    tmpl = ja_d if lang == "ja" else en_d
    return tmpl.format_map({k: ("-" if v is None else v) for k, v in params.items()})


def reason_title(code: str, lang: str = "en") -> str:
    r = REASONS[code]
    return r[1] if lang == "ja" else r[2]
