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
    from openpyxl.styles import Font

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

    font = "Yu Gothic" if lang == "ja" else "Calibri"  # present on Windows and macOS (Office); Noto CJK on Linux
    for t in [*table_models(report, lang), *([bodies] if bodies else [])]:
        ja, en = SHEET_NAMES.get(t["key"], (t["key"], t["key"]))
        write_table(wb.create_sheet(ja if lang == "ja" else en), t, lang, font=font)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def slide_text(v: dict[str, Any]) -> str:
    """The slide form of a rate cell: '78.4% (1402/1788)' (half-up, as every format rounds)."""
    from mailposture.report.groups import pct1

    return f"{pct1(v['count'], v['total'])}% ({v['count']}/{v['total']})"


def write_table(ws: Any, t: dict[str, Any], lang: str, *, font: str = "Calibri") -> None:
    """One table model on one sheet: a rate cell becomes four columns: the rate (a number formatted 0.0%, rounded
    half-up to the shown decimal so Excel shows what the other formats show), its count, its denominator and the
    slide form '78.4% (1402/1788)'."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from mailposture.report.groups import pct1

    head_fill = PatternFill("solid", fgColor="E2E8F0")
    ws["A1"] = t["title"]
    ws["A1"].font = Font(bold=True, size=12, name=font)
    cols: list[str] = []
    pct_cols = [isinstance(v, dict) for v in (t["rows"][0] if t["rows"] else [])]
    for c, is_pct in zip(t["columns"], pct_cols or [False] * len(t["columns"]), strict=False):
        if is_pct:
            base = c.replace(" (%)", "").replace("(%)", "").strip()
            cols += [f"{base} (%)", text(lang, f"{base} 該当数", f"{base} count"), text(lang, "母数", "of"),
                     text(lang, f"{base} (表示用)", f"{base} (slide)")]
        else:
            cols.append(c)
    if not t["rows"]:
        cols = list(t["columns"])
    for j, c in enumerate(cols, start=1):
        cell = ws.cell(row=3, column=j, value=c)
        cell.font = Font(bold=True, name=font)
        cell.fill = head_fill
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    plain, bold = Font(name=font), Font(bold=True, name=font)   # one object each: a Font per cell costs seconds
    for i, row in enumerate(t["rows"], start=4):
        j = 1
        is_total = t["total_row"] and i == 3 + len(t["rows"])
        for v in row:
            if isinstance(v, dict):
                c = ws.cell(row=i, column=j, value=float(pct1(v["count"], v["total"])) / 100)
                c.number_format = "0.0%"
                ws.cell(row=i, column=j + 1, value=v["count"])
                ws.cell(row=i, column=j + 2, value=v["total"])
                ws.cell(row=i, column=j + 3, value=slide_text(v))
                j += 4
            else:
                c = ws.cell(row=i, column=j, value=v)
                if isinstance(v, str) and v.startswith("="):
                    c.data_type = "s"  # text from a list is never a formula
                j += 1
        for k in range(1, j):
            ws.cell(row=i, column=k).font = bold if is_total else plain
    for j in range(1, len(cols) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 34 if j == 1 else 14
    ws.freeze_panes = "B4"
    if t["key"] == "bodies" and t["rows"]:
        ws.auto_filter.ref = f"A3:{get_column_letter(len(cols))}{len(t['rows']) + 3}"
