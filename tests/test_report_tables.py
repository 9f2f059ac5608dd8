"""Adoption tables from per-domain results: counting rules, unknown vs absent, shapes and formats."""

from __future__ import annotations

import json

import pytest

from mailposture.report.md import render_csv, render_json, render_md
from mailposture.report.tables import aggregate, cell_text, domain_facts, table_models
from mailposture.survey.lists import parse_list


def res(domain: str, *, spf: bool | None = False, valid: bool = True, all_q: str = "-all", lookups: int = 2,
        dmarc: bool | None = False, covered: bool | None = None, policy: str | None = None, rua: bool = False,
        mx: bool | None = True, includes: tuple[str, ...] = (), ipv4: int = 0, codes: tuple[str, ...] = ()) -> dict:
    covered = dmarc if covered is None else covered
    rec = ("v=spf1 " + " ".join(f"include:{i}" for i in includes) + f" {all_q}") if spf else None
    return {
        "domain": domain, "status": "error" if None in (spf, dmarc, mx) else "ok",
        "spf": {"present": spf, "valid": valid if spf else None, "record": rec, "all": all_q if spf else None,
                "dns_lookups": lookups, "includes": list(includes), "authorized_ipv4": ipv4,
                "findings": [{"code": c, "severity": "error"} for c in codes]},
        "dmarc": {"present": dmarc, "covered": covered, "policy": policy if covered else None,
                  "rua": ["mailto:a@b.example"] if rua else [], "findings": []},
        "mx": {"present": mx, "findings": []},
        "dns": {"queries": 3, "errors": [], "answers": []}, "findings": [],
    }


LIST = parse_list("domain,mail_domains,region\n"
                  "a.example,,北海道\n"          # SPF only
                  "b.example,mail.b.test,北海道\n"  # web domain bare, mail domain complete
                  "c.example,,東北\n"            # DNS failure: unknown
                  "d.example,,東北\n"            # DMARC inherited only, over lookup limit
                  "e.example,,東北\n".encode(), "t")  # nothing at all
RESULTS = {
    "a.example": res("a.example", spf=True, includes=("_spf.prov.example",), ipv4=256),
    "b.example": res("b.example", mx=False),
    "mail.b.test": res("mail.b.test", spf=True, all_q="~all", dmarc=True, policy="reject", rua=True,
                       includes=("_spf.prov.example", "spf.other.test"), ipv4=70000),
    "c.example": res("c.example", spf=None, dmarc=None, mx=None),
    "d.example": res("d.example", spf=True, valid=False, lookups=11, dmarc=False, covered=True,
                     policy="quarantine", codes=("SPF_LOOKUP_LIMIT",)),
    "e.example": res("e.example"),
}


def test_domain_facts_unknown_is_not_absent() -> None:
    f = domain_facts(RESULTS["c.example"])
    assert f["spf"] is None and f["dmarc"] is None and f["dmarc_covered"] is None and f["mx"] is None
    assert f["policy"] == "unknown"
    g = domain_facts(RESULTS["e.example"])
    assert g["spf"] is False and g["dmarc"] is False and g["policy"] is None
    assert domain_facts(None)["spf"] is None  # a domain without any result is unknown too


def test_fail_all_needs_a_valid_record() -> None:
    d = domain_facts(RESULTS["d.example"])
    assert d["spf"] is True and d["spf_valid"] is False and d["spf_fail_all"] is False and d["spf_over_limit"]


def test_any_counts_a_body_when_any_domain_has_it() -> None:
    rep = aggregate(LIST.bodies, RESULTS, by="region", count="any", round_name="r1")
    assert [g["group"] for g in rep["groups"]] == ["北海道", "東北"]
    hok, toh = rep["groups"]
    assert hok["total"] == 2 and hok["spf"] == {"count": 2, "rate": 100.0, "unknown": 0}
    assert hok["dmarc"]["count"] == 1 and hok["policy"]["reject"]["count"] == 1
    assert hok["mx"]["count"] == 2  # b.example has no MX, its mail domain has
    assert toh["spf"] == {"count": 1, "rate": 33.3, "unknown": 1}
    assert toh["dmarc"] == {"count": 0, "rate": 0.0, "unknown": 1}
    assert toh["dmarc_covered"]["count"] == 1 and toh["policy"]["quarantine"]["count"] == 1
    assert toh["dmarc_enforcing"]["count"] == 1 and toh["spf_over_limit"]["count"] == 1
    assert toh["errors"] == {"count": 1, "rate": 33.3}
    o = rep["overall"]
    assert o["total"] == 5 and o["spf"]["count"] == 3 and o["spf"]["rate"] == 60.0
    assert o["spf_fail_all"]["count"] == 1  # a.example only: ~all, and an invalid -all, do not count


def test_primary_counts_only_the_domain_column() -> None:
    rep = aggregate(LIST.bodies, RESULTS, by="region", count="primary")
    hok = rep["groups"][0]
    assert hok["spf"]["count"] == 1 and hok["dmarc"]["count"] == 0 and hok["mx"]["count"] == 1
    assert rep["content"]["domains"] == 5  # mail.b.test is out of scope


def test_json_shape_and_content_tables() -> None:
    rep = aggregate(LIST.bodies, RESULTS, by="region", round_name="2026-12")
    out = json.loads(render_json(rep, {"round": {"name": "2026-12"}}))
    assert out["round"] == "2026-12" and out["by"] == "region"
    assert set(out["groups"][0]) >= {"group", "total", "spf", "dmarc"}
    assert set(out["groups"][0]["spf"]) >= {"count", "rate"}
    assert set(out["overall"]) >= {"total", "spf", "dmarc"}
    assert any("v=spf1" in d for d in out["definitions"])
    c = out["content"]
    assert c["includes"][0] == {"target": "_spf.prov.example", "count": 2, "rate": 66.7}
    assert [b["count"] for b in c["ipv4_space"]] == [1, 1, 0, 1, 0]
    assert c["findings"][0]["code"] == "SPF_LOOKUP_LIMIT" and c["findings"][0]["count"] == 1


def test_unknown_column_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no column 'sector'"):
        aggregate(LIST.bodies, RESULTS, by="sector")


def test_rates_have_one_decimal_and_cells_read_like_the_consortium_tables() -> None:
    bodies = parse_list(("domain\n" + "".join(f"d{i}.example\n" for i in range(180))).encode(), "x").bodies
    results = {b.domain: res(b.domain, spf=i < 121) for i, b in enumerate(bodies)}
    rep = aggregate(bodies, results, by=None)
    assert rep["overall"]["spf"]["rate"] == 67.2
    head = table_models(rep, "ja")[0]
    assert head["columns"] == ["区分", "SPF (%)", "DMARC (%)"]
    assert cell_text(head["rows"][-1][1]) == "67.2 (121/180)"
    assert cell_text(head["rows"][-1][2]) == "0.0 (0/180)"


def test_markdown_and_csv() -> None:
    rep = aggregate(LIST.bodies, RESULTS, by="region", round_name="r1")
    md = render_md(rep, {"round": {"name": "r1", "list_name": "t"}}, "ja")
    assert "| 地域 | SPF (%) | DMARC (%) |" in md
    assert "| 北海道 | 100.0 (2/2) | 50.0 (1/2) |" in md
    assert "全国での SPF レコード宣言率: 60.0% (3/5)" in md
    assert "| **全国** | **60.0 (3/5)** | **20.0 (1/5)** |" in md
    en = render_md(rep, {}, "en")
    assert "| Hokkaido | 100.0 (2/2) | 50.0 (1/2) |" in en and "Definitions" in en
    rows = render_csv(rep, "ja").splitlines()
    assert rows[0].startswith("地域,団体数,SPF 該当数,SPF 割合 (%),SPF 不明")  # Japanese headers in ja
    assert rows[2].startswith("東北,3,1,33.3,1,")
    assert render_csv(rep, "en").splitlines()[0].startswith("group,total,spf_count,spf_rate,spf_unknown")


def test_hostile_group_names_stay_text() -> None:
    from openpyxl import load_workbook

    from mailposture.report.html import render_html
    from mailposture.report.xlsx import render_xlsx

    lst = parse_list(b'domain,sector\na.example,"<script>alert(1)</script>"\nb.example,=1+2\n', "h")
    results = {"a.example": res("a.example", spf=True), "b.example": res("b.example")}
    rep = aggregate(lst.bodies, results, by="sector")
    html = render_html(rep, {}, "en")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "\n'=1+2," in render_csv(rep, "en")
    import io

    wb = load_workbook(io.BytesIO(render_xlsx(rep, {}, "en")))
    ws = wb["Adoption"]
    cells = [ws.cell(row=r, column=1) for r in range(4, 6)]
    assert {c.value for c in cells} == {"<script>alert(1)</script>", "=1+2"}
    assert all(c.data_type == "s" for c in cells)


def test_xlsx_with_empty_content_tables() -> None:
    import io

    from openpyxl import load_workbook

    from mailposture.report.xlsx import render_xlsx

    lst = parse_list(b"domain\na.example\n", "e")
    rep = aggregate(lst.bodies, {"a.example": res("a.example")}, by=None)
    wb = load_workbook(io.BytesIO(render_xlsx(rep, {}, "ja")))
    assert "include 先" in wb.sheetnames and wb["include 先"].max_row == 3  # title, blank, header
    ws = wb["宣言率"]
    assert ws["A4"].value == "全体" and ws["B4"].value == 0 and ws["B4"].number_format == "0.0%"


def test_providers_grouped_by_registered_domain_and_case_insensitive_by() -> None:
    rep = aggregate(LIST.bodies, RESULTS, by="Region")
    assert rep["by"] == "region" and len(rep["groups"]) == 2
    provs = {p["provider"]: p for p in rep["content"]["providers"]}
    assert provs["prov.example"]["count"] == 2 and provs["prov.example"]["targets"] == ["_spf.prov.example"]
    assert provs["other.test"]["count"] == 1


def test_bodies_sharing_a_domain_each_count() -> None:
    lst = parse_list(b"domain,region\nshared.example,a\nshared.example,b\n", "s")
    rep = aggregate(lst.bodies, {"shared.example": res("shared.example", spf=True)}, by="region")
    assert [g["spf"]["count"] for g in rep["groups"]] == [1, 1] and rep["overall"]["spf"]["count"] == 2
    assert rep["content"]["domains"] == 1
