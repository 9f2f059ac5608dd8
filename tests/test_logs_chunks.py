"""mailposture.logs.chunks: chunks of whole lines decode like the text reader, cover the file exactly, and fold
a submission's queue lines without changing what a consumer joins."""

from __future__ import annotations

import gzip
import io
import itertools
import random

from mailposture.logs.chunks import (
    DELIVERY_SUM,
    GzipChunks,
    parse_chunk,
    plain_ranges,
    read_range,
    split_lines,
)
from mailposture.logs.parse import DELIVERY, NRCPT, REMOVED, SUBMIT, parse_tz


def _text_lines(data: bytes) -> list[str]:
    fh = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline=None)
    return [line.rstrip("\n") for line in fh]


def test_split_lines_decodes_like_the_text_reader() -> None:
    rnd = random.Random(3)
    alphabet = [b"a", b"\n", b"\r", b"\r\n", b"\xe3\x81\x82", b"\xff", b"\xe3", b" ", b"\x00"]
    for _ in range(2000):
        data = b"".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 40)))
        if not data.endswith((b"\n", b"\r")):
            data += b"\n"
        assert split_lines(data) == _text_lines(data), data


def test_plain_ranges_cover_the_file_and_end_after_newlines(tmp_path) -> None:
    rnd = random.Random(5)
    lines = [("x" * rnd.randrange(0, 300)) for _ in range(3000)]
    p = tmp_path / "maillog"
    data = "\n".join(lines).encode()  # no newline at the very end
    p.write_bytes(data)
    for size in (1, 7, 100, 4096, len(data), len(data) * 2):
        ranges = plain_ranges(str(p), len(data), size)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a < b for a, b in ranges)
        assert all(r[1] == n[0] for r, n in itertools.pairwise(ranges))
        assert all(data[b - 1:b] == b"\n" for _a, b in ranges[:-1])
        assert [x for a, b in ranges for x in split_lines(read_range(str(p), a, b))] == lines


def test_gzip_chunks_members_and_truncation(tmp_path) -> None:
    lines = [f"line {i} " + "y" * (i % 50) for i in range(20000)]
    body = "".join(x + "\n" for x in lines).encode()
    p = tmp_path / "maillog.1.gz"
    p.write_bytes(gzip.compress(body[:100_000]) + gzip.compress(body[100_000:]))  # two members
    src = GzipChunks(str(p), 8192)
    chunks = list(src)
    src.close()
    assert src.error is None and len(chunks) > 10
    assert all(c.endswith(b"\n") for c in chunks)
    assert b"".join(chunks) == body
    cut = gzip.compress(body)
    p.write_bytes(cut[: len(cut) // 2])
    src = GzipChunks(str(p), 8192)
    got = b"".join(src)
    src.close()
    assert src.error and 0 < len(got) < len(body) and body.startswith(got)


def test_fold_joins_inside_the_chunk_and_passes_the_rest() -> None:
    tz = parse_tz("UTC")
    log = "\n".join([
        "2026-12-07T10:00:00Z mx postfix/submission/smtpd[1]: AAAAAA1: client=x[192.0.2.1], sasl_method=PLAIN, "
        "sasl_username=alice",
        "2026-12-07T10:00:01Z mx postfix/qmgr[2]: AAAAAA1: from=<a@x>, size=1, nrcpt=2 (queue active)",
        "2026-12-07T10:00:02Z mx postfix/smtp[3]: AAAAAA1: to=<b@y>, relay=r, status=sent (250 ok)",
        "2026-12-07T10:00:02Z mx postfix/smtp[3]: AAAAAA1: to=<c@y>, relay=r, status=bounced (550 no)",
        "2026-12-07T10:00:03Z mx postfix/qmgr[2]: AAAAAA1: removed",
        "2026-12-07T10:00:04Z mx postfix/submission/smtpd[1]: BBBBBB2: client=x[192.0.2.1], sasl_method=PLAIN, "
        "sasl_username=alice",
        "2026-12-07T10:00:05Z mx postfix/smtp[3]: CCCCCC3: to=<b@y>, relay=r, status=sent (250 ok)",
        "2026-12-07T10:00:06Z mx postfix/qmgr[2]: CCCCCC3: removed",
    ]).encode() + b"\n"
    plain = parse_chunk(log, tz, None, fold=False).events
    assert [e.kind for e in plain] == [SUBMIT, NRCPT, DELIVERY, DELIVERY, REMOVED, SUBMIT, DELIVERY, REMOVED]
    res = parse_chunk(log, tz, None, fold=True)
    kinds = [e.kind for e in res.events]
    # AAAAAA1 is joined (closed submission, nrcpt with its user, statuses summed); BBBBBB2 stays open;
    # CCCCCC3's submission is elsewhere: its lines pass unchanged
    assert kinds == [SUBMIT, NRCPT, SUBMIT, DELIVERY, REMOVED, DELIVERY_SUM, DELIVERY_SUM]
    assert res.events[0].n == 1 and res.events[2].n == 0
    assert res.events[1].user == "alice" and res.events[1].n == 2
    assert sorted((e.user, e.status, e.n) for e in res.events if e.kind == DELIVERY_SUM) == [
        ("alice", "bounced", 1), ("alice", "sent", 1)]
    assert (res.read, res.used, res.unknown) == (8, 8, 0)
