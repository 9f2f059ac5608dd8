"""What changed between two rounds, per body: the working group's follow-up list.

Bodies are matched by identity (:mod:`mailposture.survey.changes`: code, else name, else domain), so a body that
moved to another domain (often to ``.lg.jp``) is one body with a ``domain`` change, not a removal and an addition.
Each change names the body and its region. Change keys (stable, language-independent):

- ``adopted`` / ``dropped``: SPF (a ``v=spf1`` record) or DMARC (a record at ``_dmarc``) published / no longer;
- ``policy``: the effective DMARC policy changed (none / quarantine / reject);
- ``fixed``: the SPF record became valid, its ``all`` got stricter (``~all`` → ``-all``), or it came back within
  the 10-lookup limit (RFC 7208 §4.6.4);
- ``broke``: the SPF record became invalid or went over the lookup limit;
- ``weakened``: the ``all`` got laxer (``-all`` → ``~all`` …);
- ``unknown``: a DNS error in either round, so no change can be stated (never an adoption or a drop);
- ``domain``: the body's domains changed; ``added`` / ``removed``: the body is only in the later / earlier list.
"""

from __future__ import annotations

from typing import Any

from mailposture.report.bodies import body_view
from mailposture.report.tables import body_facts
from mailposture.survey.catalog import Catalog, CatalogError
from mailposture.survey.changes import attr, display_name, list_changes
from mailposture.survey.lists import Body
from mailposture.survey.rounds import load_results, load_round_list

CHANGES = ("adopted", "dropped", "policy", "fixed", "broke", "weakened", "unknown", "domain", "added", "removed")
CHANGE_LABELS = {
    "adopted": ("導入", "adopted"), "dropped": ("廃止", "dropped"), "policy": ("ポリシー変更", "policy changed"),
    "fixed": ("改善", "fixed"), "broke": ("不備が発生", "broke"), "weakened": ("緩和", "weakened"),
    "unknown": ("判定不能 (DNS エラー)", "unknown (DNS error)"), "domain": ("ドメイン変更", "domain changed"),
    "added": ("団体追加", "body added"), "removed": ("団体削除", "body removed"),
}
WHAT_LABELS = {
    "spf": ("SPF", "SPF"), "dmarc": ("DMARC", "DMARC"), "dmarc_policy": ("DMARC 実効ポリシー", "DMARC policy"),
    "spf_valid": ("SPF の有効性", "SPF validity"), "spf_all": ("SPF の all", "SPF all"),
    "spf_lookup_limit": ("SPF の DNS 参照数 (上限 10)", "SPF DNS lookups (limit 10)"),
    "domain": ("ドメイン", "domains"), "body": ("団体", "body"),
}
VALUE_LABELS = {"yes": ("あり", "yes"), "no": ("なし", "no"), "unknown": ("不明", "unknown"),
                "valid": ("有効", "valid"), "invalid": ("無効", "invalid"), "absent": ("なし", "absent"),
                "no-all": ("all なし", "no all"), "redirect": ("redirect (all なし)", "redirect (no all)")}
COLUMNS = (("name", "団体名", "Name"), ("region", "地域", "Region"), ("prefecture", "都道府県", "Prefecture"),
           ("domain", "ドメイン", "Domain"), ("what", "項目", "What"), ("change", "変化", "Change"),
           ("before", "前回", "Before"), ("after", "今回", "After"))
# how strict an SPF 'all' is (RFC 7208 §4.7, §8): +all authorizes everyone, -all fails everyone else
ALL_STRENGTH = {"+all": 0, "all": 0, "?all": 1, "no-all": 1, "redirect": 1, "~all": 2, "-all": 3}
LOOKUP_LIMIT = 10


def _state(v: bool | None) -> str:
    return "unknown" if v is None else ("yes" if v else "no")


def _over(view: dict[str, Any]) -> bool | None:
    n = view.get("spf_lookups")
    if "SPF_LOOKUP_LIMIT" in (view.get("findings") or "").split():
        return True
    return None if not isinstance(n, int) else n > LOOKUP_LIMIT


def _body_changes(a: Body, b: Body, fa: dict[str, Any], fb: dict[str, Any], va: dict[str, Any],
                  vb: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(what: str, change: str, before: Any, after: Any) -> None:
        rows.append({"what": what, "change": change, "before": "" if before is None else str(before),
                     "after": "" if after is None else str(after)})

    if a.domains() != b.domains():
        add("domain", "domain", " ".join(a.domains()), " ".join(b.domains()))
    for key in ("spf", "dmarc"):
        x, y = fa[key], fb[key]
        if x is None or y is None:
            if x != y:
                add(key, "unknown", _state(x), _state(y))
        elif x != y:
            add(key, "adopted" if y else "dropped", _state(x), _state(y))
    sa, sb = va["spf_status"], vb["spf_status"]
    if sa in ("valid", "invalid") and sb in ("valid", "invalid"):
        if sa != sb:
            add("spf_valid", "fixed" if sb == "valid" else "broke", sa, sb)
        oa, ob = _over(va), _over(vb)
        if oa is not None and ob is not None and oa != ob:
            add("spf_lookup_limit", "broke" if ob else "fixed", va.get("spf_lookups"), vb.get("spf_lookups"))
        qa, qb = ALL_STRENGTH.get(va["spf_all"]), ALL_STRENGTH.get(vb["spf_all"])
        if sa == sb == "valid" and qa is not None and qb is not None and qa != qb:
            add("spf_all", "fixed" if qb > qa else "weakened", va["spf_all"], vb["spf_all"])
    pa, pb = va["policy"], vb["policy"]
    if pa != pb and pa in ("none", "quarantine", "reject") and pb in ("none", "quarantine", "reject"):
        add("dmarc_policy", "policy", pa, pb)
    return rows


def diff_rounds(cat: Catalog, a: str, b: str, count: str = "any") -> dict[str, Any]:
    ia, ib = cat.require(a), cat.require(b)
    for info in (ia, ib):
        if info.status != "complete":
            raise CatalogError(f"round '{info.name}' is {info.status}, not complete: it cannot be compared",
                               f"調査回「{info.name}」は完了していない "
                               f"({ {'running': '実行中', 'failed': '失敗'}.get(info.status, info.status)}) ため比較できません")
    la, lb = load_round_list(cat, ia), load_round_list(cat, ib)
    ra, rb = load_results(cat, ia), load_results(cat, ib)
    ch = list_changes(la.bodies, lb.bodies)
    olds = [o for o, _ in ch.pairs]
    news = [n for _, n in ch.pairs]
    fa, fb = body_facts(olds, ra, count), body_facts(news, rb, count)
    rows: list[dict[str, Any]] = []

    def who(body: Body) -> dict[str, str]:
        return {"name": display_name(body), "region": attr(body, "region"), "prefecture": attr(body, "prefecture"),
                "domain": body.domain}

    for (o, n), x, y in zip(ch.pairs, fa, fb, strict=True):
        for r in _body_changes(o, n, x, y, body_view(o, ra, count), body_view(n, rb, count)):
            rows.append({**who(n), **r})
    for body in ch.added:
        rows.append({**who(body), "what": "body", "change": "added", "before": "", "after": body.domain})
    for body in ch.removed:
        rows.append({**who(body), "what": "body", "change": "removed", "before": body.domain, "after": ""})
    summary = {c: sum(1 for r in rows if r["change"] == c) for c in CHANGES}
    return {"a": a, "b": b, "count": count, "bodies_a": len(la.bodies), "bodies_b": len(lb.bodies),
            "common": len(ch.pairs), "summary": summary, "changes": rows, "list_changes": ch.to_json()}


def label(kind: str, value: str, lang: str) -> str:
    """A change, an item or a value in the reader's language (protocol values such as -all stay as they are)."""
    table = {"change": CHANGE_LABELS, "what": WHAT_LABELS, "value": VALUE_LABELS}[kind]
    pair = table.get(value)
    return pair[0 if lang == "ja" else 1] if pair else value


def diff_rows(d: dict[str, Any], lang: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows for csv and the terminal, in ``lang``."""
    from mailposture.survey.lists import value_label

    cols = [ja if lang == "ja" else en for _, ja, en in COLUMNS]
    rows = []
    for r in d["changes"]:
        rows.append([r["name"], value_label("region", r["region"], lang), r["prefecture"], r["domain"],
                     label("what", r["what"], lang), label("change", r["change"], lang),
                     label("value", r["before"], lang), label("value", r["after"], lang)])
    return cols, rows


def summary_line(d: dict[str, Any], lang: str) -> str:
    s = d["summary"]
    parts = [f"{label('change', c, lang)} {s[c]}" for c in CHANGES if s[c]]
    head = f"{d['a']} → {d['b']}: "
    if not parts:
        return head + ("変化なし" if lang == "ja" else "no change")
    return head + ("、" if lang == "ja" else ", ").join(parts)
