"""Helpers shared by the scan tests, importable by worker processes (``test_scan_support:<name>``).

Kept light on imports: every ``--workers`` test process imports this module to find its factories. No tests here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from mailposture.dns.fake import FakeResolver

WORLD = {
    "good.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all"), ("MX", (10, "mx.good.example"))],
    "mx.good.example": [("A", "192.0.2.25")],
    "_dmarc.good.example": [("TXT", "v=DMARC1; p=reject; rua=mailto:d@good.example")],
    "weak.example": [("TXT", "v=spf1 +all"), ("A", "192.0.2.80")],
    "slow.example": [("TIMEOUT", None)],
}


class NoResolver:
    async def __aenter__(self):
        return None

    async def __aexit__(self, *a):
        return None


def no_resolver(_opts):
    return NoResolver()


def slow_check_factory(resolver, settings):
    """Module level, so that worker processes can import it (test_scan_support:slow_check_factory)."""
    pids = os.environ.get("SCAN_TEST_PIDS")
    if pids:
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")

    async def slow(domain, attrs):
        await asyncio.sleep(float(os.environ.get("SCAN_TEST_DELAY", "0")))
        if domain == "crash.example":
            raise RuntimeError("simulated bug")
        return {"domain": domain, "status": "ok", "attrs": attrs, "dns": {"queries": 1, "errors": []},
                "findings": [], "pid": os.getpid(), "qps": settings.dns.qps,
                "dns_concurrency": settings.dns.concurrency}
    return slow


@contextlib.asynccontextmanager
async def world_resolver(_opts):
    yield FakeResolver(WORLD)


def dying_check_factory(resolver, settings):
    """A worker that checks 'die.example' exits on the spot, as if killed (OOM killer, crash in C code)."""
    inner = slow_check_factory(resolver, settings)

    async def check(domain, attrs):
        if domain == "die.example":
            await asyncio.sleep(0.05)          # let the other checks of this worker be in flight too
            os._exit(3)
        return await inner(domain, attrs)
    return check


RICH_WORLD = {
    **{k: v for k, v in WORLD.items() if k != "slow.example"},
    "_smtp._tls.good.example": [("TXT", "v=TLSRPTv1; rua=mailto:tls@good.example")],
    "sel1._domainkey.good.example": [("TXT", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")],
}


@contextlib.asynccontextmanager
async def rich_world_resolver(_opts):
    """The WORLD plus TLS-RPT and a DKIM key (selector sel1) for good.example: for --checks tests."""
    yield FakeResolver(RICH_WORLD)


def dying_once_check_factory(resolver, settings):
    """The worker process that first checks 'die.example' exits on the spot (as if OOM-killed), writing its pid to
    $SCAN_TEST_MARKER first; later attempts (the retried shard) check it normally."""
    inner = slow_check_factory(resolver, settings)

    async def check(domain, attrs):
        marker = os.environ.get("SCAN_TEST_MARKER")
        if domain == "die.example" and marker:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                await asyncio.sleep(0.05)
                os._exit(3)
        return await inner(domain, attrs)
    return check


def spf_zone(n: int) -> dict:
    """A world of n domains d<i>.example for a loopback LocalDnsServer: SPF, DMARC and MX in several variants."""
    zone: dict = {}
    for i in range(n):
        d = f"d{i}.example"
        recs: list = []
        if i % 5:
            recs.append(("TXT", f"v=spf1 ip4:192.0.2.{i % 250}/32 {'-all' if i % 3 else '~all'}"))
        if i % 4 == 0:
            zone[f"_dmarc.{d}"] = [("TXT", f"v=DMARC1; p={('none', 'quarantine', 'reject')[i % 3]}")]
        if i % 7:
            recs.append(("MX", (10, f"mx.{d}")))
            zone[f"mx.{d}"] = [("A", f"192.0.2.{i % 250}")]
        zone[d] = recs or [("A", "192.0.2.1")]
    return zone


class _BrokenResolver:
    async def __aenter__(self):
        raise RuntimeError("this node has no resolver")

    async def __aexit__(self, *a):
        return None


def broken_resolver(_opts):
    """A resolver factory that fails on every node (a shard task that raises each time it is tried)."""
    return _BrokenResolver()
