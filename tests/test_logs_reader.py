"""mailposture.logs: Postfix and Dovecot lines as they are on disk."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailposture.logs.files import LogFileError, expand
from mailposture.logs.parse import (
    AUTH_FAIL,
    CLIENT_ID,
    IGNORED,
    LOGIN,
    NRCPT,
    REMOVED,
    SUBMIT,
    Clock,
    LineParser,
    device_of,
    parse_tz,
)
from mailposture.logs.reader import LogReader

JST = timezone(timedelta(hours=9))
P = LineParser()


def _clock(tz=JST, mtime=datetime(2026, 12, 8, tzinfo=UTC)):
    return Clock(tz, mtime.timestamp())


def test_classic_timestamp_zone_and_fraction() -> None:
    ev = P.parse("Dec  7 17:51:44 mx postfix/submission/smtpd[123]: 3F2A81C0B4: client=unknown[203.0.113.5], "
                 "sasl_method=PLAIN, sasl_username=alice@example.jp", _clock())
    assert ev and ev.kind == SUBMIT
    assert ev.t == datetime(2026, 12, 7, 17, 51, 44, tzinfo=JST).timestamp()
    assert (ev.user, ev.ip, ev.client_name, ev.service) == ("alice@example.jp", "203.0.113.5", "unknown",
                                                             "submission/smtpd")
    utc = P.parse("Dec 07 17:51:44.250 mx postfix/submission/smtpd[1]: 3F2A81C0B4: client=a.example[192.0.2.1], "
                  "sasl_method=LOGIN, sasl_username=bob", _clock(UTC))
    assert utc and utc.t == datetime(2026, 12, 7, 17, 51, 44, 250000, tzinfo=UTC).timestamp()
    assert utc.client_name == "a.example"


def test_year_from_file_mtime_across_new_year() -> None:
    clock = _clock(mtime=datetime(2027, 1, 2, 3, 0, tzinfo=JST))
    dec = P.parse("Dec 31 23:59:59 mx postfix/qmgr[9]: ABCDEF1234: removed", clock)
    jan = P.parse("Jan  1 00:00:01 mx postfix/qmgr[9]: ABCDEF1234: removed", clock)
    assert dec and jan
    assert datetime.fromtimestamp(dec.t, JST) == datetime(2026, 12, 31, 23, 59, 59, tzinfo=JST)
    assert datetime.fromtimestamp(jan.t, JST) == datetime(2027, 1, 1, 0, 0, 1, tzinfo=JST)
    assert jan.t - dec.t == 2


@pytest.mark.parametrize("stamp", ["2026-12-07T17:51:44.123456+09:00", "2026-12-07T17:51:44+0900",
                                   "2026-12-07T08:51:44Z"])
def test_rfc3339_timestamps(stamp: str) -> None:
    ev = P.parse(f"{stamp} mx postfix-out/qmgr[77]: 4XyZ1t6Hgmz9vQ: from=<a@example.jp>, size=10, nrcpt=7 "
                 "(queue active)", _clock(UTC))
    assert ev and ev.kind == NRCPT and ev.n == 7
    assert abs(ev.t - datetime(2026, 12, 7, 8, 51, 44, tzinfo=UTC).timestamp()) < 1
    assert ev.key == "mx/postfix-out/4XyZ1t6Hgmz9vQ"  # multi-instance: the instance is part of the join key


def test_dovecot_23_and_24_lines() -> None:
    c = _clock()
    ok = P.parse("Dec  7 10:00:00 mx dovecot: imap-login: Login: user=<alice@example.jp>, method=PLAIN, "
                 "rip=198.51.100.7, lip=192.0.2.1, mpid=1234, TLS, session=<abc>", c)
    assert ok and (ok.kind, ok.user, ok.ip, ok.service) == (LOGIN, "alice@example.jp", "198.51.100.7", "imap")
    f23 = P.parse("Dec  7 10:00:01 mx dovecot: pop3-login: Disconnected (auth failed, 3 attempts in 8 secs): "
                  "user=<bob>, method=PLAIN, rip=2001:db8::5, lip=192.0.2.1, TLS, session=<x>", c)
    assert f23 and (f23.kind, f23.user, f23.ip, f23.n) == (AUTH_FAIL, "bob", "2001:db8::5", 3)
    f24 = P.parse("2026-12-07T10:00:02+09:00 mx dovecot: submission-login: Login aborted: Connection closed "
                  "(auth failed, 1 attempts in 2 secs) (auth_failed): user=<carol>, method=PLAIN, rip=203.0.113.9, "
                  "lip=192.0.2.1, TLS, session=<y>", c)
    assert f24 and (f24.kind, f24.user, f24.service) == (AUTH_FAIL, "carol", "submission")
    own = P.parse("Dec 07 10:00:03 imap-login: Info: Login: user=<dave>, method=PLAIN, rip=203.0.113.10, "
                  "lip=192.0.2.1, mpid=1, session=<z>", c)  # Dovecot's own log_path file: no host
    assert own and own.kind == LOGIN and own.user == "dave" and own.host == ""
    mism = P.parse("Dec  7 10:00:04 mx dovecot: auth: passwd-file(alice,203.0.113.9,<s>): Password mismatch", c)
    assert mism and mism.kind == IGNORED  # the login process's line counts the failure once


def test_postfix_sasl_failure_and_unknown_lines() -> None:
    c = _clock()
    f = P.parse("Dec  7 10:00:00 mx postfix/submission/smtpd[5]: warning: unknown[203.0.113.5]: SASL LOGIN "
                "authentication failed: UGFzc3dvcmQ6, sasl_username=alice@example.jp", c)
    assert f and f.kind == AUTH_FAIL and f.user == "alice@example.jp" and f.ip == "203.0.113.5"
    assert P.parse("Dec  7 10:00:00 mx postfix/qmgr[9]: 3F2A81C0B4: removed", c).kind == REMOVED
    assert P.parse("Dec  7 10:00:00 mx CRON[5]: (root) CMD (true)", c).kind == IGNORED
    for junk in ("", "garbage", "Dec 99 10:00:00 mx x: y", "Foo  7 10:00:00 mx postfix/qmgr[1]: x",
                 "2026-13-01T00:00:00Z mx postfix/qmgr[1]: x", "Dec  7 10:00:00 mx -- MARK --",
                 "2026-12-07T10:00:00 mx postfix/qmgr[1]: A: removed"):  # the last has no zone
        assert P.parse(junk, c) is None, junk


def _write(path, lines, mtime, gz=False):
    data = "".join(line + "\n" for line in lines).encode()
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_rotated_gzipped_files_in_any_order(tmp_path) -> None:
    base = datetime(2026, 12, 1, tzinfo=JST)

    def line(day: int, qid: str) -> str:
        d = base + timedelta(days=day)
        return f"{d:%b} {d.day:2d} 12:00:00 mx postfix/qmgr[1]: {qid}: removed"

    _write(tmp_path / "maillog.2.gz", [line(0, "AAAAA1"), line(1, "AAAAA2")], (base + timedelta(days=2)).timestamp(),
           gz=True)
    _write(tmp_path / "maillog.1", [line(2, "AAAAA3")], (base + timedelta(days=3)).timestamp())
    _write(tmp_path / "maillog", [line(3, "AAAAA4"), "not a log line"], (base + timedelta(days=4)).timestamp())
    # a gzip file whose name does not say so, in a second chain (another host) given by glob
    _write(tmp_path / "mx2.log", ["2026-12-02T13:00:00+09:00 mx2 postfix/qmgr[1]: BBBBB1: removed"],
           (base + timedelta(days=4)).timestamp(), gz=True)
    rd = LogReader([str(tmp_path / "maillog"), str(tmp_path / "maillog.2.gz"), str(tmp_path / "mx2*"),
                    str(tmp_path / "maillog.1")], tz=JST)
    keys = [e.key.rsplit("/", 1)[1] for e in rd.events()]
    assert keys == ["AAAAA1", "AAAAA2", "BBBBB1", "AAAAA3", "AAAAA4"]
    assert (rd.stats.read, rd.stats.used, rd.stats.unknown) == (6, 5, 1)
    assert rd.stats.unknown_samples == ["not a log line"]


def test_bad_paths_are_clear_errors(tmp_path) -> None:
    with pytest.raises(LogFileError, match="no file matches"):
        expand([str(tmp_path / "nothing*")])
    with pytest.raises(LogFileError, match="not found"):
        expand([str(tmp_path / "missing")])
    with pytest.raises(LogFileError, match="directory"):
        expand([str(tmp_path)])


def test_tz_names() -> None:
    assert parse_tz("+09:00").utcoffset(None) == timedelta(hours=9)
    assert parse_tz("UTC").utcoffset(None) == timedelta(0)
    assert parse_tz("Asia/Tokyo") is not None
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_tz("Mars/Olympus")


def test_truncated_gzip_keeps_what_was_read(tmp_path) -> None:
    lines = [f"2026-12-02T13:00:{i:02d}+09:00 mx postfix/qmgr[1]: ABCDEF{i:02d}: removed" for i in range(50)]
    data = gzip.compress("".join(x + "\n" for x in lines).encode() * 200)
    (tmp_path / "maillog.2.gz").write_bytes(data[: len(data) // 2])  # cut in the middle
    (tmp_path / "maillog").write_text(lines[0] + "\n")
    rd = LogReader([str(tmp_path / "maillog*")])
    n = sum(1 for _ in rd.events())
    assert 0 < n and rd.stats.errors and "maillog.2.gz" in rd.stats.errors[0]
    assert n == rd.stats.used and rd.stats.read > 1  # lines before the cut and the next file were used


def test_dovecot_client_id_lines_recorded_from_dovecot_2_3() -> None:
    """imap_id_log = * (IMAP ID, RFC 2971): before login imap-login logs the ID with rip and session, after login
    the imap(user)<pid><session> process logs it. The first lines were written by Dovecot 2.3.19 (Debian 12) into
    its own log_path file on 2026-12-08; the syslog ones are the same messages under "host dovecot: "."""
    c = _clock()
    pre = P.parse("Dec 08 01:14:52 imap-login: Info: ID sent: name=Thunderbird, version=115.3.1, os=Windows: "
                  "user=<>, rip=127.0.0.1, lip=127.0.0.1, secured, session=<fhXFERVi7ph/AAAB>", c)
    assert pre and (pre.kind, pre.user, pre.ip, pre.client_name, pre.key, pre.service) == (
        CLIENT_ID, "", "127.0.0.1", "Thunderbird / Windows", "/fhXFERVi7ph/AAAB", "imap")
    login = P.parse("Dec 08 01:14:52 imap-login: Info: Login: user=<alice@example.test>, method=PLAIN, "
                    "rip=127.0.0.1, lip=127.0.0.1, mpid=23267, secured, session=<fhXFERVi7ph/AAAB>", c)
    assert login and login.kind == LOGIN and login.key == pre.key  # joined by the session
    post = P.parse("Dec 08 01:14:56 imap(alice@example.test)<23336><vTgJEhVi8ph/AAAB>: Info: ID sent: "
                   "name=iPhone Mail, version=21A329, os=iOS", c)
    assert post and (post.kind, post.user, post.client_name, post.key) == (
        CLIENT_ID, "alice@example.test", "iPhone Mail / iOS", "/vTgJEhVi8ph/AAAB")
    bye = P.parse("Dec 08 01:14:52 imap(alice@example.test)<23267><fhXFERVi7ph/AAAB>: Info: Disconnected: "
                  "Connection closed (No commands sent) in=0 out=409", c)
    assert bye is not None and bye.kind == "ignored"  # a Dovecot line of its own file, not an unknown one
    sys_post = P.parse("Dec  8 01:14:56 mx dovecot: imap(bob)<1><s1>: ID sent: name=K-9 Mail, version=6.7", c)
    assert sys_post and (sys_post.user, sys_post.client_name, sys_post.key) == ("bob", "K-9 Mail", "mx/s1")
    sys_pre = P.parse("Dec  8 01:14:56 mx dovecot: imap-login: ID sent: os=Linux: user=<>, rip=203.0.113.5, "
                      "lip=192.0.2.1, TLS, session=<s2>", c)
    assert sys_pre and (sys_pre.ip, sys_pre.client_name, sys_pre.key) == ("203.0.113.5", "Linux", "mx/s2")
    assert device_of("name=Outlook, version=16.0, os=Windows, os-version=10") == "Outlook / Windows"
    assert device_of("x-originating-ip=203.0.113.5, x-session-id=abc") == ""  # a proxy's fields, no software
    proxy = P.parse("Dec  8 01:14:56 mx dovecot: imap-login: ID sent: x-originating-ip=203.0.113.5: user=<>, "
                    "rip=203.0.113.5, lip=192.0.2.1, TLS, session=<s3>", c)
    assert proxy is not None and proxy.kind == "ignored"


def test_whole_seconds_do_not_move_with_a_fraction_that_rounds_up() -> None:
    c = _clock()
    a = P.parse("Dec  7 10:00:44.9999999 mx postfix/qmgr[1]: ABCDEF123: removed", c)
    b = P.parse("Dec  7 10:00:50 mx postfix/qmgr[1]: ABCDEF124: removed", c)
    same = P.parse("Dec  7 10:00:44 mx postfix/qmgr[1]: ABCDEF125: removed", c)
    assert a and b and same and b.t - same.t == 6.0 and 0.99 < a.t - same.t <= 1.0


def test_digits_that_are_not_decimal_are_not_numbers() -> None:
    c = _clock()
    ev = P.parse('Dec  7 10:00:00 mx postfix/qmgr[1]: ABCDEF123: from=<"a nrcpt=1² b"@example.com>, size=1, '
                 "nrcpt=1 (queue active)", c)
    assert ev is not None and ev.kind == NRCPT  # "1²" is no number: no ValueError, the line still counts
    assert P.parse("Dec  7 10:00:01.²5 mx postfix/qmgr[1]: ABCDEF123: removed", c) is None  # not a stamp
    assert P.parse("Dec  7 10:00:00 mx su(pam_unix)[1234]: session opened for user root", c) is None
