"""Guard configuration: one TOML file (``tomllib``), every key optional, clear errors naming the bad key.

Example (all keys at top level, or under a ``[guard]`` table)::

    home_countries = ["JP"]
    internal_networks = ["198.51.100.0/24"]
    unknown_country_action = "refuse"
    store_url = "sqlite:////var/lib/mailposture/guard.db"
    geo = "iptocc"                      # or "/var/lib/GeoIP/GeoLite2-Country.mmdb"
    owner_page_url = "https://mail.example.jp/abroad"
    on_store_error = "fail-closed"
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal


class ConfigError(ValueError):
    """A configuration problem, with a message naming the file and the key."""


DEFAULT_REJECT_EN = "Sending from outside Japan is disabled for this account; allow it for a limited time at {url}"
DEFAULT_REJECT_JA = "海外からの送信は停止中です。{url} で期間を限って許可できます"
DEFAULT_LOCKED_EN = "Sending is locked for this account; please contact the administrator"
DEFAULT_LOCKED_JA = "このアカウントの送信は停止されています。管理者にお問い合わせください"
DEFAULT_TEMPFAIL_EN = "Sending from outside Japan cannot be checked now; try again later"
DEFAULT_TEMPFAIL_JA = "現在海外からの送信を確認できません。しばらくしてから再送してください"


@dataclass
class GuardConfig:
    home_countries: set[str] = field(default_factory=lambda: {"JP"})
    internal_networks: list[str] = field(default_factory=list)  # in addition to non-global ranges
    unknown_country_action: Literal["refuse", "allow"] = "refuse"
    prepend_header: str | None = "X-Submission-Country"  # for allowed foreign submissions; None disables
    store_url: str = "sqlite:///./mailposture-data/guard.db"
    geo: str = "iptocc"  # or a path to a .mmdb file
    reject_text_ja: str = DEFAULT_REJECT_JA
    reject_text_en: str = DEFAULT_REJECT_EN
    locked_text_ja: str = DEFAULT_LOCKED_JA
    locked_text_en: str = DEFAULT_LOCKED_EN
    tempfail_text_ja: str = DEFAULT_TEMPFAIL_JA
    tempfail_text_en: str = DEFAULT_TEMPFAIL_EN
    owner_page_url: str = "https://mail.example.jp/abroad"
    cache_ttl: float = 5.0  # seconds a user's state may be served from memory without a successful store poll
    on_store_error: Literal["fail-open", "fail-closed"] = "fail-closed"
    # policy server
    listen: str = "127.0.0.1:10040"
    poll_interval: float = 0.5  # change_counter poll period (seconds)
    store_timeout: float = 2.0  # seconds one store call may take before it counts as an error
    audit_flush_interval: float = 1.0
    counter_flush_interval: float = 60.0
    request_timeout: float = 10.0  # seconds to finish a request once its first byte arrived (slowloris)
    idle_timeout: float = 600.0  # seconds a connection may sit idle between requests (Postfix: max_idle 300s)
    max_request_bytes: int = 64 * 1024
    max_connections: int = 2000  # also bounded by the descriptor limit (RLIMIT_NOFILE, raised at start)
    log_decisions: Literal["none", "refused", "all"] = "none"  # one log line per decision (the audit has them)
    on_store_replaced: Literal["reopen", "fail"] = "reopen"  # SQLite file deleted/replaced under the server
    # web
    web_secret_file: str = "./mailposture-data/web.key"
    # reverse proxies whose X-Forwarded-For is believed for the client address (login rate limits)
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    cookie_secure: bool = True
    dovecot_auth_socket: str | None = None
    users_file: str | None = None
    admin_users_file: str | None = None
    smtp_relay: str = "127.0.0.1:25"
    notice_from: str = "postmaster@localhost"
    default_days: int = 7
    max_days: int = 30
    # Who may switch on (or extend) sending from abroad on the owner's page (issue 17): "home" = only from a web
    # client address the policy server itself would allow (home country, internal, allow-listed CIDR).
    web_change_from: Literal["home", "anywhere"] = "home"
    # Second factor for that change: "contact" = a confirmation link mailed to the alternate contact registered
    # by the administrator; "totp" = an RFC 6238 code from an authenticator app enrolled from a home address.
    web_second_factor: Literal["none", "contact", "totp"] = "none"

    def reject_text(self) -> str:
        """One-line bilingual refusal (English first: SMTP reply text is meant to be ASCII, RFC 5321 §4.2)."""
        return _one_line(f"{self.reject_text_en} / {self.reject_text_ja}".replace("{url}", self.owner_page_url))

    def locked_text(self) -> str:
        return _one_line(f"{self.locked_text_en} / {self.locked_text_ja}".replace("{url}", self.owner_page_url))

    def tempfail_text(self) -> str:
        return _one_line(f"{self.tempfail_text_en} / {self.tempfail_text_ja}".replace("{url}", self.owner_page_url))


def _one_line(text: str) -> str:
    # A policy response is one line (SMTPD_POLICY_README "Protocol description"): no CR/LF may leak through.
    return " ".join(text.split())


SECTION_TABLES = ("detect", "watch", "dnsbl")
_NULLABLE = {"prepend_header", "dovecot_auth_socket", "users_file", "admin_users_file"}
_CHOICES = {"unknown_country_action": ("refuse", "allow"), "on_store_error": ("fail-open", "fail-closed"),
            "log_decisions": ("none", "refused", "all"), "on_store_replaced": ("reopen", "fail"),
            "web_change_from": ("home", "anywhere"), "web_second_factor": ("none", "contact", "totp")}
_POSITIVE = {"cache_ttl", "poll_interval", "store_timeout", "audit_flush_interval", "counter_flush_interval",
             "request_timeout", "idle_timeout", "max_request_bytes", "max_connections", "default_days", "max_days"}


def _err(src: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{src}: key '{key}': {msg}")


def config_from_dict(data: dict[str, Any], src: str = "config") -> GuardConfig:
    """Build a validated config from a plain dict (TOML-like types); unknown keys are errors."""
    if isinstance(data.get("guard"), dict):
        data = {**{k: v for k, v in data.items() if k != "guard"}, **data["guard"]}
    # tables read by other modules (guard/sections.py: detection thresholds, watch, DNSBL monitor)
    data = {k: v for k, v in data.items() if not (k in SECTION_TABLES and isinstance(v, dict))}
    known = {f.name: f for f in fields(GuardConfig)}
    cfg = GuardConfig()
    for key, value in data.items():
        if key not in known:
            raise _err(src, key, f"unknown key (known: {', '.join(sorted(known))})")
        default = getattr(cfg, key)
        if value is None or (key in _NULLABLE and value in ("", False)):
            if key not in _NULLABLE:
                raise _err(src, key, "may not be empty")
            setattr(cfg, key, None)
            continue
        if key == "home_countries":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and len(v) == 2 and v.isalpha()
                                                      for v in value):
                raise _err(src, key, "must be a list of two-letter country codes, e.g. [\"JP\"]")
            setattr(cfg, key, {v.upper() for v in value})
        elif key in ("internal_networks", "trusted_proxies"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _err(src, key, "must be a list of CIDR strings")
            for v in value:
                try:
                    ipaddress.ip_network(v, strict=False)
                except ValueError:
                    raise _err(src, key, f"not a CIDR network: {v!r}") from None
            setattr(cfg, key, list(value))
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise _err(src, key, "must be true or false")
            setattr(cfg, key, value)
        elif isinstance(default, int | float) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _err(src, key, f"must be a number, got {value!r}")
            if isinstance(default, int) and not isinstance(value, int):
                raise _err(src, key, f"must be a whole number, got {value!r}")
            if key in _POSITIVE and value <= 0:
                raise _err(src, key, f"must be positive, got {value!r}")
            setattr(cfg, key, type(default)(value))
        else:
            if not isinstance(value, str):
                raise _err(src, key, f"must be a string, got {value!r}")
            if key in _CHOICES and value not in _CHOICES[key]:
                raise _err(src, key, f"must be one of {', '.join(_CHOICES[key])}, got {value!r}")
            setattr(cfg, key, value)
    if cfg.default_days > cfg.max_days:
        raise _err(src, "default_days", f"{cfg.default_days} exceeds max_days {cfg.max_days}")
    if cfg.prepend_header is not None and not _is_header_name(cfg.prepend_header):
        raise _err(src, "prepend_header", f"not a header field name: {cfg.prepend_header!r}")
    return cfg


def _is_header_name(name: str) -> bool:
    # RFC 5322 §3.6.8: field-name = 1*ftext, printable US-ASCII except ':'.
    return bool(name) and all(33 <= ord(c) <= 126 and c != ":" for c in name)


def load_config(path: str | None) -> GuardConfig:
    """Read a TOML config file; ``None`` gives the defaults. Raises ConfigError with a clear message."""
    if path is None:
        return GuardConfig()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return config_from_dict(data, src=str(path))
