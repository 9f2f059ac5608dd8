"""How check_domain runs its sections side by side: crashes contained wherever they happen, cancellation
reaching every section, and the sections really running concurrently (their queries overlap)."""

from __future__ import annotations

import asyncio

import pytest

from mailposture.checks.domain import CheckOptions, check_domain
from mailposture.dns.fake import FakeResolver
from mailposture.dns.types import Answer

WORLD = {
    "good.test": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all"), ("MX", (10, "mx.good.test"))],
    "mx.good.test": [("A", "192.0.2.25")],
    "_dmarc.good.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:d@good.test")],
}


class SlowResolver:
    """FakeResolver answers after a pause; records how many queries are waiting at the same time."""

    def __init__(self, delay: float = 0.01) -> None:
        self.inner = FakeResolver(WORLD)
        self.delay = delay
        self.waiting = 0
        self.most_waiting = 0
        self.cancelled = 0
        self.three_waiting: asyncio.Event | None = None  # set once three queries wait together

    async def query(self, name: str, rdtype: str) -> Answer:
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        if self.three_waiting is not None and self.waiting >= 3:
            self.three_waiting.set()
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.waiting -= 1
        return await self.inner.query(name, rdtype)


@pytest.mark.parametrize("broken", ["spf", "dmarc", "mx"])
def test_a_crash_in_any_section_is_contained(monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    import importlib

    mod = importlib.import_module(f"mailposture.checks.{broken}")

    async def boom(*a, **k):
        await asyncio.sleep(0)
        raise RuntimeError(f"bug in {broken}")

    monkeypatch.setattr(mod, "analyze", boom)
    res = asyncio.run(check_domain("good.test", FakeResolver(WORLD)))
    assert res[broken]["status"] == "error" and f"bug in {broken}" in res[broken]["error"]
    others = [s for s in ("spf", "dmarc", "mx") if s != broken]
    assert all(res[s]["status"] == "ok" for s in others), res
    assert res["status"] == "error"


def test_sections_query_concurrently() -> None:
    res = SlowResolver()
    out = asyncio.run(check_domain("good.test", res))
    assert out["status"] == "ok"
    assert res.most_waiting >= 3  # the first query of spf, dmarc and mx are in flight together


def test_single_section_runs_without_a_task() -> None:
    async def main() -> tuple[dict, int]:
        before = len(asyncio.all_tasks())
        seen: list[int] = []

        class Spy(FakeResolver):
            async def query(self, name: str, rdtype: str) -> Answer:
                seen.append(len(asyncio.all_tasks()))
                return await super().query(name, rdtype)

        out = await check_domain("good.test", Spy(WORLD), options=CheckOptions(sections=("mx",)))
        return out, max(seen) - before

    out, extra = asyncio.run(main())
    assert out["mx"]["status"] == "ok" and extra == 0


def test_cancellation_reaches_every_section() -> None:
    res = SlowResolver(delay=5)

    async def main() -> None:
        res.three_waiting = asyncio.Event()
        task = asyncio.ensure_future(check_domain("good.test", res))
        await asyncio.wait_for(res.three_waiting.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(5):  # let the cancelled section tasks run their cancellation
            await asyncio.sleep(0)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())
    assert res.waiting == 0 and res.cancelled >= 3


def test_sequential_sections_same_result_no_task_one_query_at_a_time() -> None:
    """concurrent_sections=False (how scan runs them): the same result, no task, never two queries at once."""

    def strip(out: dict) -> dict:
        out = dict(out)
        out.pop("checked_at")
        out["dns"] = {k: v for k, v in out["dns"].items() if k != "answers"}
        return out

    async def main() -> tuple[dict, dict, int]:
        before = len(asyncio.all_tasks())
        seen: list[int] = []

        class Spy(SlowResolver):
            async def query(self, name: str, rdtype: str) -> Answer:
                seen.append(len(asyncio.all_tasks()))
                return await super().query(name, rdtype)

        slow = Spy(delay=0.001)
        seq = await check_domain("good.test", slow, options=CheckOptions(concurrent_sections=False))
        assert slow.most_waiting == 1
        par = await check_domain("good.test", SlowResolver(delay=0.001))
        return seq, par, max(seen) - before

    seq, par, extra = asyncio.run(main())
    assert extra == 0 and seq["status"] == "ok"
    assert strip(seq) == strip(par)


def test_sequential_sections_cancelled_leave_nothing_unawaited(recwarn: pytest.WarningsRecorder) -> None:
    res = SlowResolver(delay=5)

    async def main() -> None:
        task = asyncio.ensure_future(check_domain("good.test", res, options=CheckOptions(concurrent_sections=False)))
        await asyncio.sleep(0.05)  # the first section's first query is waiting (5 s)
        assert res.waiting == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    import gc

    gc.collect()
    assert res.waiting == 0 and res.cancelled == 1
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
