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
    """``bodies``: an optional per-body table (:func:`mailposture.report.bodies.bodies_table`), as the last sheet.
    Written in openpyxl's write-only mode (rows streamed in order): a 25,000-body sheet in a few seconds."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    info = wb.create_sheet(text(lang, "概要", "Summary"))
    info.column_dimensions["A"].width = 110
    title = failure_line(meta, lang) or meta.get("title") or text(lang, "送信ドメイン認証の普及状況",
                                                                    "Sender authentication adoption")
    info.append([cell(info, title, Font(bold=True, size=14))])
    info.append([])
    for line in [*meta_lines(meta, lang), *headline_lines(report, lang)]:
        info.append([line.strip("*")])
    info.append([])
    info.append([cell(info, text(lang, "定義", "Definitions"), Font(bold=True))])
    for d in DEFINITIONS[lang]:
        info.append([d])
    font = "Yu Gothic" if lang == "ja" else "Calibri"  # present on Windows and macOS (Office); Noto CJK on Linux
    for t in [*table_models(report, lang), *([bodies] if bodies else [])]:
        ja, en = SHEET_NAMES.get(t["key"], (t["key"], t["key"]))
        write_table(wb.create_sheet(ja if lang == "ja" else en), t, lang, font=font)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def cell(ws: Any, value: Any, font: Any = None, *, fill: Any = None, alignment: Any = None,
         number_format: str | None = None) -> Any:
    """A cell for ``ws.append`` (write-only sheets too) with its style; text starting with '=' stays text."""
    from openpyxl.cell import WriteOnlyCell

    c = WriteOnlyCell(ws, value=value)
    if isinstance(value, str) and value.startswith("="):
        c.data_type = "s"  # text from a list or a record is never a formula
    if font is not None:
        c.font = font
    if fill is not None:
        c.fill = fill
    if alignment is not None:
        c.alignment = alignment
    if number_format is not None:
        c.number_format = number_format
    return c


def slide_text(v: dict[str, Any]) -> str:
    """The slide form of a rate cell: '78.4% (1402/1788)' (half-up, as every format rounds)."""
    from mailposture.report.groups import pct1

    return f"{pct1(v['count'], v['total'])}% ({v['count']}/{v['total']})"


def write_table(ws: Any, t: dict[str, Any], lang: str, *, font: str = "Calibri") -> None:
    """One table model on one (fresh) sheet, rows appended in order: a rate cell becomes four columns: the rate
    (a number formatted 0.0%, rounded half-up to the shown decimal so Excel shows what the other formats show),
    its count, its denominator and the slide form '78.4% (1402/1788)'. The title, the header and the total row
    carry ``font``; plain data cells keep the workbook's default font (styling every cell costs seconds on a
    25,000-row sheet, and Excel shows Japanese text in it with the theme's Japanese font)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from mailposture.report.groups import pct1

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
    for j in range(1, len(cols) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 34 if j == 1 else 14
    ws.freeze_panes = "B4"
    head_font, head_fill = Font(bold=True, name=font), PatternFill("solid", fgColor="E2E8F0")
    centre = Alignment(horizontal="center", wrap_text=True)
    ws.append([cell(ws, t["title"], Font(bold=True, size=12, name=font))])
    ws.append([])
    ws.append([cell(ws, c, head_font, fill=head_fill, alignment=centre) for c in cols])
    last = len(t["rows"]) - 1
    for n, row in enumerate(t["rows"]):
        bold = head_font if t["total_row"] and n == last else None
        out: list[Any] = []
        for v in row:
            if isinstance(v, dict):
                out += [cell(ws, float(pct1(v["count"], v["total"])) / 100, bold, number_format="0.0%"),
                        cell(ws, v["count"], bold), cell(ws, v["total"], bold), cell(ws, slide_text(v), bold)]
            elif bold is not None or (isinstance(v, str) and v.startswith("=")):
                out.append(cell(ws, v, bold))
            else:
                out.append(v)
        ws.append(out)
    if t["key"] == "bodies" and t["rows"]:
        ws.auto_filter.ref = f"A3:{get_column_letter(len(cols))}{len(t['rows']) + 3}"
