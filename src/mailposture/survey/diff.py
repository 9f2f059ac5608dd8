"""What changed between two rounds, per domain: SPF/DMARC adopted or dropped, DMARC policy changed.

A domain whose state is unknown (DNS error) in either round is listed as ``unknown``, never as adopted/dropped.
"""

from __future__ import annotations

from typing import Any

from mailposture.report.tables import domain_facts
from mailposture.survey.catalog import Catalog
from mailposture.survey.rounds import load_results, load_round_list

CHANGES = ("adopted", "dropped", "policy", "unknown")


def diff_rounds(cat: Catalog, a: str, b: str) -> dict[str, Any]:
    ia, ib = cat.require(a), cat.require(b)
    ra, rb = load_results(cat, ia), load_results(cat, ib)
    names: dict[str, dict[str, str]] = {}
    for info in (ia, ib):
        for body in load_round_list(cat, info).bodies:
            for d in body.domains("any"):
                names[d] = body.attrs
    rows: list[dict[str, Any]] = []
    for d in sorted(set(ra) & set(rb)):
        fa, fb = domain_facts(ra[d]), domain_facts(rb[d])
        attrs = names.get(d, {})
        label = attrs.get("name") or attrs.get("名称") or ""
        pref = attrs.get("prefecture", "")
        if label and pref and not label.startswith(pref):  # 府中市 is in 東京都 and in 広島県
            label = pref + label
        for key in ("spf", "dmarc"):
            before, after = fa[key], fb[key]
            if before is None or after is None:
                if before != after:
                    rows.append({"domain": d, "name": label, "what": key, "change": "unknown",
                                 "before": _state(before), "after": _state(after)})
            elif before != after:
                rows.append({"domain": d, "name": label, "what": key, "change": "adopted" if after else "dropped",
                             "before": _state(before), "after": _state(after)})
        pa, pb = fa["policy"], fb["policy"]
        if pa != pb and pa not in (None, "unknown") and pb not in (None, "unknown"):
            rows.append({"domain": d, "name": label, "what": "dmarc_policy", "change": "policy",
                         "before": pa, "after": pb})
    summary = {c: sum(1 for r in rows if r["change"] == c) for c in CHANGES}
    return {"a": a, "b": b, "only_in_a": len(set(ra) - set(rb)), "only_in_b": len(set(rb) - set(ra)),
            "common": len(set(ra) & set(rb)), "summary": summary, "changes": rows}


def _state(v: bool | None) -> str:
    return "unknown" if v is None else ("yes" if v else "no")
