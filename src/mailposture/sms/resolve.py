"""``--resolve``: follow shortened links to where they lead, and look the landing host up in the DNS.

Only the shortener itself is contacted (HTTP HEAD, then GET without reading the body when HEAD is refused), hop by
hop up to :data:`MAX_HOPS`; the first redirect target that is not a shortener is the landing page and is never
fetched (no contact with the phishing site). The landing host's A records come from the project's DNS engine,
so an unknown answer (timeout, SERVFAIL) stays apart from NXDOMAIN. Pages that redirect by HTML or script are
not followed (limit, see docs/sms.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

from mailposture.sms.brands import is_shortener
from mailposture.sms.verdict import Landing

MAX_HOPS = 5
REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "mailposture-sms-resolve/1 (+https://github.com/; abuse analysis, follows redirects only)"


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


async def _follow(client, url: str, via: str | None, sem: asyncio.Semaphore) -> Landing:
    import httpx

    land = Landing(url)
    cur = url
    async with sem:
        for _ in range(MAX_HOPS):
            parts = urlsplit(cur)
            target = cur
            headers = {"User-Agent": USER_AGENT}
            if via:  # send to a fixed address (tests, sandboxes), keeping the Host header
                target = urlunsplit(("http", via, parts.path or "/", parts.query, ""))
                headers["Host"] = parts.netloc
            try:
                resp = await client.head(target, headers=headers)
                if resp.status_code not in REDIRECTS:
                    async with client.stream("GET", target, headers=headers) as r2:
                        resp = r2
            except (httpx.HTTPError, ValueError, OSError) as e:
                land.error = f"{type(e).__name__}: {e}".rstrip(": ")
                return land
            loc = resp.headers.get("location")
            if resp.status_code not in REDIRECTS or not loc:
                land.error = f"HTTP {resp.status_code} without a redirect"
                return land
            nxt = urljoin(cur, loc)
            host = _host(nxt)
            if not host:
                land.error = f"redirect to an unusable location {loc!r}"
                return land
            if not is_shortener(host):
                land.final_url, land.host = nxt, host
                return land
            cur = nxt
    land.error = f"more than {MAX_HOPS} shortener hops"
    return land


async def _dns(engine, lands: list[Landing]) -> None:
    hosts = sorted({x.host for x in lands if x.host})
    answers = await asyncio.gather(*(engine.query(h, "A") for h in hosts))
    by_host = dict(zip(hosts, answers, strict=True))
    for x in lands:
        if not x.host:
            continue
        a = by_host[x.host]
        x.dns_status = a.status
        x.dns_error = a.error
        x.addresses = tuple(str(r) for r in a.records) if a.ok else ()


async def resolve_urls(urls: Iterable[str], *, dns_options=None, via: str | None = None, http_timeout: float = 5.0,
                       concurrency: int = 20) -> dict[str, Landing]:
    """Follow each shortened URL; look up the landing hosts. ``dns_options``: a :class:`DnsOptions`."""
    import httpx

    from mailposture.cliopts import DnsOptions

    todo = list(dict.fromkeys(urls))
    if not todo:
        return {}
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(follow_redirects=False, timeout=http_timeout, trust_env=False) as client:
        lands = await asyncio.gather(*(_follow(client, u, via, sem) for u in todo))
    async with (dns_options or DnsOptions()).engine() as engine:
        await _dns(engine, list(lands))
    return dict(zip(todo, lands, strict=True))
