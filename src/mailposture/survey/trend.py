"""Adoption over rounds: the same grouping computed for every complete round, as series per group.

Each series carries, per metric, the rate, the count and the change against the previous round in percentage
points (``<metric>_delta``: computed from the counts, unrounded; ``None`` for the first round or where the group
is missing). ``list_changes`` says, for each pair of consecutive rounds, which bodies the list added, removed or
moved to another domain (:mod:`mailposture.survey.changes`) — a rate can move because the list changed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from mailposture.report.tables import aggregate, overall_label
from mailposture.survey.catalog import Catalog, CatalogError
from mailposture.survey.changes import list_changes
from mailposture.survey.lists import group_sort_key
from mailposture.survey.rounds import load_results, load_round_list

TREND_METRICS = ("spf", "dmarc", "dmarc_covered", "dmarc_enforcing")


def build_trend(cat: Catalog, by: str | None, rounds: list[str] | None = None, *, count: str = "any",
                lang: str = "ja") -> dict[str, Any]:
    infos = [cat.require(r) for r in rounds] if rounds else [r for r in cat.list() if r.status == "complete"]
    infos = [i for i in infos if i.status == "complete"]
    if not infos:
        raise CatalogError("no complete round to compare; run 'mailposture survey run' first",
                           "比べられる完了した調査回がありません。先に mailposture survey run を実行してください")
    reports = []
    lists = []
    for info in infos:
        lst = load_round_list(cat, info)
        if by and lst.bodies and by not in lst.bodies[0].attrs:
            raise CatalogError(f"round '{info.name}': its list has no column '{by}' "
                               f"(columns: {', '.join(lst.columns)})",
                               f"調査回「{info.name}」のリストに列「{by}」がありません "
                               f"(列: {', '.join(lst.columns)})")
        lists.append(lst)
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
    for s in series:
        for m in TREND_METRICS:
            s[m + "_delta"] = _deltas(s[m + "_count"], s["total"])
    changes = []
    for i in range(1, len(infos)):
        ch = list_changes(lists[i - 1].bodies, lists[i].bodies)
        if ch.changed:
            changes.append({"from": infos[i - 1].name, "to": infos[i].name, **ch.to_json(), "note": ch.note(lang)})
    return {"by": by, "count": count, "rounds": [i.name for i in infos], "series": series,
            "synthetic": any(i.synthetic for i in infos), "list_changes": changes}


def _deltas(counts: list[int | None], totals: list[int | None]) -> list[float | None]:
    out: list[float | None] = [None]
    for i in range(1, len(counts)):
        c0, t0, c1, t1 = counts[i - 1], totals[i - 1], counts[i], totals[i]
        out.append(None if not t0 or not t1 or c0 is None or c1 is None
                   else float(Fraction(100 * c1, t1) - Fraction(100 * c0, t0)))
    return out


def points(delta: float | None) -> str:
    """A change in percentage points as people read it: '+3.2', '-0.5', '±0.0' (half away from zero, like Excel's
    ROUND), '' when there is no previous round."""
    if delta is None:
        return ""
    d = Decimal(repr(delta)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return "±0.0" if d == 0 else f"{d:+.1f}"


def trend_table(trend: dict[str, Any], lang: str = "ja") -> tuple[list[str], list[list[Any]]]:
    from mailposture.report.tables import by_label

    pt = "ポイント" if lang == "ja" else "pt"
    cols = [by_label(trend.get("by"), lang)]
    for i, r in enumerate(trend["rounds"]):
        cols += [f"{r} SPF (%)", f"{r} DMARC (%)"]
        if i:
            cols += [f"{r} Δ SPF ({pt})", f"{r} Δ DMARC ({pt})"]
    rows = []
    for s in trend["series"]:
        row: list[Any] = [s["label"]]
        for i in range(len(trend["rounds"])):
            for m in ("spf", "dmarc"):
                v, c, t = s[m][i], s[m + "_count"][i], s["total"][i]
                row.append("" if v is None else f"{v:.1f} ({c}/{t})")
            if i:
                row += [points(s[m + "_delta"][i]) for m in ("spf", "dmarc")]
        rows.append(row)
    return cols, rows


def change_notes(trend: dict[str, Any], lang: str = "ja") -> list[str]:
    """One line per pair of rounds whose list changed (names included)."""
    head = "リストの変更" if lang == "ja" else "List changed"
    return [f"{head} ({c['from']} → {c['to']}): {c['note']}" for c in trend.get("list_changes") or ()]
