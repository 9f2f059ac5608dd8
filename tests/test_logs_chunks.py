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
from mailposture.logs.parse import (
    DELIVERY,
    IGNORED,
    NRCPT,
    REMOVED,
    SUBMIT,
    Clock,
    Event,
    LineParser,
    parse_tz,
)


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


def _reference_chunk(data: bytes, tz, mtime) -> tuple:
    """What parse_chunk must give, computed line by line with LineParser.parse (the reference parser) and the
    fold of the module text."""
    parser, clock = LineParser(), Clock(tz, mtime)
    events: list = []
    samples: list[str] = []
    used = ignored = unknown = 0
    times: list[float] = []
    local: dict[str, tuple[int, str]] = {}
    sums: dict[tuple[str, str], int] = {}
    for line in split_lines(data):
        ev = parser.parse(line, clock)
        if ev is None:
            unknown += 1
            if len(samples) < 5 and line.strip():
                samples.append(line.strip()[:200])
            continue
        if ev.kind == IGNORED:
            ignored += 1
            continue
        used += 1
        times.append(ev.t)
        if ev.kind == DELIVERY and ev.key in local:
            k = (local[ev.key][1], ev.status)
            sums[k] = sums.get(k, 0) + 1
            continue
        if ev.kind == REMOVED and ev.key in local:
            i = local.pop(ev.key)[0]
            events[i] = events[i]._replace(n=1)
            continue
        if ev.kind == NRCPT and ev.key in local:
            ev = ev._replace(user=local[ev.key][1])
        if ev.kind == SUBMIT:
            local[ev.key] = (len(events), ev.user)
        events.append(ev)
    hi = max(times, default=float("-inf"))
    events += [Event(DELIVERY_SUM, hi, user=u, n=n, status=s) for (u, s), n in sums.items()]
    return (events, len(split_lines(data)), used, ignored, unknown, samples, min(times, default=None),
            max(times, default=None))


def _got(data: bytes, tz, mtime) -> tuple:
    r = parse_chunk(data, tz, mtime)
    return (r.events, r.read, r.used, r.ignored, r.unknown, r.unknown_samples, r.first, r.last)


def test_chunk_parser_equals_the_line_parser_on_generated_and_mangled_lines(tmp_path) -> None:
    """parse_chunk splits the common line shapes with one expression over the chunk and sends the rest through
    LineParser.parse: generated logs of both stamp styles, and the same lines cut and spliced at random (odd
    spaces, colons, brackets, dates, queue ids, half keywords), must give what the line parser gives."""
    from worlds.maillog_gen import generate

    tz = parse_tz("Asia/Tokyo")
    truth = generate(tmp_path / "gen", users=60, days=3, seed=5)
    lines: list[bytes] = []
    for f in truth.files:
        raw = (gzip.open if f.endswith(".gz") else open)(f, "rb").read()
        assert _got(raw, tz, 1.8e9) == _reference_chunk(raw, tz, 1.8e9)
        lines += raw.split(b"\n")
    odd = [  # shapes the expression must hand over, or take apart the way the line parser does
        "Dec  7 10:00:00 mx dovecot: ABCDEF123: imap-login: Login: user=<a@x>, method=PLAIN, rip=192.0.2.1",
        "Dec  7 10:00:00 mx postfix/smtpd[1]: ABCDEF123 x: client=a[192.0.2.1], sasl_username=a",
        "Dec  7 10:00:00 mx postfix/smtpd[1]: warning: a[192.0.2.9]: SASL LOGIN authentication failed: x",
        "Dec  7 10:00:00 mx postfix/bogus[1]: ABCDEF123: removed",
        "Dec  7 10:00:00.250 mx postfix/qmgr[1]: ABCDEF123: removed",
        "Dec 07 10:00:60 mx postfix/qmgr[1]: ABCDEF123: removed",
        "Feb 30 10:00:00 mx postfix/qmgr[1]: ABCDEF123: removed",
        "Dec  7 24:00:00 mx postfix/qmgr[1]: ABCDEF123: removed",
        "Dec  7 10:00:00  mx postfix/qmgr[1]: ABCDEF123: removed",
        "Dec  7 10:00:00 mx\tpostfix/qmgr[1]: ABCDEF123: removed",
        "2026-12-07T10:00:00+0900 mx postfix/qmgr[1]: ABCDEF123: removed",
        "2026-12-07T10:00:00.5+09 mx postfix/qmgr[1]: ABCDEF123: removed",
        "2026-12-07T10:00:00 mx postfix/qmgr[1]: ABCDEF123: removed",
        "2026-02-30T10:00:00Z mx postfix/qmgr[1]: ABCDEF123: removed",
        "Dec  7 10:00:00 imap-login: Info: Login: user=<a@x>, method=PLAIN, rip=192.0.2.1",
        "Dec  7 10:00:00 mx postfix-out/qmgr[]: ABCDEF123: removed",
        "Dec  7 10:00:00 mx cron[1]: NOQUEUE: whatever",
        "Dec  7 10:00:44.9999999 mx postfix/qmgr[1]: ABCDEF123: removed",   # a fraction that rounds up
        "Dec  7 10:00:50 mx postfix/qmgr[1]: ABCDEF124: removed",
        "Dec  7 10:00:44 mx postfix/qmgr[1]: ABCDEF125: removed",
        "Dec  7 10:00:00 mx postfix/qmgr[1]: ABCDEF123: from=<\"a nrcpt=1² b\"@example.com>, size=1, nrcpt=1 (queue "
        "active)",
        "Dec  7 10:00:01.²5 mx postfix/qmgr[1]: ABCDEF123: removed",
        "Dec  7 10:00:00 mx su(pam_unix)[1234]: session opened for user root",
    ]
    data = "\n".join(odd).encode()
    assert _got(data, tz, 1.8e9) == _reference_chunk(data, tz, 1.8e9)
    lines += [x.encode() for x in odd]
    rnd = random.Random(1)
    pieces = [b" ", b"  ", b":", b": ", b"[", b"]", b"[12]", b"\t", b"x", b"T", b".", b"5", b"60", b"+09:00", b"Z",
              b"\r", b"\xff", "あ".encode(), b"postfix/", b"NOQUEUE: ", b"ABCDEF123: ", b"to=<", b"status=",
              b"nrcpt=", b"sasl_username=", b"client=", b"removed", b"Login: ", b"auth failed", b"dovecot: ",
              b"imap-login: ", b"Feb 30", b"Dec", b"2026-13-01T", b""]
    for _ in range(400):
        sample = [bytearray(rnd.choice(lines)) for _ in range(25)]
        for ln in sample:
            for _ in range(rnd.randrange(0, 3)):
                p = rnd.randrange(0, len(ln) + 1)
                ln[p:p + rnd.randrange(0, 4)] = rnd.choice(pieces)
        data = b"\n".join(bytes(x) for x in sample) + rnd.choice([b"", b"\n", b"\n\n", b"\r\n"])
        mtime = rnd.choice([1.8e9, 1.7e9, None])
        assert _got(data, tz, mtime) == _reference_chunk(data, tz, mtime), data


def test_chunk_parser_rows_cut_anywhere(monkeypatch) -> None:
    """The expression runs over about 1 MB of text at a time, cut at newlines: cuts at every place (empty lines,
    the last line, a text ending in newlines) give the line parser's result."""
    import mailposture.logs.chunks as chunks

    tz = parse_tz("UTC")
    line = b"2026-12-07T10:00:00Z mx postfix/qmgr[2]: AAAAAA1: from=<a@x>, size=1, nrcpt=2 (queue active)"
    rnd = random.Random(4)
    for _ in range(300):
        data = b"\n".join(rnd.choice([line, b"", b"junk", line[:30]]) for _ in range(rnd.randrange(0, 12)))
        data += rnd.choice([b"", b"\n", b"\n\n"])
        monkeypatch.setattr(chunks, "_ROWS_TEXT", rnd.randrange(1, 200))
        assert _got(data, tz, None) == _reference_chunk(data, tz, None), data


def test_short_and_empty_lines_are_unknown_not_errors() -> None:
    res = parse_chunk(b"Dec\n\nDec 7\nDec  7 10:00:00\n2026-12-07T10:00:00Z\n", parse_tz("UTC"), None)
    assert (res.read, res.unknown, res.used) == (5, 5, 0)
    assert res.unknown_samples == ["Dec", "Dec 7", "Dec  7 10:00:00", "2026-12-07T10:00:00Z"]
