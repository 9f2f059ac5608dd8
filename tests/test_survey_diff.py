"""``survey diff`` (issue 11): two rounds of a small hand-written world where each body makes exactly one known
change; the expected change list is written here by hand, not computed by the diff code."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import parse_list
from mailposture.survey.rounds import run_round

runner = CliRunner()

HEAD = "code,name,prefecture,region,domain\n"
BODIES = {  # code: (name, prefecture, region, domain in round 1)
    "010001": ("甲市", "北海道", "北海道", "a.example"),     # adopts SPF
    "020001": ("乙市", "青森県", "東北", "b.example"),       # drops SPF
    "030001": ("丙町", "岩手県", "東北", "c.example"),       # SPF syntax error fixed
    "040001": ("丁町", "宮城県", "東北", "d.example"),       # ~all -> -all
    "050001": ("戊村", "秋田県", "東北", "e.example"),       # 11 lookups -> 2 lookups
    "060001": ("己市", "山形県", "東北", "f.example"),       # valid -> two records (broke)
    "070001": ("庚市", "福島県", "東北", "g.example"),       # DMARC p=none -> p=reject
    "080001": ("辛市", "茨城県", "関東", "h.example"),       # moves to h.lg.test, same records
    "090001": ("壬市", "栃木県", "関東", "i.example"),       # removed from the list
    "100001": ("癸市", "群馬県", "関東", "k.example"),       # its zone stops answering (unknown)
    "110001": ("子市", "埼玉県", "関東", "l.example"),       # adopts DMARC
    "120001": ("丑市", "千葉県", "関東", "m.example"),       # -all -> ?all (weakened)
}
CHAIN = [f"s{i}.chain.test" for i in range(11)]


def _zone(second: bool) -> dict:
    z: dict = {c: [("TXT", f"v=spf1 ip4:192.0.2.{i} -all")] for i, c in enumerate(CHAIN)}
    z["j.example"] = [("TXT", "v=spf1 -all")]

    def spf(d: str, rec: str) -> None:
        z.setdefault(d, []).append(("TXT", rec))

    for d in ("a.example", "b.example", "c.example", "d.example", "e.example", "f.example", "g.example",
              "h.example", "h.lg.test", "i.example", "k.example", "l.example", "m.example"):
        z.setdefault(d, []).append(("A", "192.0.2.1"))
    if second:
        spf("a.example", "v=spf1 mx -all")
    else:
        spf("b.example", "v=spf1 mx -all")
    spf("c.example", "v=spf1 ip4:192.0.2.9 -all" if second else "v=spf1 ipv4:192.0.2.9 -all")
    spf("d.example", "v=spf1 mx -all" if second else "v=spf1 mx ~all")
    spf("e.example", "v=spf1 include:s0.chain.test include:s1.chain.test -all" if second else
        "v=spf1 " + " ".join(f"include:{c}" for c in CHAIN) + " -all")
    spf("f.example", "v=spf1 mx -all")
    if second:
        spf("f.example", "v=spf1 a -all")
    spf("g.example", "v=spf1 -all")
    z["_dmarc.g.example"] = [("TXT", "v=DMARC1; p=reject" if second else "v=DMARC1; p=none")]
    spf("h.lg.test" if second else "h.example", "v=spf1 -all")
    spf("i.example", "v=spf1 -all")
    if second:
        z["k.example"] = [("TIMEOUT", None)]
        z["_dmarc.k.example"] = [("TIMEOUT", None)]
        z["_dmarc.l.example"] = [("TXT", "v=DMARC1; p=quarantine")]
    else:
        spf("k.example", "v=spf1 -all")
    spf("m.example", "v=spf1 mx ?all" if second else "v=spf1 mx -all")
    return z


def _list(second: bool) -> str:
    lines = [HEAD]
    for code, (name, pref, region, dom) in BODIES.items():
        if second and code == "090001":
            continue
        if second and code == "080001":
            dom = "h.lg.test"
        lines.append(f"{code},{name},{pref},{region},{dom}\n")
    if second:
        lines.append("130001,寅区,東京都,関東,j.example\n")
    return "".join(lines)


EXPECTED = {  # (name, what, change, before, after)
    ("北海道甲市", "spf", "adopted", "no", "yes"),
    ("青森県乙市", "spf", "dropped", "yes", "no"),
    ("岩手県丙町", "spf_valid", "fixed", "invalid", "valid"),
    ("宮城県丁町", "spf_all", "fixed", "~all", "-all"),
    ("秋田県戊村", "spf_valid", "fixed", "invalid", "valid"),
    ("秋田県戊村", "spf_lookup_limit", "fixed", "11", "2"),
    ("山形県己市", "spf_valid", "broke", "valid", "invalid"),
    ("福島県庚市", "dmarc_policy", "policy", "none", "reject"),
    ("茨城県辛市", "domain", "domain", "h.example", "h.lg.test"),
    ("栃木県壬市", "body", "removed", "i.example", ""),
    ("群馬県癸市", "spf", "unknown", "yes", "unknown"),
    ("群馬県癸市", "dmarc", "unknown", "no", "unknown"),
    ("埼玉県子市", "dmarc", "adopted", "no", "yes"),
    ("千葉県丑市", "spf_all", "weakened", "-all", "?all"),
    ("東京都寅区", "body", "added", "", "j.example"),
}


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("diff") / "data"
    cat = Catalog(data)

    async def go() -> None:
        for name, second in (("r1", False), ("r2", True)):
            lst = parse_list(_list(second).encode(), "hand")
            info = await run_round(cat, lst, name, FakeResolver(_zone(second)), resolvers=["fake"])
            assert info.status == "complete"

    asyncio.run(go())
    return data


def test_diff_json_lists_exactly_the_expected_changes(rounds: Path) -> None:
    r = runner.invoke(app, ["survey", "diff", "r1", "r2", "--format", "json", "--data-dir", str(rounds)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    got = {(c["name"], c["what"], c["change"], c["before"], c["after"]) for c in d["changes"]}
    assert got == EXPECTED
    assert len(d["changes"]) == len(EXPECTED)
    regions = {c["name"]: c["region"] for c in d["changes"]}
    assert regions["北海道甲市"] == "北海道" and regions["東京都寅区"] == "関東"
    assert d["summary"]["fixed"] == 4 and d["summary"]["unknown"] == 2
    assert d["list_changes"]["moved"][0]["after"] == "h.lg.test"


def test_diff_csv_has_a_bom_and_japanese(rounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    r = runner.invoke(app, ["survey", "diff", "r1", "r2", "--format", "csv", "--lang", "ja", "-o", str(out),
                            "--data-dir", str(rounds)])
    assert r.exit_code == 0, r.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["団体名", "地域", "都道府県", "ドメイン", "項目", "変化", "前回", "今回"]
    byname = {(x[0], x[4]): x for x in rows[1:]}
    assert byname[("北海道甲市", "SPF")][5:] == ["導入", "なし", "あり"]
    assert byname[("宮城県丁町", "SPF の all")][5:] == ["改善", "~all", "'-all"]  # quoted: never a formula
    assert byname[("栃木県壬市", "団体")][5] == "団体削除"
    text = raw.decode("utf-8-sig")
    for word in ("adopted", "dropped", "fixed", "broke", "unknown", "removed", "yes", ",no,"):
        assert word not in text, word
    r = runner.invoke(app, ["survey", "diff", "r1", "r2", "--format", "csv", "--lang", "en", "--data-dir",
                            str(rounds)])
    assert "Name,Region,Prefecture" in r.stdout and "Hokkaido" in r.stdout and "adopted" in r.stdout


def test_diff_table_and_errors(rounds: Path) -> None:
    r = runner.invoke(app, ["survey", "diff", "r1", "r2", "--lang", "ja", "--data-dir", str(rounds)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "改善 4" in r.stdout and "団体追加" in r.stdout and "宮城県丁町" in r.stdout
    from ja_check import english_leftovers

    assert english_leftovers(r.stdout, {"r1", "r2"}) == []
    r = runner.invoke(app, ["survey", "diff", "r1", "r2", "--format", "xml", "--data-dir", str(rounds)])
    assert r.exit_code == 2 and "--format" in r.output
    r = runner.invoke(app, ["survey", "diff", "r1", "nope", "--data-dir", str(rounds)])
    assert r.exit_code == 2 and "no round named 'nope'" in r.output
    r = runner.invoke(app, ["survey", "diff", "r2", "r2", "--format", "json", "--data-dir", str(rounds)])
    assert json.loads(r.stdout)["changes"] == []
