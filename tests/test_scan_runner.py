"""The scan pipeline with fake checks: every entry written once, crashes contained, bounded memory, Ctrl-C, resume."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections import Counter

import pytest

from mailposture.scan.inputs import InputCounts, InputError, InputItem, InputReader, InputSpec, select
from mailposture.scan.outputs import OutputSpec, ResultWriter, open_output
from mailposture.scan.progress import NullProgress, RichProgress, make_progress
from mailposture.scan.runner import Scanner


class ListWriter(ResultWriter):
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.batches = 0
        self.notes = []
        self.closed = False

    def write(self, results):
        self.rows.extend(results)
        self.batches += 1

    def close(self):
        self.closed = True


def make_check(calls: list[str] | None = None, *, fail: set[str] = frozenset(), queries: int = 3):
    async def check(domain: str, attrs: dict) -> dict:
        if calls is not None:
            calls.append(domain)
        await asyncio.sleep(0)
        if domain in fail:
            raise RuntimeError(f"boom on {domain}")
        return {"domain": domain, "status": "ok", "attrs": attrs, "dns": {"queries": queries, "errors": []},
                "findings": []}
    return check


def reader_items(path, counts, **kw):
    r = InputReader(InputSpec(str(path))).open()
    return r, select(iter(r), counts, **kw)


async def test_every_entry_written_once_with_invalid_and_duplicates(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text("a.example\nB.example.\na.example\nbad..name\n192.0.2.1\nbücher.example\n")
    counts = InputCounts()
    r, items = reader_items(p, counts)
    w = ListWriter()
    calls: list[str] = []
    s = await Scanner(make_check(calls), w, concurrency=3).run(items, counts)
    r.close()
    by = {row["domain"]: row for row in w.rows}
    assert sorted(by) == ["192.0.2.1", "a.example", "b.example", "bad..name", "xn--bcher-kva.example"]
    assert sorted(calls) == ["a.example", "b.example", "xn--bcher-kva.example"]
    assert by["bad..name"]["status"] == "error" and by["bad..name"]["input_error"] == "empty label"
    assert by["bad..name"]["findings"][0]["code"] == "DOMAIN_INVALID"
    assert by["b.example"]["input"] == "B.example." and "input" not in by["a.example"]
    assert by["xn--bcher-kva.example"]["input"] == "bücher.example"
    assert (s.written, s.ok, s.errors, s.invalid, s.duplicates, s.entries) == (5, 3, 0, 2, 1, 6)
    assert s.queries == 9 and s.queries_per_domain == 3.0
    assert [x[0] for x in s.invalid_examples] == [4, 5]
    text = s.to_text("en")
    assert "5 domains" in text and "invalid 2" in text and "duplicates skipped 1" in text
    assert "line 4 'bad..name'" in text
    assert "重複スキップ 1" in s.to_text("ja") and "空のラベル" in s.to_text("ja")


async def test_check_that_raises_does_not_stop_the_run():
    items = [InputItem(i, f"d{i}.example", f"d{i}.example") for i in range(20)]
    w = ListWriter()

    async def odd(domain, attrs):
        if domain == "d7.example":
            raise ValueError("unexpected answer shape")
        if domain == "d8.example":
            return None                              # not a dict: also contained
        return await make_check()(domain, attrs)

    s = await Scanner(odd, w, concurrency=4).run(iter(items))
    by = {row["domain"]: row for row in w.rows}
    assert len(w.rows) == 20 and len(by) == 20
    assert by["d7.example"]["status"] == "error" and by["d7.example"]["error"] == \
        "ValueError: unexpected answer shape"
    assert "TypeError" in by["d8.example"]["error"]
    assert set(by["d7.example"]) == {"domain", "status", "attrs", "error", "findings"}
    assert (s.ok, s.errors, s.crashed) == (18, 2, 2)


async def test_bounded_read_ahead_on_a_200k_line_file(tmp_path):
    """A 200k-line input streams through: the reader is never more than ``max_ahead`` entries ahead of the
    writer (behavioural: counted at every write, no timing involved)."""
    p = tmp_path / "big.txt"
    p.write_text("".join(f"d{i}.example\n" for i in range(200_000)))
    seen_ahead: list[int] = []
    sc: Scanner

    class Probe(ListWriter):
        n = 0

        def write(self, results):
            self.n += len(results)
            seen_ahead.append(sc.pulled - self.n)

    async def trivial(domain, attrs):
        return {"domain": domain, "status": "ok", "findings": []}

    w = Probe()
    counts = InputCounts()
    r, items = reader_items(p, counts)
    sc = Scanner(trivial, w, concurrency=50, queue_size=100, batch=64)
    s = await sc.run(items, counts)
    r.close()
    assert s.written == 200_000 == w.n == sc.pulled == counts.entries
    assert max(seen_ahead) <= sc.max_ahead, (max(seen_ahead), sc.max_ahead)
    assert sc.max_ahead < 400                       # the bound is small and independent of the input size
    assert len(seen_ahead) > 100                    # written in many batches as it went, not at the end


async def test_cancel_writes_finished_and_drops_in_flight():
    gate = asyncio.Event()
    items = [InputItem(i, f"d{i}.example", f"d{i}.example") for i in range(50)]

    async def check(domain, attrs):
        if int(domain[1:].split(".")[0]) >= 10:
            await gate.wait()                        # never released: these are in flight at Ctrl-C
        return {"domain": domain, "status": "ok", "findings": []}

    w = ListWriter()
    sc = Scanner(check, w, concurrency=8)
    task = asyncio.create_task(sc.run(iter(items)))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if len(w.rows) >= 10:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(r["domain"] for r in w.rows) == sorted(f"d{i}.example" for i in range(10))
    assert sc.summary.interrupted and sc.summary.written == 10


async def test_resume_after_torn_interruption_scans_only_missing(tmp_path):
    p = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(30)]
    p.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    # first run: killed after 12 results, the 13th torn mid-line
    lines = [json.dumps({"domain": n, "status": "ok", "findings": []}) for n in names[:13]]
    out.write_text("\n".join(lines[:12]) + "\n" + lines[12][:17])

    w, done = open_output(OutputSpec(str(out)), [], resume=True)
    assert len(done) == 12
    counts = InputCounts()
    r, items = reader_items(p, counts, done=done)
    calls: list[str] = []
    s = await Scanner(make_check(calls), w, concurrency=5).run(items, counts)
    w.close()
    r.close()
    assert sorted(calls) == sorted(names[12:])
    assert s.resumed == 12 and s.written == 18
    final = Counter(json.loads(x)["domain"] for x in out.read_text().splitlines())
    assert set(final) == set(names) and set(final.values()) == {1}


async def test_input_error_mid_file_stops_cleanly(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(b"".join(f"d{i}.example\n".encode() for i in range(300)) + b"bad\xff.example\n" +
                  b"after.example\n")
    counts = InputCounts()
    r, items = reader_items(p, counts)
    w = ListWriter()
    with pytest.raises(InputError) as e:
        await Scanner(make_check(), w, concurrency=10).run(items, counts)
    r.close()
    assert "line 301 is neither UTF-8 nor Shift_JIS" in str(e.value) and "--resume" in str(e.value)
    assert "--resume" in e.value.text("ja") and "301 行目" in e.value.text("ja")
    assert len(w.rows) == 300 and "after.example" not in {x["domain"] for x in w.rows}


async def test_writer_failure_is_raised_not_hung():
    class Full(ListWriter):
        def write(self, results):
            raise OSError(28, "No space left on device")

    items = [InputItem(i, f"d{i}.example", f"d{i}.example") for i in range(5000)]
    with pytest.raises(OSError, match="No space"):
        await asyncio.wait_for(Scanner(make_check(), Full(), concurrency=4).run(iter(items)), 10)


# ---------------------------------------------------------------------------------------------------------------
# progress

class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_when_not_a_terminal():
    assert isinstance(make_progress(None, io.StringIO()), NullProgress)
    assert isinstance(make_progress(False, FakeTty()), NullProgress)
    assert isinstance(make_progress(None, FakeTty()), RichProgress)
    assert isinstance(make_progress(True, io.StringIO()), RichProgress)


async def test_progress_bar_shows_counters():
    stream = FakeTty()
    prog = make_progress(None, stream)
    items = [InputItem(1, "bad..x", None, {}, "empty label")] + \
        [InputItem(i, f"d{i}.example", f"d{i}.example") for i in range(2, 40)]
    prog.start(1000)
    await Scanner(make_check(fail={"d5.example"}), ListWriter(), progress=prog, position=lambda: 1000,
                  concurrency=4).run(iter(items))
    prog.stop()
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", stream.getvalue())
    assert "39 domains" in text and "errors 1" in text and "invalid 1" in text and "100%" in text


async def test_domain_timeout_turns_a_hang_into_an_error_result():
    async def check(domain, attrs):
        if domain == "hang.example":
            await asyncio.Event().wait()
        return {"domain": domain, "status": "ok", "findings": []}

    items = [InputItem(1, "hang.example", "hang.example"), InputItem(2, "ok.example", "ok.example")]
    w = ListWriter()
    s = await Scanner(check, w, concurrency=2, domain_timeout=0.05).run(iter(items))
    by = {r["domain"]: r for r in w.rows}
    assert by["hang.example"]["status"] == "error" and "longer than 0.05 s" in by["hang.example"]["error"]
    assert by["ok.example"]["status"] == "ok" and s.crashed == 1


async def test_result_domain_is_the_normalised_key():
    async def check(domain, attrs):
        return {"domain": domain.upper(), "status": "ok", "findings": []}   # a check that alters the name

    w = ListWriter()
    await Scanner(check, w).run(iter([InputItem(1, "Ex.example", "ex.example")]))
    assert w.rows[0]["domain"] == "ex.example" and w.rows[0]["input"] == "Ex.example"


async def test_progress_follows_what_is_written_not_what_is_read():
    class Rec:
        def __init__(self):
            self.positions = []
            self.done = []

        def start(self, total):
            pass

        def update(self, *, done, errors, invalid, position):
            self.positions.append(position)
            self.done.append(done)
            first.set()

        def stop(self):
            pass

    gate, first = asyncio.Event(), asyncio.Event()
    items = [InputItem(i, f"d{i}.example", f"d{i}.example", offset=10 * (i + 1)) for i in range(100)]

    async def check(domain, attrs):
        if domain != "d0.example":
            await gate.wait()
        return {"domain": domain, "status": "ok", "findings": []}

    rec = Rec()
    sc = Scanner(check, ListWriter(), concurrency=10, progress=rec, position=lambda: 1010)
    task = asyncio.create_task(sc.run(iter(items)))
    await asyncio.wait_for(first.wait(), 10)
    assert rec.positions[0] == 10           # one entry written: 10 bytes of 1000, although more were read
    gate.set()
    await task
    assert rec.positions[-1] == 1010 and rec.done[-1] == 100   # the end: the whole input, trailing lines too
    assert rec.positions == sorted(rec.positions)
