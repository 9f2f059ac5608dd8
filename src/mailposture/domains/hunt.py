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
from mailposture.domains.verdict import Rotation, Thresholds, allowlist, judge, random_flags, rotation


def aggregate(observations: Iterable[Observation], **caps: int) -> Aggregator:
    agg = Aggregator(**caps)
    agg.add_all(observations)
    return agg


async def verdicts(agg: Aggregator, resolver: Resolver | None, *, th: Thresholds | None = None, lang: str = "en",
                   probe_all: bool = False, concurrency: int = 20, score_batch: int = 4096) -> AsyncIterator[dict]:
    """Verdicts in order of decreasing observations (then name); DNS proof where labels rotate. The labels are
    scored ahead in batches of about ``score_batch`` (the model costs little per label in a large batch, much per
    call); a domain that needs no DNS is judged at once, without a task."""
    th = th or Thresholds()
    gate = asyncio.Semaphore(concurrency)
    allowed = allowlist()

    async def one(stats: DomainStats, rot: Rotation) -> dict:
        async with gate:
            parent_stats = stats.parents[rot.parent or ""]
            seen = [f"{lab}.{rot.parent}" for lab in list(parent_stats.labels)[:3]]
            proof = await prove(stats.domain, rot.parent or "", seen, stats.ips, resolver)  # type: ignore[arg-type]
        return judge(stats, rot, proof, th, lang)

    order = sorted(agg.domains.values(), key=lambda d: (-d.observations, d.domain))
    batch = max(concurrency * 4, 64)
    flags: dict[str, bool] = {}
    scored = 0                                   # order[:scored] have their labels scored
    for i in range(0, len(order), batch):
        group = order[i:i + batch]
        if scored == i:                          # score whole groups ahead, about score_batch labels
            labels = 0
            while scored < len(order) and labels < score_batch:
                for d in order[scored:scored + batch]:
                    labels += sum(len(p.labels) for p in d.parents.values())    # at most this many
                scored += batch
            flags = random_flags(order[i:scored], batch=2 * score_batch)     # one call for the block
        done: list[dict | None] = []
        waits = []
        for d in group:
            rot = rotation(d, th, flags)
            if resolver is not None and d.domain not in allowed and rot.parent and (rot.probe or probe_all):
                waits.append(one(d, rot))
                done.append(None)
            else:
                done.append(judge(d, rot, None, th, lang))
        proved = iter(await asyncio.gather(*waits)) if waits else iter(())
        for res in done:
            yield res if res is not None else next(proved)
