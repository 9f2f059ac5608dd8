"""XLSX (openpyxl): one sheet per table; numbers as numbers, rates as percentages (0.0%)."""

from __future__ import annotations

import io
from typing import Any

from mailposture.report.md import failure_line, meta_lines
from mailposture.report.tables import DEFINITIONS, headline_lines, table_models, text

SHEET_NAMES = {"headline": ("宣言率", "Adoption"), "spf": ("SPF", "SPF"), "dmarc": ("DMARC", "DMARC"),
               "policy": ("ポリシー", "Policy"), "errors": ("不明", "Unknown"), "providers": ("事業者", "Providers"), "includes": ("include 先", "Includes"),
               "ipv4": ("IPv4 範囲", "IPv4 space"), "findings": ("設定の誤り", "Mistakes"),
               "bodies": ("団体別", "Bodies")}


def render_xlsx(report: dict[str, Any], meta: dict[str, Any], lang: str = "ja",
                bodies: dict[str, Any] | None = None) -> bytes:
    """``bodies``: an optional per-body table (:func:`mailposture.report.bodies.bodies_table`), as the last sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    info = wb.active
    info.title = text(lang, "概要", "Summary")
    info["A1"] = failure_line(meta, lang) or meta.get("title") or text(lang, "送信ドメイン認証の普及状況",
                                                                          "Sender authentication adoption")
    info["A1"].font = Font(bold=True, size=14)
    r = 3
    for line in [*meta_lines(meta, lang), *headline_lines(report, lang)]:
        info.cell(row=r, column=1, value=line.strip("*"))
        r += 1
    r += 1
    info.cell(row=r, column=1, value=text(lang, "定義", "Definitions")).font = Font(bold=True)
    for d in DEFINITIONS[lang]:
        r += 1
        info.cell(row=r, column=1, value=d)
    info.column_dimensions["A"].width = 110

    head_fill = PatternFill("solid", fgColor="E2E8F0")
    for t in [*table_models(report, lang), *([bodies] if bodies else [])]:
        ja, en = SHEET_NAMES.get(t["key"], (t["key"], t["key"]))
        ws = wb.create_sheet(ja if lang == "ja" else en)
        ws["A1"] = t["title"]
        ws["A1"].font = Font(bold=True, size=12)
        # a percent cell becomes three columns: rate (as a fraction, formatted 0.0%), count, total
        cols: list[str] = []
        pct_cols = [isinstance(v, dict) for v in (t["rows"][0] if t["rows"] else [])]
        for c, is_pct in zip(t["columns"], pct_cols or [False] * len(t["columns"]), strict=False):
            if is_pct:
                base = c.replace(" (%)", "").replace("(%)", "").strip()
                count = base if base.endswith("数") else f"{base} (件数)"   # not 「ドメイン数 数」
                cols += [f"{base} (%)", text(lang, count, f"{base} count"), text(lang, "母数", "of")]
            else:
                cols.append(c)
        if not t["rows"]:
            cols = list(t["columns"])
        for j, c in enumerate(cols, start=1):
            cell = ws.cell(row=3, column=j, value=c)
            cell.font = Font(bold=True)
            cell.fill = head_fill
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for i, row in enumerate(t["rows"], start=4):
            j = 1
            is_total = t["total_row"] and i == 3 + len(t["rows"])
            for v in row:
                if isinstance(v, dict):
                    c = ws.cell(row=i, column=j, value=(v["count"] / v["total"]) if v["total"] else 0.0)
                    c.number_format = "0.0%"
                    ws.cell(row=i, column=j + 1, value=v["count"])
                    ws.cell(row=i, column=j + 2, value=v["total"])
                    j += 3
                else:
                    c = ws.cell(row=i, column=j, value=v)
                    if isinstance(v, str) and v.startswith("="):
                        c.data_type = "s"  # text from a list is never a formula
                    j += 1
            if is_total:
                for k in range(1, j):
                    ws.cell(row=i, column=k).font = Font(bold=True)
        for j in range(1, len(cols) + 1):
            ws.column_dimensions[get_column_letter(j)].width = 34 if j == 1 else 14
        ws.freeze_panes = "B4"
        if t["key"] == "bodies" and t["rows"]:
            ws.auto_filter.ref = f"A3:{get_column_letter(len(cols))}{len(t['rows']) + 3}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
