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
