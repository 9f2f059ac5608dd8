"""Who to tell: the registrar and its abuse contact (RDAP, RFC 9082/9083, WHOIS fallback), plus the hosting.

* RDAP base URLs come from the IANA bootstrap (RFC 9224), bundled with its publication date
  (``data/rdap/dns.json``; ``--refresh-bootstrap`` downloads the current one into the cache folder, only when
  asked). The registrar is the entity with role ``registrar``; its abuse contact is the entity with role
  ``abuse`` nested inside it, as the ICANN RDAP response profile (§2.4.5) requires — some servers put it at the
  top level or spell roles in capitals, which are read too.
* WHOIS (RFC 3912, TCP 43) where a TLD has no RDAP: ``.jp`` asks JPRS (English output, ``/e``); any other TLD
  asks whois.iana.org for its ``refer:`` server first.
* Hosting: the domain's address → its ASN from the DNS (``origin.asn.cymru.com`` TXT, through the project's
  resolver) and the network's abuse contact from the RIRs' RDAP (the ARIN server redirects to the right RIR).

Politeness: one request per host per ``min_interval`` seconds; answers are cached in memory and, with a cache
folder, on disk for a day.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BOOTSTRAP_URL = "https://data.iana.org/rdap/dns.json"
IP_RDAP = "https://rdap.arin.net/registry/"
WHOIS_SERVERS = {"jp": "whois.jprs.jp"}
CACHE_TTL = 86400


class AbuseLookupError(RuntimeError):
    pass


def load_bootstrap(path: str | Path | None = None) -> dict[str, Any]:
    """The bootstrap document: the given file, else the cached refresh, else the bundled copy."""
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return json.loads(resources.files("mailposture.data").joinpath("rdap/dns.json").read_text(encoding="utf-8"))


def bootstrap_map(doc: dict[str, Any]) -> dict[str, str]:
    """TLD → RDAP base URL (RFC 9224 §4: HTTPS preferred, base URLs end with '/')."""
    out: dict[str, str] = {}
    for entry in doc.get("services", []):
        if not (isinstance(entry, list) and len(entry) == 2):
            continue
        tlds, urls = entry
        urls = sorted((str(u) for u in urls), key=lambda u: not u.startswith("https:"))
        if not urls:
            continue
        base = urls[0] if urls[0].endswith("/") else urls[0] + "/"
        for tld in tlds:
            out[str(tld).lower().rstrip(".")] = base
    return out


def _vcard(entity: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    arr = entity.get("vcardArray")
    if not (isinstance(arr, list) and len(arr) == 2 and isinstance(arr[1], list)):
        return out
    for prop in arr[1]:
        if isinstance(prop, list) and len(prop) >= 4:
            val = prop[3]
            if isinstance(val, list):
                val = " ".join(str(v) for v in val if v)
            out.setdefault(str(prop[0]).lower(), []).append(str(val))
    return out


def _roles(entity: dict[str, Any]) -> set[str]:
    return {str(r).lower() for r in entity.get("roles", []) if isinstance(r, str)}


def _contact(entity: dict[str, Any]) -> dict[str, Any]:
    v = _vcard(entity)
    emails = [e.removeprefix("mailto:") for e in v.get("email", [])]
    phones = [t.removeprefix("tel:") for t in v.get("tel", [])]
    return {"name": (v.get("fn") or [None])[0], "email": emails[0] if emails else None, "emails": emails,
            "phone": phones[0] if phones else None, "handle": entity.get("handle")}


def parse_domain(doc: dict[str, Any]) -> dict[str, Any]:
    """Registrar, IANA id, abuse contact, dates and status from an RDAP domain object (RFC 9083 §5.3)."""
    registrar: dict[str, Any] | None = None
    abuse: dict[str, Any] | None = None
    entities = [e for e in doc.get("entities", []) if isinstance(e, dict)]
    for ent in entities:
        if "registrar" in _roles(ent):
            c = _contact(ent)
            iana = next((str(p.get("identifier")) for p in ent.get("publicIds", [])
                         if isinstance(p, dict) and "iana" in str(p.get("type", "")).lower()), None)
            registrar = {"name": c["name"] or ent.get("handle"), "iana_id": iana, "handle": ent.get("handle")}
            for sub in ent.get("entities", []):
                if isinstance(sub, dict) and "abuse" in _roles(sub):
                    abuse = _contact(sub)
    if abuse is None:   # a variant: the abuse entity at the top level
        for ent in entities:
            if "abuse" in _roles(ent):
                abuse = _contact(ent)
    events = {str(e.get("eventAction", "")).lower(): e.get("eventDate") for e in doc.get("events", [])
              if isinstance(e, dict)}
    return {
        "domain": str(doc.get("ldhName", "")).lower() or None,
        "registrar": registrar,
        "abuse": abuse,
        "registered": events.get("registration"),
        "expires": events.get("expiration"),
        "last_changed": events.get("last changed"),
        "status": [str(s) for s in doc.get("status", [])],
        "nameservers": sorted(str(n.get("ldhName", "")).lower() for n in doc.get("nameservers", [])
                              if isinstance(n, dict) and n.get("ldhName")),
    }


_WHOIS_KEYS = {
    "registrar": ("registrar", "sponsoring registrar", "指定事業者", "registrar name"),
    "iana_id": ("registrar iana id",),
    "abuse_email": ("registrar abuse contact email", "abuse contact email"),
    "abuse_phone": ("registrar abuse contact phone",),
    "registered": ("creation date", "created on", "registered", "登録年月日", "created"),
    "expires": ("registry expiry date", "expires on", "expiration date", "有効期限", "paid-till"),
    "status": ("domain status", "status", "状態"),
    "refer": ("refer", "whois"),
}


def parse_whois(text: str) -> dict[str, Any]:
    """Key/value WHOIS text: ``Key: value`` lines and JPRS's ``[Key]   value`` lines (first value kept)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^(?:[a-z]\.\s*)?\[([^\]]+)\]\s*(.*)$", line) or re.match(r"^([^:]{2,40}):\s*(.*)$", line)
        if not m or not m.group(2).strip():
            continue
        key, val = m.group(1).strip().lower(), m.group(2).strip()
        for field_name, keys in _WHOIS_KEYS.items():
            if key in keys and field_name not in found:
                found[field_name] = val
    registrar = {"name": found["registrar"], "iana_id": found.get("iana_id"), "handle": None} \
        if "registrar" in found else None
    abuse = ({"name": None, "email": found.get("abuse_email"), "emails": [found["abuse_email"]]
              if "abuse_email" in found else [], "phone": found.get("abuse_phone"), "handle": None}
             if ("abuse_email" in found or "abuse_phone" in found) else None)
    return {"registrar": registrar, "abuse": abuse, "registered": found.get("registered"),
            "expires": found.get("expires"), "status": [found["status"]] if "status" in found else [],
            "refer": found.get("refer")}


@dataclass
class AbuseClient:
    """RDAP and WHOIS with per-host politeness and a cache. ``whois_servers`` maps a TLD (or ``iana``) to
    ``host`` or ``host:port`` (tests point them at local servers)."""

    bootstrap: dict[str, str]
    ip_rdap: str = IP_RDAP
    whois_servers: dict[str, str] = field(default_factory=lambda: dict(WHOIS_SERVERS))
    min_interval: float = 1.0
    timeout: float = 10.0
    cache_dir: Path | None = None
    verify: bool | str = True
    _last: dict[str, float] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)

    async def _polite(self, host: str) -> None:
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            wait = self._last.get(host, 0.0) + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last[host] = time.monotonic()

    def _cache_get(self, key: str) -> Any:
        if key in self._memo:
            return self._memo[key]
        if self.cache_dir is None:
            return None
        path = self.cache_dir / (hashlib.sha256(key.encode()).hexdigest() + ".json")
        try:
            if time.time() - path.stat().st_mtime < CACHE_TTL:
                return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return None

    def _cache_put(self, key: str, value: Any) -> None:
        self._memo[key] = value
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            path = self.cache_dir / (hashlib.sha256(key.encode()).hexdigest() + ".json")
            path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")

    async def get_json(self, url: str) -> dict[str, Any]:
        import httpx

        cached = self._cache_get(url)
        if cached is not None:
            return cached
        await self._polite(urlsplit(url).netloc)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=True, verify=self.verify,
                                         headers={"Accept": "application/rdap+json"}) as client:
                resp = await client.get(url)
        except httpx.HTTPError as exc:
            raise AbuseLookupError(f"{url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code == 404:
            raise AbuseLookupError(f"{url}: not found (404)")
        if resp.status_code == 429:
            raise AbuseLookupError(f"{url}: rate limited by the server (429); try again later")
        if resp.status_code >= 400:
            raise AbuseLookupError(f"{url}: HTTP {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError:
            raise AbuseLookupError(f"{url}: the answer is not JSON") from None
        self._cache_put(url, doc)
        return doc

    async def whois(self, server: str, query: str) -> str:
        key = f"whois:{server}:{query}"
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        host, _, port = server.partition(":")
        await self._polite(server)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port or 43)), self.timeout)
            writer.write(query.encode("utf-8") + b"\r\n")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(1 << 20), self.timeout)
            writer.close()
        except (OSError, TimeoutError) as exc:
            raise AbuseLookupError(f"WHOIS {server}: {type(exc).__name__}: {exc}") from None
        text = data.decode("utf-8", "replace")
        self._cache_put(key, text)
        return text

    async def domain(self, domain: str) -> dict[str, Any]:
        """Registration data of a registrable domain: RDAP where the bootstrap lists the TLD, else WHOIS."""
        tld = domain.rsplit(".", 1)[-1].lower()
        base = self.bootstrap.get(tld)
        if base:
            out = parse_domain(await self.get_json(f"{base}domain/{domain}"))
            out.update(domain=domain, source="rdap", server=base)
            return out
        server = self.whois_servers.get(tld)
        if server is None:
            refer = parse_whois(await self.whois(self.whois_servers.get("iana", "whois.iana.org"), tld)).get("refer")
            if not refer:
                raise AbuseLookupError(f"no RDAP or WHOIS server is known for .{tld}")
            server = refer
        query = f"{domain}/e" if tld == "jp" else domain
        out = parse_whois(await self.whois(server, query))
        out.pop("refer", None)
        out.update(domain=domain, source="whois", server=server)
        return out

    async def ip_network(self, ip: str) -> dict[str, Any]:
        """The network holding ``ip`` and its abuse contact, from the RIRs' RDAP (RFC 9083 §5.4)."""
        ipaddress.ip_address(ip)
        doc = await self.get_json(f"{self.ip_rdap}ip/{ip}")
        abuse = None
        for ent in doc.get("entities", []):
            if not isinstance(ent, dict):
                continue
            if "abuse" in _roles(ent):
                abuse = _contact(ent)
            for sub in ent.get("entities", []):
                if isinstance(sub, dict) and "abuse" in _roles(sub) and abuse is None:
                    abuse = _contact(sub)
        return {"ip": ip, "network": doc.get("handle"), "name": doc.get("name"), "country": doc.get("country"),
                "start": doc.get("startAddress"), "end": doc.get("endAddress"), "abuse": abuse}


async def asn_of(ip: str, resolver: Any) -> dict[str, Any] | None:
    """``ASN | prefix | CC | registry | date`` from origin(6).asn.cymru.com TXT, through the project's DNS."""
    addr = ipaddress.ip_address(ip)
    if addr.version == 4:
        name = ".".join(reversed(str(addr).split("."))) + ".origin.asn.cymru.com"
    else:
        name = ".".join(reversed(addr.exploded.replace(":", ""))) + ".origin6.asn.cymru.com"
    ans = await resolver.query(name, "TXT")
    if not ans.ok:
        return None
    parts = [p.strip() for p in ans.txt_strings()[0].split("|")]
    if len(parts) < 3:
        return None
    return {"asn": parts[0].split()[0], "prefix": parts[1], "country": parts[2]}
