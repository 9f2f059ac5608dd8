"""Adoption tables from per-domain results: pure functions from data to the report's JSON shape.

A *body* (one row of a list) counts as having a record when any of its domains has it (``count="any"``) or when
its primary domain has it (``count="primary"``). A lookup that failed is *unknown*, never *absent*: unknown
bodies are counted apart (``unknown`` in each metric, ``errors`` per group) and are not in ``count``; the
denominator of every rate is the number of bodies in the group, as in the consortium's published tables.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from mailposture.survey.lists import Body, value_label

# metric key -> (ja, en); the headline two first.
METRICS: dict[str, tuple[str, str]] = {
    "spf": ("SPF", "SPF"),
    "dmarc": ("DMARC", "DMARC"),
    "spf_valid": ("SPF 有効", "SPF valid"),
    "spf_fail_all": ("SPF -all", "SPF -all"),
    "spf_over_limit": ("SPF 参照上限超過", "SPF over lookup limit"),
    "dmarc_covered": ("DMARC 適用 (組織ドメイン含む)", "DMARC covered (incl. organizational)"),
    "dmarc_rua": ("DMARC rua 指定", "DMARC rua set"),
    "dmarc_enforcing": ("DMARC 強制 (quarantine/reject)", "DMARC enforcing (quarantine/reject)"),
    "mx": ("MX", "MX"),
}
POLICIES = ("none", "quarantine", "reject")
BOOL_KEYS = tuple(METRICS)

DEFINITIONS = {
    "ja": [
        "SPF: ドメイン自体に v=spf1 で始まる TXT レコードが公開されている (正しいかどうかは問わない)。",
        "DMARC: _dmarc.<ドメイン> に DMARC レコードが公開されている (組織ドメインからの継承は含まない)。",
        "SPF 有効: 構文・参照回数とも正しく評価できる SPF レコード。SPF -all: 有効なレコードで末尾が -all。",
        "DMARC 適用: 自身または組織ドメイン (ツリーウォーク) の DMARC レコードが適用される。"
        "強制: 実効ポリシーが quarantine または reject。",
        "団体単位の集計: 複数のドメインを持つ団体は、いずれかのドメインが条件を満たせば該当とする。",
        "不明 (エラー): DNS 問い合わせが再試行後も失敗し、有無を判定できなかった団体。「なし」には含めない。",
        "割合の分母は各グループの団体数。",
    ],
    "en": [
        "SPF: a TXT record starting with v=spf1 is published at the domain itself (valid or not).",
        "DMARC: a DMARC record is published at _dmarc.<domain> (inherited policies not included).",
        "SPF valid: the record evaluates without error (syntax, lookup limits). SPF -all: a valid record ending in -all.",
        "DMARC covered: the domain's own or its organizational domain's (tree walk) record applies. "
        "Enforcing: the effective policy is quarantine or reject.",
        "Per body: a body with several domains counts when any of its domains meets the condition.",
        "Unknown (errors): DNS lookups still failed after a retry, so presence could not be decided; "
        "such bodies are not counted as 'absent'.",
        "Rates are over all bodies in the group.",
    ],
}


def _b(v: Any) -> bool | None:
    return None if v is None else bool(v)


def domain_facts(res: dict[str, Any] | None) -> dict[str, Any]:
    """The yes / no / unknown (None) facts of one domain's result (the check_domain contract)."""
    if not res:
        return {k: None for k in BOOL_KEYS} | {"policy": None}
    spf = res.get("spf") or {}
    dmarc = res.get("dmarc") or {}
    mx = res.get("mx") or {}
    f: dict[str, Any] = {}
    sp = _b(spf.get("present"))
    f["spf"] = sp
    codes = {x.get("code") for x in spf.get("findings", ()) if isinstance(x, dict)}
    if sp:
        f["spf_valid"] = _b(spf.get("valid"))
        all_q = str(spf.get("all") or "").lower()
        # counts only a record that evaluates: a broken record ending in -all protects nothing (RFC 7208 §4.6)
        f["spf_fail_all"] = bool(spf.get("valid")) and all_q in ("-all", "-", "fail")
        lookups = spf.get("dns_lookups")
        f["spf_over_limit"] = bool("SPF_LOOKUP_LIMIT" in codes or (isinstance(lookups, int) and lookups > 10))
    else:
        f["spf_valid"] = f["spf_fail_all"] = f["spf_over_limit"] = sp  # False stays False, None stays None
    f["dmarc"] = _b(dmarc.get("present"))
    cov = _b(dmarc.get("covered"))
    f["dmarc_covered"] = cov
    pol = dmarc.get("policy") if cov else None
    f["policy"] = pol if pol in POLICIES else ("unknown" if cov is None else None)
    if cov:
        f["dmarc_rua"] = bool(dmarc.get("rua"))
        f["dmarc_enforcing"] = pol in ("quarantine", "reject")
    else:
        f["dmarc_rua"] = f["dmarc_enforcing"] = cov
    f["mx"] = _b(mx.get("present"))
    return f


def combine(facts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Any-of over a body's domains: True if one is True, else unknown if one is unknown, else False."""
    out: dict[str, Any] = {}
    for k in BOOL_KEYS:
        vals = [f.get(k) for f in facts]
        out[k] = True if any(v is True for v in vals) else (None if any(v is None for v in vals) else False)
    rank = {"reject": 3, "quarantine": 2, "none": 1}
    pols = [f.get("policy") for f in facts if f.get("policy") in rank]
    if pols:
        out["policy"] = max(pols, key=lambda p: rank[p])
    elif any(f.get("policy") == "unknown" for f in facts):
        out["policy"] = "unknown"
    else:
        out["policy"] = None
    return out


def body_facts(bodies: Iterable[Body], results: dict[str, dict[str, Any]], count: str = "any"
               ) -> list[dict[str, Any]]:
    if count not in ("any", "primary"):
        raise ValueError("count must be 'any' or 'primary'")
    return [combine([domain_facts(results.get(d)) for d in b.domains(count)]) for b in bodies]


def _metric(facts: list[dict[str, Any]], key: str) -> dict[str, Any]:
    n = len(facts)
    c = sum(1 for f in facts if f[key] is True)
    u = sum(1 for f in facts if f[key] is None)
    return {"count": c, "rate": rate(c, n), "unknown": u}


def rate(count: int, total: int) -> float:
    """The percentage rounded half-up to one decimal, exactly (6.25 -> 6.3, as Excel shows it)."""
    from mailposture.report.groups import pct1

    return float(pct1(count, total))


def _summary(facts: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(facts)
    out: dict[str, Any] = {"total": n}
    for k in BOOL_KEYS:
        out[k] = _metric(facts, k)
    pol = Counter(f["policy"] for f in facts if f["policy"] in POLICIES)
    out["policy"] = {p: {"count": pol[p], "rate": rate(pol[p], n)} for p in POLICIES}
    err = sum(1 for f in facts if f["spf"] is None or f["dmarc"] is None)
    out["errors"] = {"count": err, "rate": rate(err, n)}
    return out


def row_label(report: dict[str, Any], g: dict[str, Any], lang: str) -> str:
    """A group's label in ``lang`` (several grouping columns: "東北 / 青原県")."""
    values = g.get("group_values")
    if isinstance(values, dict) and values:
        return " / ".join(group_label(c, v, lang) for c, v in values.items())
    return group_label(report.get("by") or "", g["group"], lang)


def group_label(column: str, value: str, lang: str) -> str:
    if not value:
        return "(空欄)" if lang == "ja" else "(blank)"
    return value_label(column, value, lang)


def aggregate(bodies: Sequence[Body], results: dict[str, dict[str, Any]], *, by: str | None,
              count: str = "any", round_name: str = "", lang: str = "ja") -> dict[str, Any]:
    """The report's JSON: ``{"round", "by", "count", "groups": [...], "overall": {...}, "content": {...}}``."""
    from mailposture.report.groups import grouping, resolve_columns, value_label

    facts = body_facts(bodies, results, count)
    groups: list[dict[str, Any]] = []
    cols = resolve_columns(bodies, [c for c in (by or "").split(",") if c.strip()])
    by = ",".join(cols) or None
    for values, idx in grouping(bodies, cols):
        g = {"group": " / ".join(values.values()),
             "label": " / ".join(value_label(c, v, lang) for c, v in values.items()),
             "group_values": values, "level": len(values)}
        g.update(_summary([facts[i] for i in idx]))
        groups.append(g)
    domains: list[str] = []
    seen: set[str] = set()
    for b in bodies:
        for d in b.domains(count):
            if d not in seen:
                seen.add(d)
                domains.append(d)
    return {"round": round_name, "by": by, "count": count, "lang": lang, "groups": groups,
            "overall": _summary(facts), "content": content_tables([results.get(d) for d in domains], lang)}


# ---------------------------------------------------------------------------------------------------------------
# Configuration content: providers, IP space, mistakes

IP_BUCKETS: tuple[tuple[int, int, str, str], ...] = (
    (0, 0, "0 (IPv4 なし)", "0 (no IPv4)"),
    (1, 256, "1–256 (/24 以下)", "1–256 (up to /24)"),
    (257, 65536, "257–65,536 (/16 以下)", "257–65,536 (up to /16)"),
    (65537, 1 << 24, "65,537–16,777,216 (/8 以下)", "65,537–16,777,216 (up to /8)"),
    ((1 << 24) + 1, 1 << 33, "16,777,217 以上 (/8 超)", "over 16,777,216 (more than a /8)"),
)


def _ipv4_count(spf: dict[str, Any]) -> int | None:
    v = spf.get("authorized_ipv4")
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, list):  # a list of networks
        total = 0
        for net in v:
            try:
                total += ipaddress.ip_network(str(net), strict=False).num_addresses
            except ValueError:
                continue
        return total
    return None


def direct_includes(spf: dict[str, Any]) -> list[str]:
    """Include targets named in the domain's own record (the providers it chose), not nested ones."""
    rec = spf.get("record")
    if isinstance(rec, str) and rec:
        out = []
        for term in rec.split()[1:]:
            t = term.lower().lstrip("+-~?")
            if t.startswith("include:") and len(t) > 8:
                out.append(t[8:].rstrip("."))
        return list(dict.fromkeys(out))
    return list(dict.fromkeys(str(x).lower() for x in spf.get("includes") or ()))


@functools.cache
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def provider_of(target: str) -> str:
    """The registrable domain of an include target (Public Suffix List): ``_spf.google.com`` -> ``google.com``."""
    return _psl().privatesuffix(target) or target


def _not_a_mistake(code: str) -> bool:
    # verdicts, plain absence (the headline tables count it) and DNS failures (unknown, not a configuration fault)
    return (code.startswith("POSTURE_") or code in ("SPF_NONE", "DMARC_NONE", "DNS_ERROR", "DOMAIN_NXDOMAIN")
            or code.endswith("_DNS_ERROR"))


def content_tables(results: Iterable[dict[str, Any] | None], lang: str = "ja", top: int = 15) -> dict[str, Any]:
    """Over domains with an SPF record: include targets, IPv4 space; over all domains: configuration mistakes
    (error and warning findings, each counted once per domain; absence, verdicts and DNS failures left out)."""
    from mailposture.findings import CATALOG

    inc: Counter[str] = Counter()
    prov: Counter[str] = Counter()
    prov_targets: dict[str, Counter[str]] = {}
    ip = Counter()
    codes: Counter[str] = Counter()
    n_spf = n_dom = 0
    for r in results:
        if not r:
            continue
        n_dom += 1
        spf = r.get("spf") or {}
        if spf.get("present"):
            n_spf += 1
            targets = direct_includes(spf)
            inc.update(targets)
            for p in dict.fromkeys(provider_of(t) for t in targets):
                prov[p] += 1
            for t in targets:
                prov_targets.setdefault(provider_of(t), Counter())[t] += 1
            cnt = _ipv4_count(spf)
            if cnt is not None:
                for i, (lo, hi, _, _) in enumerate(IP_BUCKETS):
                    if lo <= cnt <= hi:
                        ip[i] += 1
                        break
        seen = set()
        for sec in ("spf", "dmarc", "mx"):
            for f in (r.get(sec) or {}).get("findings", ()) or ():
                if isinstance(f, dict) and f.get("severity") in ("error", "warning"):
                    seen.add(f.get("code"))
        for f in r.get("findings", ()) or ():
            if isinstance(f, dict) and f.get("severity") in ("error", "warning"):
                seen.add(f.get("code"))
        codes.update(c for c in seen if c and not _not_a_mistake(c))
    li = 0 if lang == "ja" else 1
    mistakes = []
    for code, c in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
        d = CATALOG.get(code)
        title = _short(d.ja if lang == "ja" else d.en) if d else code
        mistakes.append({"code": code, "severity": d.severity if d else "", "rfc": d.rfc if d else "",
                         "title": title, "count": c, "rate": rate(c, n_dom)})
    return {
        "domains": n_dom, "spf_domains": n_spf,
        "providers": [{"provider": p, "count": c, "rate": rate(c, n_spf),
                       "targets": [t for t, _ in prov_targets[p].most_common(3)]}
                      for p, c in sorted(prov.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        "includes": [{"target": t, "count": c, "rate": rate(c, n_spf)}
                     for t, c in sorted(inc.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        "ipv4_space": [{"bucket": b[2 + li], "count": ip[i], "rate": rate(ip[i], n_spf)}
                       for i, b in enumerate(IP_BUCKETS)],
        "findings": mistakes,
    }


def _short(msg: str) -> str:
    """A catalogue message without its placeholders, cut to its first sentence."""
    import re

    s = re.sub(r"\{[a-z_0-9]+\}", "…", msg)
    for stop in (". ", "。", ": "):
        if stop in s:
            s = s.split(stop)[0] + ("。" if stop == "。" else "")
            break
    return s.strip()


def cell(m: dict[str, Any], total: int) -> str:
    """'67.2 (121/180)' as in the consortium's tables."""
    return f"{m['rate']:.1f} ({m['count']}/{total})"


# ---------------------------------------------------------------------------------------------------------------
# Table models shared by every output format (md, html, xlsx, csv)

SEVERITY_JA = {"error": "エラー", "warning": "警告", "info": "情報"}
COLUMN_NAMES_JA = {"region": "地域", "prefecture": "都道府県", "kind": "種別", "sector": "業種", "name": "名称",
                   "jp-type": "JP ドメインの種別", "code": "団体コード"}


def text(lang: str, ja: str, en: str) -> str:
    return ja if lang == "ja" else en


def by_label(by: str | None, lang: str) -> str:
    if not by:
        return text(lang, "区分", "Group")
    if "," in by:
        return " / ".join(by_label(c, lang) for c in by.split(","))
    return COLUMN_NAMES_JA.get(by.lower(), by) if lang == "ja" else by.replace("_", " ").capitalize()


def overall_label(report: dict[str, Any], lang: str) -> str:
    return text(lang, "全国", "Overall") if (report.get("by") or "").split(",")[0].lower() in ("region", "prefecture") \
        else text(lang, "全体", "All")


def pct_cell(m: dict[str, Any], total: int) -> dict[str, Any]:
    return {"count": m["count"], "total": total, "rate": m["rate"]}


def headline_lines(report: dict[str, Any], lang: str) -> list[str]:
    o = report["overall"]
    scope = text(lang, "全国での" if overall_label(report, lang) == "全国" else "全体での", "Overall ")
    out = []
    for key, ja, en in (("spf", "SPF レコード宣言率", "SPF record publication rate"),
                        ("dmarc", "DMARC レコード宣言率", "DMARC record publication rate")):
        m = o[key]
        out.append(f"{scope} {ja}: {m['rate']:.1f}% ({m['count']}/{o['total']})" if lang == "ja" else
                   f"{scope}{en}: {m['rate']:.1f}% ({m['count']}/{o['total']})")
    return out


def table_models(report: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Each table: ``{"key", "title", "columns": [...], "rows": [[cell, ...]], "total_row": bool}``.

    A cell is a str, an int, or a percent cell ``{"count", "total", "rate"}``.
    """
    groups = report["groups"]
    rows_src = [(row_label(report, g, lang), g) for g in groups] + \
        [(overall_label(report, lang), report["overall"])]
    head = by_label(report.get("by"), lang)
    tables: list[dict[str, Any]] = []

    def mk(key: str, title: str, cols: list[str], fn) -> None:
        rows = [[label, *fn(g)] for label, g in rows_src]
        tables.append({"key": key, "title": title, "columns": [head, *cols], "rows": rows,
                       "total_row": bool(groups)})

    mk("headline", text(lang, "SPF・DMARC レコード宣言率", "SPF and DMARC record publication"),
       ["SPF (%)", "DMARC (%)"],  # the consortium's published layout: the count is in each cell
       lambda g: [pct_cell(g["spf"], g["total"]), pct_cell(g["dmarc"], g["total"])])
    mk("spf", text(lang, "SPF の内訳", "SPF details"),
       [text(lang, "団体数", "Bodies"), "SPF (%)", text(lang, "有効 (%)", "Valid (%)"), "-all (%)",
        text(lang, "参照上限超過 (%)", "Over lookup limit (%)"), "MX (%)", text(lang, "不明", "Unknown")],
       lambda g: [g["total"], pct_cell(g["spf"], g["total"]), pct_cell(g["spf_valid"], g["total"]),
                  pct_cell(g["spf_fail_all"], g["total"]), pct_cell(g["spf_over_limit"], g["total"]),
                  pct_cell(g["mx"], g["total"]), g["spf"]["unknown"]])
    mk("dmarc", text(lang, "DMARC の内訳", "DMARC details"),
       [text(lang, "団体数", "Bodies"), "DMARC (%)", text(lang, "適用 (組織ドメイン含む) (%)", "Covered (%)"),
        text(lang, "強制 (%)", "Enforcing (%)"), text(lang, "rua 指定 (%)", "rua set (%)"),
        text(lang, "不明", "Unknown")],
       lambda g: [g["total"], pct_cell(g["dmarc"], g["total"]), pct_cell(g["dmarc_covered"], g["total"]),
                  pct_cell(g["dmarc_enforcing"], g["total"]), pct_cell(g["dmarc_rua"], g["total"]), g["dmarc"]["unknown"]])
    mk("policy", text(lang, "DMARC ポリシーの分布 (実効ポリシー)", "DMARC policy distribution (effective policy)"),
       [text(lang, "団体数", "Bodies"), "none (%)", "quarantine (%)", "reject (%)"],
       lambda g: [g["total"], *(pct_cell(g["policy"][p], g["total"]) for p in POLICIES)])
    mk("errors", text(lang, "判定不能 (DNS エラー)", "Undetermined (DNS errors)"),
       [text(lang, "団体数", "Bodies"), text(lang, "不明 (%)", "Unknown (%)")],
       lambda g: [g["total"], pct_cell(g["errors"], g["total"])])
    c = report.get("content") or {}
    if c:
        n_spf = c.get("spf_domains", 0)
        tables.append({"key": "providers", "title": text(lang, "メール事業者 (include 先の登録ドメイン別)",
                                                          "Mail providers (include targets by registered domain)"),
                       "columns": [text(lang, "事業者ドメイン", "Provider domain"),
                                   text(lang, "主な include 先", "Main include targets"),
                                   text(lang, "ドメイン数 (SPF のあるドメイン中 %)", "Domains (% of those with SPF)")],
                       "rows": [[x["provider"], " ".join(x["targets"]),
                                 {"count": x["count"], "total": n_spf, "rate": x["rate"]}]
                                for x in c.get("providers", ())], "total_row": False})
        tables.append({"key": "includes", "title": text(lang, "よく使われる include 先",
                                                         "Most used include targets"),
                       "columns": [text(lang, "include 先", "Include target"),
                                   text(lang, "ドメイン数 (SPF のあるドメイン中 %)", "Domains (% of those with SPF)")],
                       "rows": [[x["target"], {"count": x["count"], "total": n_spf, "rate": x["rate"]}]
                                for x in c.get("includes", ())], "total_row": False})
        tables.append({"key": "ipv4", "title": text(lang, "SPF が許可する IPv4 アドレス数の分布",
                                                     "IPv4 addresses authorized by SPF"),
                       "columns": [text(lang, "アドレス数", "Addresses"),
                                   text(lang, "ドメイン数 (%)", "Domains (%)")],
                       "rows": [[x["bucket"], {"count": x["count"], "total": n_spf, "rate": x["rate"]}]
                                for x in c.get("ipv4_space", ())], "total_row": False})
        tables.append({"key": "findings", "title": text(lang, "よくある設定の誤り (検出コード別)",
                                                         "Most common mistakes (by finding code)"),
                       "columns": [text(lang, "コード", "Code"), text(lang, "重要度", "Severity"),
                                   text(lang, "内容", "What"), "RFC",
                                   text(lang, "ドメイン数 (%)", "Domains (%)")],
                       "rows": [[x["code"], severity_word(x["severity"], lang), x["title"], x["rfc"],
                                 {"count": x["count"], "total": c.get("domains", 0), "rate": x["rate"]}]
                                for x in c.get("findings", ())], "total_row": False})
    return tables


def severity_word(severity: str, lang: str) -> str:
    """error / warning / info in the reader's language."""
    return {"error": "エラー", "warning": "警告", "info": "情報"}.get(severity, severity) if lang == "ja" else severity


def _error_word(error: Any, lang: str) -> Any:
    if lang != "ja":
        return error
    from mailposture.findings import value_ja

    return value_ja(error)


def cell_text(v: Any) -> str:
    if isinstance(v, dict):
        return f"{v['rate']:.1f} ({v['count']}/{v['total']})"
    return "" if v is None else str(v)
