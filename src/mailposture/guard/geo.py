"""IP-to-country sources: ``iptocc`` (RIR data inside the wheel, default) or an operator's ``.mmdb`` file.

``lookup(ip)`` returns an upper-case ISO 3166-1 alpha-2 code or ``None`` (unknown). Callers pass only global
addresses (decide.py never geolocates private or documentation ranges).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from importlib import metadata as md
from pathlib import Path
from sys import intern  # country codes repeat in every account's state: one string each
from typing import Any, Protocol

log = logging.getLogger("mailposture.guard.geo")


class GeoError(RuntimeError):
    """The geo source cannot be opened (missing or unreadable .mmdb file)."""


class GeoSource(Protocol):
    def lookup(self, ip: str) -> str | None: ...
    def describe(self) -> dict[str, Any]: ...
    def maybe_reload(self) -> bool: ...


class IptoccGeo:
    """RIR delegation data compiled into the iptocc wheel; the data date is the wheel's build time."""

    def __init__(self) -> None:
        try:
            from iptocc import country_code
        except ImportError as e:  # pragma: no cover - iptocc is a dependency
            raise GeoError(f"iptocc is not installed: {e}") from None
        self._cc = country_code

    def lookup(self, ip: str) -> str | None:
        try:
            cc = self._cc(ip)
        except Exception:
            return None
        return intern(cc.upper()) if cc else None

    def maybe_reload(self) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        version = _dist_version("iptocc")
        return {"source": "iptocc", "kind": "RIR delegation data (offline, inside the wheel)",
                "version": version, "data_date": _iptocc_data_date(), "path": None}


def _dist_version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def _iptocc_data_date() -> str | None:
    """The wheel's SBOM timestamp (its build, when the RIR data was embedded); else the install time."""
    try:
        dist = md.distribution("iptocc")
        for f in dist.files or []:
            if str(f).endswith(".cyclonedx.json"):
                doc = json.loads(Path(str(dist.locate_file(f))).read_text("utf-8"))
                ts = doc.get("metadata", {}).get("timestamp")
                if ts:
                    return str(ts)[:10]
        for f in dist.files or []:
            if str(f).endswith((".so", ".pyd")):
                mtime = os.stat(str(dist.locate_file(f))).st_mtime
                return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%d")
    except Exception:
        return None
    return None


class MmdbGeo:
    """A MaxMind GeoIP2/GeoLite2 or DB-IP country/city ``.mmdb`` file, reopened when the file changes.

    The file is memory-mapped: replace it atomically (write a new file, then rename, as geoipupdate does);
    overwriting it in place would change the data under the open reader."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._reader: Any = None
        self._stamp: tuple[float, int] | None = None
        self._open()

    def _open(self) -> None:
        try:
            import maxminddb
        except ImportError as e:  # pragma: no cover - maxminddb is a dependency
            raise GeoError(f"maxminddb is not installed: {e}") from None
        try:
            st = os.stat(self.path)
            reader = maxminddb.open_database(self.path)
        except FileNotFoundError:
            raise GeoError(f"geo database not found: {self.path}") from None
        except OSError as e:
            raise GeoError(f"cannot read geo database {self.path}: {e.strerror or e}") from None
        except Exception as e:  # InvalidDatabaseError and friends
            raise GeoError(f"not a valid .mmdb file: {self.path}: {e}") from None
        old, self._reader, self._stamp = self._reader, reader, (st.st_mtime, st.st_size)
        if old is not None:
            try:
                old.close()
            except Exception:
                pass

    def maybe_reload(self) -> bool:
        """Reopen the file when its mtime or size changed; keep the old data if the new file is bad."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        if (st.st_mtime, st.st_size) == self._stamp:
            return False
        with self._lock:
            try:
                self._open()
            except GeoError as e:
                log.warning("geo reload failed, keeping the previous data: %s", e)
                self._stamp = (st.st_mtime, st.st_size)  # do not retry a bad file on every poll
                return False
        log.info("geo database reloaded: %s", self.path)
        return True

    def lookup(self, ip: str) -> str | None:
        try:
            rec = self._reader.get(ip)
        except Exception:
            return None
        if not isinstance(rec, dict):
            return None
        for key in ("country", "registered_country"):
            c = rec.get(key)
            if isinstance(c, dict) and isinstance(c.get("iso_code"), str):
                return intern(c["iso_code"].upper())
        cc = rec.get("country_code")  # some DB-IP "lite" layouts
        return intern(cc.upper()) if isinstance(cc, str) else None

    def describe(self) -> dict[str, Any]:
        m = self._reader.metadata()
        return {"source": "mmdb", "kind": m.database_type, "version": f"{m.binary_format_major_version}."
                f"{m.binary_format_minor_version}",
                "data_date": datetime.fromtimestamp(m.build_epoch, UTC).strftime("%Y-%m-%d"), "path": self.path}


class StaticGeo:
    """A fixed {ip: country} map (tests, demos); anything else is unknown."""

    def __init__(self, mapping: dict[str, str | None], fallback: GeoSource | None = None) -> None:
        self.mapping = dict(mapping)
        self.fallback = fallback

    def lookup(self, ip: str) -> str | None:
        if ip in self.mapping:
            return self.mapping[ip]
        return self.fallback.lookup(ip) if self.fallback else None

    def maybe_reload(self) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        return {"source": "static", "kind": "fixed map", "version": None, "data_date": None, "path": None}


def open_geo(spec: str) -> GeoSource:
    """``"iptocc"`` or a path to a ``.mmdb`` file."""
    if spec.strip().lower() in ("", "iptocc"):
        return IptoccGeo()
    return MmdbGeo(os.path.expanduser(spec))
