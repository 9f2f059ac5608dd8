"""The ``[detect]``, ``[watch]`` and ``[dnsbl]`` tables of guard.toml (the main loader skips them; they are
validated here, with errors naming the file and the key)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mailposture.guard.config import ConfigError
from mailposture.guard.detect import Thresholds, thresholds_from_dict


@dataclass
class WatchConfig:
    dry_run: bool = False
    poll_interval: float = 1.0  # seconds between looks at the followed files
    state_file: str = "./mailposture-data/watch-state.json"
    admin_address: str | None = None  # gets a copy of every lock notice
    unlock_grace_hours: float = 72.0  # an admin unlock is never undone by the detector within this time
    lock_by: str = "detector"


@dataclass
class DnsblConfig:
    lists: list[str] = field(default_factory=list)  # empty: the built-in defaults (guard/dnsbl.py)
    ips: list[str] = field(default_factory=list)  # the operator's outbound addresses/CIDRs for `dnsbl watch`
    interval: float = 900.0
    nameservers: list[str] = field(default_factory=list)
    notify: str | None = None  # address mailed on listed/delisted


def _raw(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    if isinstance(data.get("guard"), dict):
        data = {**data, **{k: v for k, v in data["guard"].items() if isinstance(v, dict)}}
    return data


def _table(cls, data: dict[str, Any], src: str):
    obj = cls()
    known = {f.name for f in fields(cls)}
    for k, v in data.items():
        if k not in known:
            raise ConfigError(f"{src}: unknown key '{k}' (known: {', '.join(sorted(known))})")
        default = getattr(obj, k)
        if isinstance(default, bool):
            ok = isinstance(v, bool)
        elif isinstance(default, float):
            ok = isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
            v = float(v) if ok else v
        elif isinstance(default, list):
            ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
        else:
            ok = isinstance(v, str)
        if not ok:
            raise ConfigError(f"{src}: key '{k}' has a bad value {v!r}")
        setattr(obj, k, v)
    return obj


def load_sections(path: str | None) -> tuple[Thresholds, WatchConfig, DnsblConfig]:
    data = _raw(path)
    src = path or "config"
    for name in ("detect", "watch", "dnsbl"):
        if name in data and not isinstance(data[name], dict):
            raise ConfigError(f"{src}: '{name}' must be a table ([{name}])")
    try:
        th = thresholds_from_dict(data.get("detect", {}), f"{src} [detect]")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return (th, _table(WatchConfig, data.get("watch", {}), f"{src} [watch]"),
            _table(DnsblConfig, data.get("dnsbl", {}), f"{src} [dnsbl]"))
