"""Follow-up by body: ``survey report --table bodies`` — one row per body of the list, for the working group's
follow-up calls (xlsx sheet 団体別, csv, json).

Each row: the list's attributes (name, region, prefecture, kind, …), the body's domains, its SPF record text, the
``all`` qualifier and the DNS-querying terms counted over the include tree, its DMARC record text (the record that
applies: its own or the organizational domain's), the effective policy, the ``rua`` destinations, the finding
codes (error and warning) and the DNS errors. A body with several domains (``mail_domains``) shows, for SPF, the
first of its domains that publishes a record and, for DMARC, the domain with the strongest effective policy — the
domain that makes it count in the adoption tables (``--count any``); the columns "SPF domain" / "DMARC domain"
say which one.

Values in JSON are stable keys (``valid``, ``absent``, ``unknown``, ``own`` …); csv and xlsx show them in the
report's language. An xlsx sheet holds at most 1,048,576 rows (Excel's limit): a longer table is split over
several sheets (団体別, 団体別 (2), …) and the summary sheet says so.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from mailposture.survey.lists import Body

EXCEL_MAX_ROWS = 1_048_576
FIRST = ("name", "region", "prefecture", "kind")

# key -> (ja, en)
COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("団体名", "Name"), "region": ("地域", "Region"), "prefecture": ("都道府県", "Prefecture"),
    "kind": ("種別", "Kind"), "code": ("団体コード", "Code"), "source": ("出典", "Source"),
    "jp-type": ("JP ドメインの種別", "JP domain type"), "sector": ("業種", "Sector"),
    "domain": ("ドメイン", "Domain"), "mail_domains": ("メール用ドメイン", "Mail domains"),
    "spf_domain": ("SPF の判定ドメイン", "SPF domain"),
    "spf_status": ("SPF の状態", "SPF status"), "spf_record": ("SPF レコード", "SPF record"),
    "spf_all": ("all 修飾子", "all qualifier"), "spf_lookups": ("SPF の DNS 参照数", "SPF DNS lookups"),
    "dmarc_domain": ("DMARC の判定ドメイン", "DMARC domain"),
    "dmarc_record": ("DMARC レコード", "DMARC record"), "dmarc_source": ("DMARC の取得元", "DMARC found at"),
    "policy": ("実効ポリシー", "Effective policy"), "rua": ("集約レポート送付先 (rua)", "Aggregate reports (rua)"),
    "findings": ("検出コード", "Finding codes"), "dns_errors": ("DNS エラー", "DNS errors"),
}
# stable value -> ja (English shows the key itself, except where noted)
VALUES_JA = {
    "valid": "有効", "invalid": "無効", "absent": "なし", "unknown": "不明 (DNS エラー)", "own": "自ドメイン",
    "organizational": "組織ドメイン", "tree-walk": "上位ドメイン (ツリーウォーク)", "no-all": "all なし",
    "redirect": "redirect (all なし)",
}
VALUES_EN = {"unknown": "unknown (DNS error)", "own": "own domain", "organizational": "organizational domain",
             "tree-walk": "parent (tree walk)", "redirect": "redirect (no all)"}
TRANSLATED = ("spf_status", "spf_all", "dmarc_source", "policy")
RANK = {"reject": 3, "quarantine": 2, "none": 1}


def _spf_view(res: dict[str, Any] | None) -> dict[str, Any]:
    spf = (res or {}).get("spf") or {}
    present = spf.get("present") if res else None
    if present is None:
        return {"spf_status": "unknown", "spf_record": "", "spf_all": "unknown", "spf_lookups": None}
    if not present:
        return {"spf_status": "absent", "spf_record": "", "spf_all": "", "spf_lookups": None}
    records = [str(r) for r in spf.get("records") or [spf.get("record") or ""] if r]
    rec = " | ".join(records)
    allq = str(spf.get("all") or "")
    if not allq:
        terms = (spf.get("record") or "").lower().split()
        allq = "redirect" if any(t.startswith("redirect=") for t in terms) else "no-all"
    lookups = spf.get("dns_lookups")
    return {"spf_status": "valid" if spf.get("valid") else ("unknown" if spf.get("valid") is None else "invalid"),
            "spf_record": rec, "spf_all": allq,
            "spf_lookups": lookups if isinstance(lookups, int) and not isinstance(lookups, bool) else None}


def _dmarc_view(res: dict[str, Any] | None) -> dict[str, Any]:
    dm = (res or {}).get("dmarc") or {}
    covered = dm.get("covered") if res else None
    if covered is None:
        return {"dmarc_record": "", "dmarc_source": "", "policy": "unknown", "rua": ""}
    if not covered:
        return {"dmarc_record": "", "dmarc_source": "", "policy": "absent", "rua": ""}
    src = {"domain": "own", "organizational": "organizational", "tree-walk": "tree-walk"}.get(
        str(dm.get("source") or ""), str(dm.get("source") or ""))
    pol = dm.get("policy") if dm.get("policy") in RANK else "unknown"
    rua = dm.get("rua") or []
    return {"dmarc_record": str(dm.get("record") or ""), "dmarc_source": src, "policy": pol,
            "rua": " ".join(str(u) for u in rua) if isinstance(rua, list) else str(rua)}


def _codes(res: dict[str, Any] | None) -> set[str]:
    out: set[str] = set()
    if not res:
        return out
    lists = [res.get("findings")] + [(res.get(s) or {}).get("findings") for s in ("spf", "dmarc", "mx")]
    for fl in lists:
        for f in fl or ():
            if isinstance(f, dict) and f.get("severity") in ("error", "warning") and f.get("code"):
                out.add(str(f["code"]))
    return out


def body_view(body: Body, results: dict[str, dict[str, Any]], count: str = "any") -> dict[str, Any]:
    """The follow-up row of one body as stable values (see the module docstring for the choice of domain)."""
    doms = body.domains(count)
    views = [(d, results.get(d)) for d in doms]
    spf = [(d, _spf_view(r)) for d, r in views]
    spf_pick = next((x for x in spf if x[1]["spf_status"] in ("valid", "invalid")), None) or \
        next((x for x in spf if x[1]["spf_status"] == "unknown"), None) or spf[0]
    dm = [(d, _dmarc_view(r)) for d, r in views]
    ranked = [x for x in dm if x[1]["policy"] in RANK]
    dm_pick = max(ranked, key=lambda x: RANK[x[1]["policy"]]) if ranked else \
        next((x for x in dm if x[1]["policy"] == "unknown"), None) or dm[0]
    codes: set[str] = set()
    errs: list[str] = []
    for d, r in views:
        codes |= _codes(r)
        for e in ((r or {}).get("dns") or {}).get("errors") or ():
            if isinstance(e, dict):
                errs.append(f"{e.get('name')} {e.get('type')} {e.get('error')}")
        if r is None:
            errs.append(f"{d}: no result")
    row: dict[str, Any] = {k: v for k, v in body.attrs.items()}
    row.update({"domain": body.domain, "mail_domains": " ".join(body.mail_domains), "spf_domain": spf_pick[0],
                **spf_pick[1], "dmarc_domain": dm_pick[0], **dm_pick[1], "findings": " ".join(sorted(codes)),
                "dns_errors": "; ".join(dict.fromkeys(errs))})
    return row


def column_keys(bodies: Sequence[Body]) -> list[str]:
    attrs = list(bodies[0].attrs) if bodies else []
    first = [c for f in FIRST for c in attrs if c.lower() == f]
    rest = [c for c in attrs if c not in first]
    several = any(b.mail_domains for b in bodies)
    return [*first, *rest, "domain", *(["mail_domains", "spf_domain"] if several else []), "spf_status",
            "spf_record", "spf_all", "spf_lookups", *(["dmarc_domain"] if several else []), "dmarc_record",
            "dmarc_source", "policy", "rua", "findings", "dns_errors"]


def column_label(key: str, lang: str) -> str:
    ja, en = COLUMNS.get(key.lower(), (key, key.replace("_", " ").capitalize()))
    return ja if lang == "ja" else en


def show(key: str, value: Any, lang: str) -> Any:
    """A stable value in the reader's language (numbers stay numbers, protocol values stay as they are)."""
    if value is None:
        return ""
    if key in TRANSLATED and isinstance(value, str):
        return (VALUES_JA if lang == "ja" else VALUES_EN).get(value, value)
    if key == "dns_errors" and lang == "ja" and isinstance(value, str) and value:
        from mailposture.findings import value_ja  # "name TYPE timeout" -> "name TYPE タイムアウト"

        return "; ".join(" ".join([*e.split(" ")[:2], value_ja(" ".join(e.split(" ")[2:]))]) if e.count(" ") >= 2
                         else e for e in value.split("; "))
    if key.lower() in ("region", "kind", "jp-type") and isinstance(value, str):
        from mailposture.survey.lists import value_label

        return value_label(key, value, lang)
    return value


def bodies_table(bodies: Sequence[Body], results: dict[str, dict[str, Any]], count: str = "any",
                 lang: str = "ja") -> dict[str, Any]:
    """The table model the report renderers share: ``{"key", "title", "columns", "rows", "keys", "values"}``
    (``values``: the rows as dicts of stable values, for JSON)."""
    keys = column_keys(bodies)
    views = [body_view(b, results, count) for b in bodies]
    return {"key": "bodies", "title": "団体別の結果" if lang == "ja" else "Results per body",
            "columns": [column_label(k, lang) for k in keys], "keys": keys, "total_row": False,
            "rows": [[show(k, v.get(k), lang) for k in keys] for v in views],
            "values": [{k: v.get(k) for k in keys} for v in views]}


# ---------------------------------------------------------------------------------------------------------------
# renderings

def _safe(v: Any) -> Any:
    """Never a formula when a spreadsheet opens the CSV: a text starting with = + - @ (a list's name, a record, the
    qualifier ``-all``) gets a leading apostrophe, as OWASP advises for CSV injection."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def render_csv(table: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table["columns"])
    for row in table["rows"]:
        w.writerow([_safe(v) for v in row])
    return buf.getvalue()


def render_json(table: dict[str, Any], meta: dict[str, Any], lang: str) -> str:
    out = {"round": (meta.get("round") or {}).get("name"), "table": "bodies", "count": meta.get("count"),
           "total": len(table["values"]),
           "columns": [{"key": k, "label": c} for k, c in zip(table["keys"], table["columns"], strict=True)],
           "rows": table["values"], "meta": {k: v for k, v in meta.items() if k != "title"}}
    return json.dumps(out, ensure_ascii=False, indent=2, default=str) + "\n"


def sheet_names(n_rows: int, lang: str, max_rows: int = EXCEL_MAX_ROWS) -> list[tuple[str, int, int]]:
    """(sheet name, first row index, end index) per sheet: one header row, then up to ``max_rows - 1`` rows."""
    per = max(1, max_rows - 1)
    base = "団体別" if lang == "ja" else "Bodies"
    parts = [(i, min(i + per, n_rows)) for i in range(0, max(n_rows, 1), per)]
    return [(base if k == 0 else f"{base} ({k + 1})", a, b) for k, (a, b) in enumerate(parts)]


def split_note(parts: list[tuple[str, int, int]], total: int, lang: str, max_rows: int = EXCEL_MAX_ROWS) -> str:
    if len(parts) < 2:
        return ""
    spans = "、".join(f"{n}: {a + 1:,}–{b:,}" for n, a, b in parts) if lang == "ja" else \
        ", ".join(f"{n}: {a + 1:,}–{b:,}" for n, a, b in parts)
    if lang == "ja":
        return (f"{total:,} 団体は 1 シートの上限 ({max_rows:,} 行) を超えるため、{len(parts)} シートに分割しました"
                f" ({spans})。")
    return (f"The {total:,} bodies exceed one sheet's limit ({max_rows:,} rows): split over {len(parts)} sheets "
            f"({spans}).")


def render_xlsx(table: dict[str, Any], meta: dict[str, Any], lang: str,
                max_rows: int = EXCEL_MAX_ROWS) -> tuple[bytes, str]:
    """The workbook and the split note ("" when one sheet holds everything)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from mailposture.report.md import failure_line, meta_lines
    from mailposture.report.xlsx import cell

    rows = table["rows"]
    parts = sheet_names(len(rows), lang, max_rows)
    note = split_note(parts, len(rows), lang, max_rows)
    wb = Workbook(write_only=True)   # rows streamed in order (mailposture.report.xlsx)
    info = wb.create_sheet("概要" if lang == "ja" else "Summary")
    info.column_dimensions["A"].width = 110
    info.append([cell(info, failure_line(meta, lang) or meta.get("title") or table["title"], Font(bold=True, size=14))])
    info.append([])
    lines = [*meta_lines(meta, lang), (f"{len(rows):,} 団体" if lang == "ja" else f"{len(rows):,} bodies")]
    if note:
        lines.append(note)
    for line in lines:
        info.append([line.strip("*")])
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="E2E8F0")
    centre = Alignment(horizontal="center", wrap_text=True)
    wide = {"spf_record": 60, "dmarc_record": 50, "rua": 40, "findings": 40, "dns_errors": 50, "name": 20}
    for name, a, b in parts:
        ws = wb.create_sheet(name)
        for j in range(1, len(table["columns"]) + 1):
            ws.column_dimensions[get_column_letter(j)].width = wide.get(table["keys"][j - 1], 16)
        ws.freeze_panes = "B2"
        ws.append([cell(ws, c, head_font, fill=head_fill, alignment=centre) for c in table["columns"]])
        for row in rows[a:b]:
            ws.append([cell(ws, v) if isinstance(v, str) and v.startswith("=") else v for v in row])
        ws.auto_filter.ref = f"A1:{get_column_letter(len(table['columns']))}{max(2, b - a + 1)}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), note
