"""The configuration-content survey (issue 11): ``survey report --table NAME``, pure functions from a round's
results to one JSON shape for every table::

    {"round", "table", "by": [...], "count", "groups": [{"group": {"region": "東北", ...}, "level", "label",
     "total", "rows": [{"key", "label", "count", "rate", "pct"}]}], "overall": {"total", "rows": [...]},
     "keys": [{"key", "label"}], "exclusive", "definitions": {key or "table": text}}

``total`` is the number of bodies in the group; ``rate`` = count / total as an unrounded fraction; ``pct`` the
percentage rounded half-up to one decimal (:func:`pct1`), the text every format shows. A body is counted the way
the adoption table counts it (:mod:`mailposture.report.tables`): over all its domains (``count="any"``) or its
primary domain only (``"primary"``). In an *exclusive* table every body has exactly one key (the keys add up to
``total``); a body with several domains takes the first key, in the table's key order, that one of its domains has
(the strictest configuration, then unknown before absent, as the adoption table does). In the other tables a body
has a key when any of its domains has it.

Grouping: ``by`` is a list of list columns (``region``, ``prefecture``, ``kind`` …) or derived columns registered in
:data:`DERIVED_COLUMNS`; with several columns every prefix is a subtotal level (``region`` subtotal rows, then
its ``region, prefecture`` rows), ``level`` says which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailposture.report.content_keys import (
    IPV4_KEYS,
    POLICIES,
    SPF_ALL_KEYS,
    adoption_keys,
    dmarc_policy_key,
    dmarc_tag_keys,
    ipv4_key,
    mistake_keys,
    rua_destinations,
    rua_keys,
    spf_all_key,
    spf_provider_keys,
)
from mailposture.report.groups import (
    DERIVED_COLUMNS,
    body_value,
    grouping,
    pct1,
    resolve_columns,
    value_label,
)
from mailposture.survey.lists import Body

Result = dict[str, Any]
__all__ = ["DERIVED_COLUMNS", "TABLES", "TABLE_NAMES", "content_report", "pct1", "value_label"]

def T(lang: str, ja: str, en: str) -> str:
    return ja if lang == "ja" else en


# ---------------------------------------------------------------------------------------------------------------
# Table definitions

@dataclass(frozen=True, slots=True)
class Table:
    name: str
    title: tuple[str, str]
    exclusive: bool
    keys: tuple[str, ...]                 # fixed keys in order ( () : keys come from the data )
    domain_keys: Callable[[Result | None], Any]   # a key (exclusive) or a set of keys
    definition: tuple[str, str]
    key_defs: dict[str, tuple[str, str]] = field(default_factory=dict)
    chart: str = "bars"                   # "stacked" (exclusive) or "bars"
    priority: tuple[str, ...] = ()        # exclusive: which key a body with several domains takes (default: keys)


def _labels(keys: Iterable[str], table: str, lang: str) -> dict[str, str]:
    out = {}
    for k in keys:
        out[k] = key_label(table, k, lang)
    return out


KEY_LABELS: dict[str, tuple[str, str]] = {
    "reject": ("reject (拒否)", "reject"), "quarantine": ("quarantine (隔離)", "quarantine"),
    "none": ("none (監視のみ)", "none (monitor only)"), "absent": ("レコードなし", "no record"),
    "unknown": ("不明 (DNS エラー)", "unknown (DNS error)"),
    "-all": ("fail (-all)", "fail (-all)"), "~all": ("softfail (~all)", "softfail (~all)"),
    "?all": ("neutral (?all)", "neutral (?all)"), "+all": ("すべて許可 (+all)", "pass all (+all)"),
    "redirect": ("redirect (all なし)", "redirect (no all)"), "no-all": ("all も redirect もなし", "no all, no redirect"),
    "invalid": ("無効 (permerror)", "invalid (permerror)"),
    "pct<100": ("pct < 100", "pct < 100"), "t=y": ("t=y (テストモード)", "t=y (test mode)"),
    "psd:y": ("psd=y", "psd=y"), "psd:n": ("psd=n", "psd=n"),
    "source:own": ("自身のレコード", "own record"),
    "source:organizational": ("組織ドメインのレコード (PSL)", "organizational domain's record (PSL)"),
    "source:tree-walk": ("ツリーウォークで発見", "found by the tree walk"),
    "rua": ("rua 指定あり", "rua set"), "ruf": ("ruf 指定あり", "ruf set"),
    "rua:same-organization": ("rua: 同じ組織のドメイン宛て", "rua: same organization"),
    "rua:external-authorized": ("rua: 外部宛て (承認レコードあり)", "rua: external, authorized"),
    "rua:external-unauthorized": ("rua: 外部宛て (承認レコードなし)", "rua: external, not authorized"),
    "rua:external-unknown": ("rua: 外部宛て (承認の確認不能)", "rua: external, authorization unknown"),
    "0": ("0 (IPv4 なし)", "0 (no IPv4)"), "<=256": ("1–256 (/24 以下)", "1–256 (up to /24)"),
    "<=65536": ("257–65,536 (/16 以下)", "257–65,536 (up to /16)"),
    "<=16m": ("65,537–16,777,216 (/8 以下)", "65,537–16,777,216 (up to /8)"),
    "over-16m": ("16,777,217 以上 (/8 超)", "over 16,777,216 (more than a /8)"),
    "spf": ("SPF", "SPF"), "dmarc": ("DMARC", "DMARC"), "spf_valid": ("SPF 有効", "SPF valid"),
    "spf_fail_all": ("SPF -all", "SPF -all"), "dmarc_covered": ("DMARC 適用 (組織ドメイン含む)", "DMARC covered"),
    "dmarc_enforcing": ("DMARC 強制 (quarantine/reject)", "DMARC enforcing"),
    "dmarc_rua": ("DMARC rua 指定", "DMARC rua set"), "mx": ("MX", "MX"),
}
for _t in ("sp", "np"):
    for _p in POLICIES:
        KEY_LABELS[f"{_t}:{_p}"] = (f"{_t}={_p}", f"{_t}={_p}")


def key_label(table: str, key: str, lang: str) -> str:
    if table == "spf-providers":
        from mailposture.checks.spf.providers import spf_catalogue

        p = spf_catalogue().get(key)
        return f"{p.label(lang)} ({key})" if p else key
    if table == "dmarc-reports" and key.startswith("dest:"):
        from mailposture.checks.spf.providers import report_service

        host = key[5:]
        p = report_service(host)
        return f"{p.label(lang)} ({host})" if p else host
    if table == "mistakes":
        from mailposture.findings import CATALOG
        from mailposture.report.tables import _short

        d = CATALOG.get(key)
        return f"{key}: {_short(d.ja if lang == 'ja' else d.en)}" if d else key
    ja, en = KEY_LABELS.get(key, (key, key))
    return ja if lang == "ja" else en


TABLES: dict[str, Table] = {
    "adoption": Table(
        "adoption", ("SPF・DMARC レコード宣言率", "SPF and DMARC adoption"), False,
        ("spf", "dmarc", "spf_valid", "spf_fail_all", "dmarc_covered", "dmarc_enforcing", "dmarc_rua", "mx"),
        adoption_keys,
        ("SPF: ドメイン自体に v=spf1 の TXT レコードがある。DMARC: _dmarc.<ドメイン> に DMARC レコードがある "
         "(継承は含まない)。適用: 自身または組織ドメインのレコードが適用される。",
         "SPF: a v=spf1 TXT record at the domain itself. DMARC: a DMARC record at _dmarc.<domain> (inherited "
         "not included). Covered: its own or its organizational domain's record applies.")),
    "dmarc-policy": Table(
        "dmarc-policy", ("DMARC 実効ポリシー", "Effective DMARC policy"), True,
        ("reject", "quarantine", "none", "absent", "unknown"), dmarc_policy_key,
        ("受信側がその団体のドメインのメールに適用するポリシー: 自身のレコードの p、組織ドメイン (PSL またはツリー"
         "ウォーク) で見つかったレコードでは sp があれば sp、なければ p。_dmarc が NXDOMAIN、CNAME の参照先なし、"
         "DMARC 以外のレコード、複数レコードは「レコードなし」。「不明」は再試行後も DNS が応答しなかった場合のみ。"
         "5 区分の合計が団体数。",
         "The policy a receiver applies to mail from the body's domain: its own record's p, or for a record found "
         "at the organizational domain (PSL or tree walk) that record's sp if present, else its p. NXDOMAIN at "
         "_dmarc, a dangling CNAME, a non-DMARC record or several records is 'no record'; 'unknown' only when DNS "
         "could not answer after retries. The five add up to the number of bodies."), chart="stacked",
        priority=("reject", "quarantine", "none", "unknown", "absent")),
    "dmarc-tags": Table(
        "dmarc-tags", ("DMARC タグの使用状況", "DMARC tags in use"), False,
        ("sp:none", "sp:quarantine", "sp:reject", "np:none", "np:quarantine", "np:reject", "pct<100", "t=y",
         "psd:y", "psd:n", "source:own", "source:organizational", "source:tree-walk", "rua", "ruf",
         "rua:external-authorized", "rua:external-unauthorized"), dmarc_tag_keys,
        ("適用される DMARC レコード (自身または組織ドメイン) のタグ。pct < 100 は RFC 7489 のタグ (RFC 9989 では廃止)。"
         "psd は明示された値のみ。取得元: 自身 / 組織ドメイン (PSL) / ツリーウォーク (RFC 9989)。",
         "Tags of the DMARC record that applies (own or organizational). pct < 100 is an RFC 7489 tag (removed by "
         "RFC 9989). psd only when set explicitly. Source: own / organizational domain (PSL) / tree walk "
         "(RFC 9989).")),
    "dmarc-reports": Table(
        "dmarc-reports", ("DMARC レポートの送信先", "DMARC report destinations"), False,
        ("rua", "ruf", "rua:same-organization", "rua:external-authorized", "rua:external-unauthorized",
         "rua:external-unknown"), lambda r: rua_keys(r) | {f"dest:{d}" for d in rua_destinations(r)},
        ("rua/ruf の指定と rua の送信先。外部宛て = 送信先の組織ドメインがポリシーのドメインと異なる (RFC 7489 §7.1)。"
         "承認レコード = <ドメイン>._report._dmarc.<送信先> の v=DMARC1。送信先は登録ドメイン別、既知のレポート分析"
         "サービスは名称付き (同梱の出典付き一覧)。",
         "rua/ruf set, and where rua reports go. External = the destination's organizational domain differs "
         "from the policy domain's (RFC 7489 §7.1); authorized = v=DMARC1 at <domain>._report._dmarc.<destination>. "
         "Destinations by registrable domain, known report-processing services named (bundled, sourced list).")),
    "spf-all": Table(
        "spf-all", ("SPF の all 指定", "SPF 'all' qualifier"), True, SPF_ALL_KEYS, spf_all_key,
        ("レコード自身の all の限定子 (all 単独は +all)。redirect = all がなく redirect= がある (先は追わない)。"
         "無効 = レコードだけで決まる permerror (複数レコード、構文エラー、include/redirect 全体で 10 を超える DNS "
         "参照、2 を超える void lookup、SPF レコードが 1 つでない include/redirect 先)。不明 = ドメインまたはその"
         "ツリーで再試行後も DNS が応答しなかった。合計が団体数。",
         "The qualifier of the record's own 'all' (bare 'all' is +all). redirect = no 'all' and a redirect= (the "
         "target is not followed for this key). Invalid = a permerror the records alone decide (several records, "
         "a syntax error, more than 10 DNS-querying terms over the include/redirect tree, more than 2 void "
         "lookups, an include or redirect target without exactly one SPF record). Unknown = DNS could not answer "
         "after retries, for the domain or anywhere in its tree. They add up to the number of bodies."),
        chart="stacked"),
    "spf-providers": Table(
        "spf-providers", ("SPF で指定されている事業者", "Providers in SPF records"), False, (),
        spf_provider_keys,
        ("include/redirect のツリー全体 (自組織の _spf 等を経由したものを含む) の参照先。同梱の出典付き一覧にある"
         "事業者は名称付き、それ以外は参照先の登録ドメイン。自組織のドメインは除く。",
         "Include/redirect targets over the whole tree (also through the body's own _spf include). Providers in "
         "the bundled, sourced catalogue are named; other targets are shown by registrable domain. The body's "
         "own organization is left out.")),
    "mistakes": Table(
        "mistakes", ("よくある設定の誤り (検出コード別)", "Most common mistakes (by finding code)"), False, (),
        mistake_keys,
        ("重要度 error / warning の検出コード。レコードなし・判定・DNS エラーは除く。コードの説明は docs/findings.md。",
         "Finding codes of severity error or warning; absence, verdicts and DNS failures are left out. Each "
         "code is explained in docs/findings.md.")),
    "ipv4-space": Table(
        "ipv4-space", ("SPF が許可する IPv4 アドレス数", "IPv4 space authorized by SPF"), True, IPV4_KEYS,
        ipv4_key,
        ("SPF レコードが (include を含め) 許可する IPv4 アドレス数。最初に一致する機構で判定し、重複は数えない。"
         "複数ドメインの団体は最初に該当した区分 (小さい方から)。",
         "IPv4 addresses the SPF record authorizes (includes too), by the first matching mechanism, without double "
         "counting. A body with several domains takes its first bucket in this order (smallest first)."),
        chart="stacked"),
}
TABLE_NAMES = tuple(TABLES)
COMMON_DEFS = (
    "割合の分母は各グループの団体数。割合は小数第 1 位で四捨五入 (すべての形式で同じ)。",
    "Rates are over all bodies in the group, rounded half-up to one decimal (the same in every format).",
)
COUNT_DEFS = {
    "any": ("複数のドメインを持つ団体は、いずれかのドメインが該当すれば該当とする。",
            "A body with several domains counts when any of its domains does."),
    "primary": ("団体の代表ドメイン (domain 列) だけで判定する。", "Only the body's primary domain decides."),
}


# ---------------------------------------------------------------------------------------------------------------
# The report

def body_keys(table: Table, doms: list[Result | None]) -> set[str]:
    if table.exclusive:
        got = [table.domain_keys(r) for r in doms] or [table.keys[-1]]
        order = {k: i for i, k in enumerate(table.priority or table.keys)}
        return {min(got, key=lambda k: order.get(k, len(order)))}
    out: set[str] = set()
    for r in doms:
        out |= set(table.domain_keys(r))
    return out


def _rows(keys: Sequence[str], per_body: list[set[str]], idx: Iterable[int], labels: dict[str, str]
          ) -> tuple[int, list[dict[str, Any]]]:
    idx = list(idx)
    n = len(idx)
    counts = dict.fromkeys(keys, 0)
    for i in idx:
        for k in per_body[i]:
            if k in counts:
                counts[k] += 1
    return n, [{"key": k, "label": labels[k], "count": c, "rate": (c / n) if n else 0.0, "pct": pct1(c, n)}
               for k, c in counts.items()]


def content_report(bodies: Sequence[Body], results: dict[str, Result], table: str, *, by: Sequence[str] = (),
                   count: str = "any", round_name: str = "", lang: str = "ja") -> dict[str, Any]:
    if table not in TABLES:
        raise ValueError(f"unknown table '{table}' (tables: {', '.join(TABLES)})")
    if count not in ("any", "primary"):
        raise ValueError("count must be 'any' or 'primary'")
    spec = TABLES[table]
    cols = resolve_columns(bodies, by)
    per_body = [body_keys(spec, [results.get(d) for d in b.domains(count)]) for b in bodies]
    if spec.keys:
        keys = list(spec.keys)
        extra: list[str] = []
        if table == "dmarc-reports":  # destinations after the fixed keys, most common first
            tally: dict[str, int] = {}
            for s in per_body:
                for k in s:
                    if k.startswith("dest:"):
                        tally[k] = tally.get(k, 0) + 1
            extra = sorted(tally, key=lambda k: (-tally[k], k))
        keys += extra
    else:
        tally = {}
        for s in per_body:
            for k in s:
                tally[k] = tally.get(k, 0) + 1
        keys = sorted(tally, key=lambda k: (-tally[k], k))
    labels = _labels(keys, table, lang)
    groups = []
    for values, idx in grouping(bodies, cols):
        n, rows = _rows(keys, per_body, idx, labels)
        groups.append({"group": values, "level": len(values),
                       "label": " / ".join(value_label(c, v, lang) for c, v in values.items()),
                       "total": n, "rows": rows})
    n, rows = _rows(keys, per_body, range(len(bodies)), labels)
    overall: dict[str, Any] = {"total": n, "rows": rows}
    if table == "mistakes":  # who has each code (xlsx / csv / json)
        who: dict[str, list[dict[str, str]]] = {k: [] for k in keys}
        for b, s in zip(bodies, per_body, strict=True):
            for k in s:
                who[k].append({"name": b.attrs.get("name", ""), "domain": b.domain,
                               **{c: body_value(b, c) for c in cols}})
        for r in overall["rows"]:
            r["bodies"] = who[r["key"]]
    defs = {"table": T(lang, *spec.definition), "rate": T(lang, *COMMON_DEFS), "count": T(lang, *COUNT_DEFS[count])}
    defs.update({k: labels[k] for k in keys})
    return {"round": round_name, "table": table, "by": cols, "count": count, "lang": lang,
            "title": T(lang, *spec.title), "exclusive": spec.exclusive, "chart": spec.chart,
            "keys": [{"key": k, "label": labels[k]} for k in keys], "groups": groups, "overall": overall,
            "definitions": defs}
