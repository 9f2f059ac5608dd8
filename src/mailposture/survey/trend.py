"""Adoption over rounds: the same grouping computed for every complete round, as series per group."""

from __future__ import annotations

from typing import Any

from mailposture.report.tables import aggregate, overall_label
from mailposture.survey.catalog import Catalog, CatalogError
from mailposture.survey.lists import group_sort_key
from mailposture.survey.rounds import load_results, load_round_list

TREND_METRICS = ("spf", "dmarc", "dmarc_covered", "dmarc_enforcing")


def build_trend(cat: Catalog, by: str | None, rounds: list[str] | None = None, *, count: str = "any",
                lang: str = "ja") -> dict[str, Any]:
    infos = [cat.require(r) for r in rounds] if rounds else [r for r in cat.list() if r.status == "complete"]
    infos = [i for i in infos if i.status == "complete"]
    if not infos:
        raise CatalogError("no complete round to compare; run 'mailposture survey run' first")
    reports = []
    for info in infos:
        lst = load_round_list(cat, info)
        if by and lst.bodies and by not in lst.bodies[0].attrs:
            raise CatalogError(f"round '{info.name}': its list has no column '{by}' "
                               f"(columns: {', '.join(lst.columns)})")
        reports.append(aggregate(lst.bodies, load_results(cat, info), by=by, count=count, round_name=info.name,
                                 lang=lang))
    groups: dict[str, str] = {}
    for rep in reports:
        for g in rep["groups"]:
            groups.setdefault(g["group"], g["label"])
    key = group_sort_key(by or "", None)
    series = []
    for gname in sorted(groups, key=key):
        s: dict[str, Any] = {"group": gname, "label": groups[gname], "total": []}
        for m in TREND_METRICS:
            s[m] = []
            s[m + "_count"] = []
        for rep in reports:
            g = next((x for x in rep["groups"] if x["group"] == gname), None)
            s["total"].append(g["total"] if g else None)
            for m in TREND_METRICS:
                s[m].append(g[m]["rate"] if g else None)
                s[m + "_count"].append(g[m]["count"] if g else None)
        series.append(s)
    ov: dict[str, Any] = {"group": "", "label": overall_label(reports[0], lang), "overall": True,
                          "total": [r["overall"]["total"] for r in reports]}
    for m in TREND_METRICS:
        ov[m] = [r["overall"][m]["rate"] for r in reports]
        ov[m + "_count"] = [r["overall"][m]["count"] for r in reports]
    series.append(ov)
    return {"by": by, "count": count, "rounds": [i.name for i in infos], "series": series,
            "synthetic": any(i.synthetic for i in infos)}


def trend_table(trend: dict[str, Any], lang: str = "ja") -> tuple[list[str], list[list[Any]]]:
    from mailposture.report.tables import by_label

    cols = [by_label(trend.get("by"), lang)]
    for r in trend["rounds"]:
        cols += [f"{r} SPF (%)", f"{r} DMARC (%)"]
    rows = []
    for s in trend["series"]:
        row: list[Any] = [s["label"]]
        for i in range(len(trend["rounds"])):
            for m in ("spf", "dmarc"):
                v, c, t = s[m][i], s[m + "_count"][i], s["total"][i]
                row.append("" if v is None else f"{v:.1f} ({c}/{t})")
        rows.append(row)
    return cols, rows
