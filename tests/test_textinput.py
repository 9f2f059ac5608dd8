"""One input reader for every file a user gives (scan inputs, survey lists): the same text from the same bytes."""

from __future__ import annotations

import gzip

import pytest

from mailposture.scan.inputs import InputError, InputReader, InputSpec
from mailposture.survey.lists import ListError, load_list, parse_list
from mailposture.textinput import LineDecoder, TextInputError, decode_text

# An SJIS export whose first lines are plain ASCII: the Japanese text only comes later (the half-scanned case)
SJIS_CSV = "domain,name\nexample.jp,Example\nb.example.jp,株式会社例\nc.example.jp,東京都\n".encode("cp932")


def scan_items(path, **kw):
    with InputReader(InputSpec(str(path), **kw)) as r:
        return list(r), r


def test_sjis_after_ascii_lines_is_read_whole_by_scan_and_lists(tmp_path):
    p = tmp_path / "list.csv"
    p.write_bytes(SJIS_CSV)
    items, _ = scan_items(p)
    assert [i.domain for i in items] == ["example.jp", "b.example.jp", "c.example.jp"]
    assert [i.attrs["name"] for i in items] == ["Example", "株式会社例", "東京都"]
    lst = load_list(p)
    assert [(b.domain, b.attrs["name"]) for b in lst.bodies] == [(i.domain, i.attrs["name"]) for i in items]


def test_sjis_text_list_and_gzip_stream(tmp_path):
    text = "# 一覧\nexample.jp\n日本語.jp\n"
    p = tmp_path / "d.txt.gz"
    p.write_bytes(gzip.compress(("a.example\n" * 3 + text).encode("cp932")))
    items, _ = scan_items(p)
    assert [i.domain for i in items] == ["a.example"] * 3 + ["example.jp", "xn--wgv71a119e.jp"]


@pytest.mark.parametrize("data", [
    "domain,name\nexample.jp,株式会社例\n".encode(),              # UTF-8
    b"\xef\xbb\xbf" + "domain,name\nexample.jp,株式会社例\n".encode(),  # UTF-8 with BOM (Excel's "CSV UTF-8")
    "domain,name\nexample.jp,株式会社例\n".encode("cp932"),        # Shift_JIS from its first line
])
def test_scan_and_lists_read_the_same_text(tmp_path, data):
    p = tmp_path / "l.csv"
    p.write_bytes(data)
    items, _ = scan_items(p)
    assert items[0].attrs == {"name": "株式会社例"}
    attrs = parse_list(data, "l").bodies[0].attrs
    assert attrs["name"] == "株式会社例"                       # the same text as scan read
    assert set(attrs) - {"name"} <= {"jp-type", "kind"}        # plus the derived grouping columns only


def test_mixed_encodings_are_refused_naming_the_line(tmp_path):
    data = "domain,name\na.jp,日本\n".encode() + "b.jp,東京\n".encode("cp932")
    p = tmp_path / "mixed.csv"
    p.write_bytes(data)
    with pytest.raises(InputError) as e:
        scan_items(p)
    assert "line 3" in str(e.value) and "mixes encodings" in str(e.value)
    assert "3 行目" in e.value.text("ja") and "混在" in e.value.text("ja")
    with pytest.raises(ListError, match=r"line 3 .*mixes encodings"):
        parse_list(data, "mixed")


def test_eight_bit_noise_is_not_taken_for_shift_jis():
    with pytest.raises(TextInputError, match="neither UTF-8 nor Shift_JIS"):
        decode_text(b"a.example\n\xff\xfe\xfd\n", "x")       # CP932 would map these to private-use characters


def test_explicit_encoding_and_errors_in_both_languages():
    assert decode_text("é.example\n".encode("latin-1"), "x", "latin-1") == "é.example\n"
    with pytest.raises(TextInputError) as e:
        decode_text("x,株\n".encode("cp932"), "f.csv", "utf-8")
    assert "not UTF-8" in e.value.en and "cp932" in e.value.en
    assert "UTF-8 ではありません" in e.value.text("ja")
    with pytest.raises(TextInputError, match="unknown encoding"):
        LineDecoder("x", "klingon")
    for bad, word in ((b"\xff\xfea\x00", "UTF-16"), (b"PK\x03\x04rest", "ZIP")):
        with pytest.raises(TextInputError, match=word):
            decode_text(bad, "x")


def test_scan_errors_have_japanese_text(tmp_path):
    with pytest.raises(InputError) as e:
        scan_items(tmp_path / "missing.txt")
    assert e.value.text("ja").endswith("ファイルがありません") and "no such file" in e.value.text("en")
