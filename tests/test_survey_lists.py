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
    assert lst.columns == ["code", "prefecture", "name", "kind", "region", "source"]
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

    def rows(text: str) -> list[dict[str, str]]:
        return [{k: v for k, v in r.items() if k != "kind"} for r in csv.DictReader(text.splitlines())]

    # the bundled copy is the shared file plus the derived 'kind' column (PROVENANCE.md)
    assert rows(bundled_path("jp-localgov").read_text(encoding="utf-8")) == rows(SHARED.read_text(encoding="utf-8"))


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
    assert tsv.bodies[0].domain == "city.sapporo.jp" and tsv.bodies[0].attrs == {"name": "札幌市", "region": "北海道",
                                                                         "jp-type": "geographic"}  # derived


def test_kind_column_official_counts_and_rule() -> None:
    lst = load_list("jp-localgov")
    kinds = Counter(b.attrs["kind"] for b in lst.bodies)
    # 総務省's counts of the 1,788 bodies (unchanged since 2018-10): 47 prefectures, 792 cities, 23 special wards,
    # 743 towns, 183 villages
    assert kinds == {"都道府県": 47, "市": 792, "特別区": 23, "町": 743, "村": 183}
    for b in lst.bodies:
        name, kind = b.attrs["name"], b.attrs["kind"]
        # independent of the code rule: the official name's last character, and Tokyo for the special wards
        expected = {"都": "都道府県", "道": "都道府県", "府": "都道府県", "県": "都道府県", "市": "市", "町": "町",
                    "村": "村", "区": "特別区"}[name[-1]]
        assert kind == expected, (b.attrs["code"], name)
        if kind == "特別区":
            assert b.attrs["prefecture"] == "東京都"
    ordered = sorted(set(kinds), key=group_sort_key("kind"))
    assert ordered == ["都道府県", "市", "特別区", "町", "村"]


@pytest.mark.parametrize("code,name,kind", [
    ("011002", "札幌市", "市"), ("141305", "川崎市", "市"), ("131016", "千代田区", "特別区"),
    ("130001", "東京都", "都道府県"), ("013030", "当別町", "町"), ("013439", "鹿部町", "町"),
    ("203854", "南相木村", "村"), ("011002", "札幌村", ""), ("13101", "千代田区", ""), ("", "x", ""),
])
def test_localgov_kind_rule(code: str, name: str, kind: str) -> None:
    from mailposture.survey.lists import localgov_kind

    assert localgov_kind(code, name) == kind


def test_kind_derived_for_a_list_with_codes_but_no_kind_column() -> None:
    lst = parse_list("code,name,domain\n011002,札幌市,city.sapporo.jp\n131016,千代田区,city.chiyoda.lg.jp\n"
                     .encode(), "old")
    assert [b.attrs["kind"] for b in lst.bodies] == ["市", "特別区"]
    assert "kind" not in lst.columns  # derived, not a column of the file
    # a column of codes that are not local-government codes: nothing derived
    lst = parse_list(b"code,name,domain\nA1,x,a.example\n", "other")
    assert "kind" not in lst.bodies[0].attrs


@pytest.mark.parametrize("domain,kind", [
    ("example.co.jp", "co"), ("u-tokyo.ac.jp", "ac"), ("mhlw.go.jp", "go"), ("city.chiyoda.lg.jp", "lg"),
    ("ocn.ne.jp", "ne"), ("jpcert.or.jp", "or"), ("x.ed.jp", "ed"), ("y.gr.jp", "gr"), ("nic.ad.jp", "ad"),
    ("pref.iwate.jp", "geographic"), ("city.sapporo.jp", "geographic"), ("metro.tokyo.jp", "geographic"),
    ("www.city.kawasaki.jp", "geographic"), ("example.jp", "general-use"), ("a.b.example.jp", "general-use"),
    ("jp", "non-jp"), ("example.com", "non-jp"), ("Example.CO.JP.", "co"),
])
def test_jp_type(domain: str, kind: str) -> None:
    from mailposture.survey.lists import jp_type

    assert jp_type(domain) == kind


def test_jp_type_labels_match_the_public_suffix_list() -> None:
    """The organizational and geographic labels are exactly the second-level .jp entries of the PSL's ICANN
    section (read here from the PSL file shipped with publicsuffixlist, not from our table)."""
    import publicsuffixlist

    from mailposture.survey.lists import JP_GEOGRAPHIC, JP_TYPES

    text = (Path(publicsuffixlist.__file__).parent / "public_suffix_list.dat").read_text(encoding="utf-8")
    icann = text.split("===BEGIN ICANN DOMAINS===")[1].split("===END ICANN DOMAINS===")[0]
    second = set()
    for line in icann.splitlines():
        line = line.strip()
        if (line.endswith(".jp") and line.isascii() and not line.startswith("//")
                and line.count(".") == 1 + line.startswith("*.")):  # (the Unicode 青森.jp … are IDN aliases)
            second.add(line.removeprefix("*.")[:-3])
    assert second == set(JP_TYPES) | JP_GEOGRAPHIC


def test_jp_type_derived_column_groups_a_whole_jp_list() -> None:
    lst = parse_list(b"domain\nexample.co.jp\nexample.jp\nb.co.jp\npref.aichi.jp\nexample.com\n", "jp")
    assert [b.attrs["jp-type"] for b in lst.bodies] == ["co", "general-use", "co", "geographic", "non-jp"]
    from mailposture.report.tables import aggregate

    rep = aggregate(lst.bodies, {}, by="jp-type", lang="ja")
    assert [(g["group"], g["label"], g["total"]) for g in rep["groups"]] == [
        ("co", "co (企業)", 2), ("geographic", "地域型 JP", 1), ("general-use", "汎用 JP", 1),
        ("non-jp", ".jp 以外", 1)]
    assert "jp-type" not in parse_list(b"domain\na.example\n", "x").bodies[0].attrs


def test_by_kind_on_the_bundled_list() -> None:
    from mailposture.report.tables import aggregate

    lst = load_list("jp-localgov")
    for lang, labels in (("ja", ["都道府県", "市", "特別区", "町", "村"]),
                         ("en", ["prefecture", "city", "special ward", "town", "village"])):
        rep = aggregate(lst.bodies, {}, by="kind", lang=lang)
        assert [g["label"] for g in rep["groups"]] == labels
        assert [g["total"] for g in rep["groups"]] == [47, 792, 23, 743, 183]
    rep = aggregate(lst.bodies, {}, by="jp-type", lang="en")
    types = {g["group"]: g["total"] for g in rep["groups"]}
    # independent count: the second-level label of each domain
    lg = sum(1 for b in lst.bodies if b.domain.endswith(".lg.jp"))
    non_jp = sum(1 for b in lst.bodies if not b.domain.endswith(".jp"))  # e.g. a town's .com site
    assert types["lg"] == lg and types["non-jp"] == non_jp > 0 and sum(types.values()) == 1788
    assert list(types)[-3:] == ["geographic", "general-use", "non-jp"]
