"""The survey time is stated in JST (Asia/Tokyo, UTC+9 all year) in Japanese reports and in UTC in English ones."""

from __future__ import annotations

from mailposture.report.md import meta_lines, when


def test_when_jst_and_utc() -> None:
    assert when("2026-12-01T13:39:10+00:00", "ja") == "2026-12-01 22:39 JST"
    assert when("2026-12-01T13:39:10+00:00", "en") == "2026-12-01 13:39 UTC"
    assert when("2026-12-31T20:00:00+00:00", "ja") == "2027-01-01 05:00 JST"  # the date changes too
    assert when("2026-12-01T22:39:00+09:00", "en") == "2026-12-01 13:39 UTC"
    assert when("not a time", "ja") == "not a time"


def test_report_meta_lines_use_the_language_s_zone() -> None:
    meta = {"round": {"name": "r", "list_name": "l", "list_sha256": "ab" * 32, "tool_version": "x",
                      "started": "2026-06-30T15:30:00+00:00", "finished": "2026-06-30T16:10:00+00:00"}}
    ja = " ".join(meta_lines(meta, "ja"))
    en = " ".join(meta_lines(meta, "en"))
    assert "2026-07-01 00:30 JST – 2026-07-01 01:10 JST" in ja and "UTC" not in ja
    assert "2026-06-30 15:30 UTC – 2026-06-30 16:10 UTC" in en and "JST" not in en
