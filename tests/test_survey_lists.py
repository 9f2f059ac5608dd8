"""Survey lists: the bundled jp-localgov list and any CSV with a domain column."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from mailposture.survey.lists import (
    PREFECTURES_JIS,
    REGIONS_JA,
    ListError,
    bundled_lists,
    group_sort_key,
    load_list,
    parse_list,
)

SHARED = Path("/work/shared/data/jp_localgov/jp_localgov.csv")


def test_bundled_jp_localgov_counts_and_columns() -> None:
    lst = load_list("jp-localgov")
    assert len(lst.bodies) == 1788
    assert lst.columns == ["code", "prefecture", "name", "region", "source"]
    by_region = Counter(b.attrs["region"] for b in lst.bodies)
    # the per-region counts stated in the list's PROVENANCE (official per-prefecture counts)
    assert by_region == {"北海道": 180, "東北": 233, "関東": 323, "中部": 325, "近畿": 234, "中国": 112,
                         "四国": 99, "九州沖縄": 282}
    assert set(by_region) == set(REGIONS_JA)
    assert all(b.attrs["source"].startswith("code4fukui/localgovjp@") for b in lst.bodies)
    assert len({b.attrs["prefecture"] for b in lst.bodies}) == 47
    assert {b.attrs["prefecture"] for b in lst.bodies} == set(PREFECTURES_JIS)
    sapporo = next(b for b in lst.bodies if b.attrs["code"] == "011002")
    assert (sapporo.attrs["name"], sapporo.domain) == ("札幌市", "city.sapporo.jp")


def test_bundled_copy_matches_shared_data_when_present() -> None:
    if not SHARED.exists():
        pytest.skip("shared data folder not present here")
    from mailposture.survey.lists import bundled_path

    assert bundled_path("jp-localgov").read_bytes() == SHARED.read_bytes()


def test_bundled_lists_summary() -> None:
    (item,) = bundled_lists()
    assert item["name"] == "jp-localgov" and item["bodies"] == 1788


def test_region_of_every_body_follows_the_prefecture_code() -> None:
    # PROVENANCE: 北海道=01; 東北=02–07; 関東=08–14; 中部=15–23; 近畿=24–30; 中国=31–35; 四国=36–39; 九州沖縄=40–47
    bounds = [(1, "北海道"), (7, "東北"), (14, "関東"), (23, "中部"), (30, "近畿"), (35, "中国"), (39, "四国"),
              (47, "九州沖縄")]
    for b in load_list("jp-localgov").bodies:
        pref = int(b.attrs["code"][:2])
        assert b.attrs["region"] == next(r for hi, r in bounds if pref <= hi)


def test_csv_with_mail_domains_and_attributes() -> None:
    data = ("Domain,sector,mail_domains,region\n"
            "Example.COM.,bank,mail.example.net  example.org,関東\n"
            "\n"
            "b.example,,,\n"
            "c.example,isp,c.example,近畿\n").encode()
    lst = parse_list(data, "mine")
    assert lst.columns == ["sector", "region"]
    a, b, c = lst.bodies
    assert a.domain == "example.com" and a.mail_domains == ["mail.example.net", "example.org"]
    assert a.domains("any") == ["example.com", "mail.example.net", "example.org"]
    assert a.domains("primary") == ["example.com"]
    assert b.attrs == {"sector": "", "region": ""}
    assert c.mail_domains == []  # the primary domain is not repeated
    assert lst.all_domains() == ["example.com", "mail.example.net", "example.org", "b.example", "c.example"]


def test_idn_and_bom() -> None:
    lst = parse_list("\ufeffdomain\n日本語.jp\n".encode(), "idn")
    assert lst.bodies[0].domain == "xn--wgv71a119e.jp"


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "empty file"),
    (b"name,region\nx,y\n", "no 'domain' column"),
    (b"domain,domain\na.example,b.example\n", "duplicate column"),
    (b"domain\nhttps://www.example.com/\n", "line 2"),
    (b"domain\nexample.com\nbad domain.com\n", "line 3"),
    (b"domain,region\na.example,x,extra\n", "3 fields, the header has 2"),
    (b"domain\n", "no rows"),
    (b"domain\n\x81\x7f.example\n", "neither UTF-8 nor Shift_JIS"),
    (b"domain\na.example\x00\n", "NUL"),
    (b"domain,mail_domains\na.example,foo..bar\n", "mail_domains"),
])
def test_bad_lists_name_the_problem(data: bytes, needle: str) -> None:
    with pytest.raises(ListError, match=needle.replace("(", r"\(")):
        parse_list(data, "bad.csv")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ListError, match="no such file"):
        load_list(str(tmp_path / "nope.csv"))
    with pytest.raises(ListError, match="directory"):
        load_list(str(tmp_path))


def test_group_order_region_prefecture_and_names() -> None:
    regions = ["九州沖縄", "北海道", "関東", "四国", "東北", "中国", "近畿", "中部"]
    assert sorted(regions, key=group_sort_key("region")) == list(REGIONS_JA)
    prefs = ["沖縄県", "東京都", "北海道", "大阪府", "青森県"]
    assert sorted(prefs, key=group_sort_key("prefecture")) == ["北海道", "青森県", "東京都", "大阪府", "沖縄県"]
    assert sorted(["b", "", "a"], key=group_sort_key("sector")) == ["a", "b", ""]


def test_prefecture_order_from_code_column(tmp_path: Path) -> None:
    # an unknown prefecture label is placed by its 全国地方公共団体コード
    p = tmp_path / "x.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "prefecture", "domain"])
        w.writerows([["471003", "Okinawa", "a.example"], ["011002", "Hokkaido", "b.example"],
                     ["131016", "Tokyo", "c.example"]])
    lst = load_list(str(p))
    key = group_sort_key("prefecture", lst.bodies)
    assert sorted(["Okinawa", "Tokyo", "Hokkaido"], key=key) == ["Hokkaido", "Tokyo", "Okinawa"]


def test_shift_jis_and_tab_separated() -> None:
    sjis = "domain,name\ncity.sapporo.jp,札幌市\n".encode("cp932")
    lst = parse_list(sjis, "sjis")
    assert lst.bodies[0].attrs["name"] == "札幌市" and "札幌市" in lst.text
    tsv = parse_list("name\tdomain\tregion\n札幌市\tcity.sapporo.jp\t北海道\n".encode(), "tsv")
    assert tsv.bodies[0].domain == "city.sapporo.jp" and tsv.bodies[0].attrs == {"name": "札幌市", "region": "北海道"}
