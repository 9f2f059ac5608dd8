"""`domains hunt`: observations in, one verdict per registrable domain out (see :mod:`.verdict`).

Reading and grouping are synchronous and streaming; the DNS proof runs only for domains whose labels rotate
(or for all with ``probe_all``), concurrently through the given resolver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from mailposture.dns.types import Resolver
from mailposture.domains.aggregate import Aggregator, DomainStats
from mailposture.domains.observe import Observation
from mailposture.domains.proof import prove
from mailposture.domains.verdict import Thresholds, allowlist, judge, random_flags, rotation


def aggregate(observations: Iterable[Observation], **caps: int) -> Aggregator:
    agg = Aggregator(**caps)
    agg.add_all(observations)
    return agg


async def verdicts(agg: Aggregator, resolver: Resolver | None, *, th: Thresholds | None = None, lang: str = "en",
                   probe_all: bool = False, concurrency: int = 20) -> AsyncIterator[dict]:
    """Verdicts in order of decreasing observations (then name); DNS proof where labels rotate."""
    th = th or Thresholds()
    gate = asyncio.Semaphore(concurrency)
    allowed = allowlist()

    async def one(stats: DomainStats, flags: dict[str, bool]) -> dict:
        rot = rotation(stats, th, flags)
        proof = None
        if resolver is not None and stats.domain not in allowed and rot.parent and (rot.probe or probe_all):
            async with gate:
                parent_stats = stats.parents[rot.parent]
                seen = [f"{lab}.{rot.parent}" for lab in list(parent_stats.labels)[:3]]
                proof = await prove(stats.domain, rot.parent, seen, stats.ips, resolver)
        return judge(stats, rot, proof, th, lang)

    order = sorted(agg.domains.values(), key=lambda d: (-d.observations, d.domain))
    batch = max(concurrency * 4, 64)
    for i in range(0, len(order), batch):
        group = order[i:i + batch]
        flags = random_flags(group)
        for res in await asyncio.gather(*(one(d, flags) for d in group)):
            yield res
