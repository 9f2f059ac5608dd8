"""Every format of a content-survey table (:func:`mailposture.report.content.content_report`): md, csv, json,
html, xlsx, and one chart per table as png or svg (slide-ready: ``size`` in pixels, ``dpi``, the n and the
definition inside the image).

Layout: a table with fixed keys (policy, all qualifier, tags, IPv4 space) has one row per group and one column
per key; a table whose keys come from the data (providers, mistakes, report destinations) has one row per key and
one column per group, the national column first.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from typing import Any

from mailposture.report.charts import FONT
from mailposture.report.content import TABLES, T
from mailposture.report.tables import by_label

FONT_STACK = FONT
XLSX_FONT = {"ja": "Yu Gothic", "en": "Calibri"}
TOP_IN_TEXT = 25  # dynamic-key tables: rows shown in md / html (csv, json and xlsx have them all)


def overall_name(rep: dict[str, Any], lang: str) -> str:
    first = (rep.get("by") or [""])[0].lower()
    return T(lang, "全国", "Overall") if first in ("region", "prefecture", "") else T(lang, "全体", "All")


def pct_cell(row: dict[str, Any], total: int) -> dict[str, Any]:
    return {"count": row["count"], "total": total, "rate": float(row["pct"]), "pct": row["pct"]}


def _group_rows(rep: dict[str, Any], lang: str) -> list[tuple[str, dict[str, Any], bool]]:
    from mailposture.report.groups import value_label

    out = []
    for g in rep["groups"]:
        indent = "　" * (g["level"] - 1)
        last = list(g["group"].items())[-1]
        out.append((indent + value_label(last[0], last[1], lang), g, g["level"] == 1 and len(rep["by"]) > 1))
    out.append((overall_name(rep, lang), rep["overall"], True))
    return out


def fixed_keys(rep: dict[str, Any]) -> list[str]:
    spec = TABLES[rep["table"]]
    return [k["key"] for k in rep["keys"] if k["key"] in spec.keys]


def dynamic_keys(rep: dict[str, Any]) -> list[str]:
    spec = TABLES[rep["table"]]
    return [k["key"] for k in rep["keys"] if k["key"] not in spec.keys]


def models(rep: dict[str, Any], lang: str, *, top: int | None = None) -> list[dict[str, Any]]:
    """Table models as the adoption renderers use them: ``{"key", "title", "columns", "rows", "total_row"}``."""
    label = {k["key"]: k["label"] for k in rep["keys"]}
    out: list[dict[str, Any]] = []
    fixed = fixed_keys(rep)
    rows_src = _group_rows(rep, lang)
    head = by_label(",".join(rep["by"]) or None, lang)
    n_label = T(lang, "団体数", "Bodies")
    if fixed:
        rows = []
        for name, g, _bold in rows_src:
            by_key = {r["key"]: r for r in g["rows"]}
            rows.append([name, g["total"], *(pct_cell(by_key[k], g["total"]) for k in fixed)])
        out.append({"key": rep["table"], "title": rep["title"],
                    "columns": [head, n_label, *(f"{label[k]} (%)" for k in fixed)], "rows": rows, "total_row": True,
                    "bold_rows": [i for i, (_, _, bold) in enumerate(rows_src) if bold]})
    dyn = dynamic_keys(rep)
    if dyn or not fixed:
        shown = dyn[:top] if top else dyn
        cols = [(overall_name(rep, lang), rep["overall"])] + [(name, g) for name, g, _ in rows_src[:-1]]
        rows = []
        for k in shown:
            row: list[Any] = [label[k]]
            for _, g in cols:
                r = next(x for x in g["rows"] if x["key"] == k)
                row.append(pct_cell(r, g["total"]))
            if rep["table"] == "mistakes" and top is None:
                r = next(x for x in rep["overall"]["rows"] if x["key"] == k)
                row.append(" / ".join(f"{b['name'] or b['domain']}" for b in r.get("bodies", ())))
            rows.append(row)
        what = {"spf-providers": T(lang, "事業者 (include 先)", "Provider (include target)"),
                "mistakes": T(lang, "検出コード", "Finding code"),
                "dmarc-reports": T(lang, "rua の送信先 (登録ドメイン)", "rua destination (registrable domain)")}
        columns = [what.get(rep["table"], T(lang, "項目", "Item")), *(f"{c} (%)" for c, _ in cols)]
        if rep["table"] == "mistakes" and top is None:
            columns.append(T(lang, "該当する団体", "Bodies with it"))
        title = rep["title"] if not fixed else T(lang, "rua の送信先 (登録ドメイン別)", "rua destinations by registrable domain")
        if top and len(dyn) > top:
            title += T(lang, f" (上位 {top} 件、全 {len(dyn)} 件)", f" (top {top} of {len(dyn)})")
        out.append({"key": rep["table"] + ("-destinations" if fixed else ""), "title": title, "columns": columns,
                    "rows": rows, "total_row": False})
    return out


def cell_text(v: Any) -> str:
    if isinstance(v, dict):
        return f"{v['pct']} ({v['count']}/{v['total']})"
    return "" if v is None else str(v)


def definitions(rep: dict[str, Any]) -> list[str]:
    d = rep["definitions"]
    return [d["table"], d["count"], d["rate"]]


def meta_text(rep: dict[str, Any], meta: dict[str, Any], lang: str) -> list[str]:
    from mailposture.report.md import meta_lines

    return [m.strip("*") for m in meta_lines(meta, lang)]


# ---------------------------------------------------------------------------------------------------------------
# md, csv, json

def render_md(rep: dict[str, Any], meta: dict[str, Any], lang: str) -> str:
    lines = [f"# {meta.get('title') or rep['title']} — {rep['round']}", ""]
    for m in meta_text(rep, meta, lang):
        lines += [m, ""]
    for t in models(rep, lang, top=TOP_IN_TEXT):
        lines += [f"## {t['title']}", "", "| " + " | ".join(t["columns"]) + " |",
                  "|" + "|".join("---" for _ in t["columns"]) + "|"]
        for i, row in enumerate(t["rows"]):
            cells = [cell_text(v).replace("|", "\\|") for v in row]
            if i in t.get("bold_rows", ()) or (t["total_row"] and i == len(t["rows"]) - 1):
                cells = [f"**{c.strip('　')}**" if c else c for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"## {T(lang, '定義', 'Definitions')}", ""] + [f"- {d}" for d in definitions(rep)]
    return "\n".join(lines) + "\n"


def _safe(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v  # never a formula when the CSV is opened in a spreadsheet
    return v


def render_csv(rep: dict[str, Any], lang: str) -> str:
    """Long form: one line per group and key (the national rows last); rates as half-up rounded percentages."""
    from mailposture.report.tables import COLUMN_NAMES_JA

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = rep["by"]
    head = [COLUMN_NAMES_JA.get(c.lower(), c) if lang == "ja" else c for c in cols]
    head += [T(lang, "階層", "level"), T(lang, "団体数", "bodies"), T(lang, "キー", "key"), T(lang, "項目", "item"),
             T(lang, "該当数", "count"), T(lang, "割合 (%)", "rate (%)"), T(lang, "表示", "slide")]
    if rep["table"] == "mistakes":
        head.append(T(lang, "該当する団体", "bodies with it"))
    w.writerow(head)
    groups = [*rep["groups"], {"group": {}, "level": 0, **rep["overall"]}]
    for g in groups:
        vals = [g["group"].get(c, "") for c in cols] if g["group"] else [overall_name(rep, lang)] + [""] * (len(cols) - 1) if cols else []
        for r in g["rows"]:
            row = [*vals, g["level"], g["total"], r["key"], r["label"], r["count"], r["pct"],
                   f"{r['pct']}% ({r['count']}/{g['total']})"]
            if rep["table"] == "mistakes":
                row.append(" / ".join(f"{b['name']} ({b['domain']})" for b in r.get("bodies", ())))
            key_at = len(vals) + 2  # the key column stays as it is (machines read it; the label is for people)
            w.writerow([v if i == key_at else _safe(v) for i, v in enumerate(row)])
    return buf.getvalue()


def render_json(rep: dict[str, Any], meta: dict[str, Any]) -> str:
    out = dict(rep)
    out["meta"] = {k: v for k, v in meta.items() if k != "title"}
    return json.dumps(out, ensure_ascii=False, indent=2, default=str) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Charts

def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in ("Hiragino Sans", "Yu Gothic", "Meiryo", "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic"):
        if fam in names:
            return fam
    return None


PALETTE = {"reject": "#15803d", "quarantine": "#facc15", "none": "#f97316", "absent": "#e5e7eb",
           "unknown": "#9ca3af", "-all": "#15803d", "~all": "#84cc16", "?all": "#facc15", "+all": "#dc2626",
           "redirect": "#0ea5e9", "no-all": "#f97316", "invalid": "#7f1d1d", "0": "#dbeafe", "<=256": "#15803d",
           "<=65536": "#84cc16", "<=16m": "#f59e0b", "over-16m": "#dc2626"}


def _wrap(text: str, width_px: float, size_pt: float, dpi: float) -> str:
    per_char = size_pt * dpi / 72 * 0.55
    cols = max(20, int(width_px / per_char))
    if sum(ord(c) > 0x2E80 for c in text) < len(text) // 10:  # Latin text: wrap between words
        return "\n".join(textwrap.fill(p, cols) for p in text.split("\n"))
    out = []
    for para in text.split("\n"):
        # CJK characters are about twice as wide as Latin ones: wrap on display width
        line, w = "", 0.0
        for ch in para:
            cw = 2.0 if ord(ch) > 0x2E80 else 1.0
            if w + cw > cols and line and ch not in "。、)）」』,.":
                out.append(line)
                line, w = "", 0.0
            line += ch
            w += cw
        out.append(line)
    return "\n".join(textwrap.dedent(x) for x in out)


def render_chart(rep: dict[str, Any], meta: dict[str, Any], lang: str, *, fmt: str = "png",
                 size: tuple[int, int] = (1600, 900), dpi: int = 150) -> bytes:
    """One chart: 100% stacked bars per group (exclusive tables) or the national rate of each key (the others,
    top 12). The n of every bar and the table's definition are inside the image."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fam = _cjk_font()
    if fam is None:
        import warnings

        warnings.warn("no Japanese font found (install Debian's fonts-noto-cjk): Japanese labels in charts may "
                      "show as boxes", RuntimeWarning, stacklevel=2)
    rc = {"font.family": [f for f in (fam, "DejaVu Sans") if f], "axes.unicode_minus": False,
          "svg.fonttype": "none"}
    w_px, h_px = size
    label = {k["key"]: k["label"] for k in rep["keys"]}
    title = meta.get("title") or rep["title"]
    if meta.get("synthetic"):
        title += T(lang, " (架空のデータ)", " (fictitious data)")
    foot = " ".join(definitions(rep)[:1]) + " " + definitions(rep)[2]
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(w_px / dpi, h_px / dpi), dpi=dpi)
        foot_text = _wrap(foot, w_px * 0.94, 7.5, dpi)
        n_foot = foot_text.count("\n") + 1
        foot_h = (n_foot * 7.5 * 1.45 / 72 * dpi + 8) / h_px
        top = 1 - (130 if rep["exclusive"] else 80) * dpi / 150 / h_px   # room for the title (and legend)
        bottom = foot_h + 88 * dpi / 150 / h_px                          # room for the x label and footnote
        left = 0.2 if rep["exclusive"] else 0.3
        ax = fig.add_axes((left, bottom, 0.96 - left, max(0.2, top - bottom)))
        if rep["exclusive"]:
            keys = [k["key"] for k in rep["keys"]]
            grows = _group_rows(rep, lang)
            rows = [(name, g) for name, g, _ in grows]
            ys = list(range(len(rows)))
            left = [0.0] * len(rows)
            for k in keys:
                cells = [next(x for x in g["rows"] if x["key"] == k) for _, g in rows]
                vals = [100.0 * r["rate"] for r in cells]
                ax.barh(ys, vals, left=left, color=PALETTE.get(k, "#64748b"), label=label[k], height=0.72,
                        edgecolor="white", linewidth=0.5)
                for y, v, lft, r in zip(ys, vals, left, cells, strict=True):
                    if v >= 6:
                        ax.text(lft + v / 2, y, r["pct"], ha="center", va="center", fontsize=7, color="#111827")
                left = [a + b for a, b in zip(left, vals, strict=True)]
            ax.set_yticks(ys, [f"{name} (n={g['total']:,})" for name, g in rows], fontsize=8)
            for tick, (_, _, bold) in zip(ax.get_yticklabels(), grows, strict=True):
                if bold:  # subtotals and the national row
                    tick.set_fontweight("bold")
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlim(0, 100)
            ax.set_xlabel(T(lang, "団体の割合 (%)", "share of bodies (%)"), fontsize=8)
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(keys), 5), frameon=False,
                      fontsize=7.5)
        else:
            o = rep["overall"]
            rows = sorted(o["rows"], key=lambda r: -r["count"])[:12] if not TABLES[rep["table"]].keys \
                else [r for r in o["rows"] if r["count"] or r["key"] in TABLES[rep["table"]].keys][:12]
            ys = list(range(len(rows)))
            vals = [100.0 * r["rate"] for r in rows]
            ax.barh(ys, vals, color="#2563eb", height=0.7)
            for y, r, v in zip(ys, rows, vals, strict=True):
                ax.text(v + 1, y, f"{r['pct']}% ({r['count']:,}/{o['total']:,})", va="center", fontsize=7.5)
            ax.set_yticks(ys, [_short(_chart_label(rep["table"], r["key"], label[r["key"]], lang)) for r in rows],
                          fontsize=8)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlim(0, 118)
            ax.set_xlabel(T(lang, f"{overall_name(rep, lang)}の団体に占める割合 (%)  n = {o['total']:,}",
                            f"share of all bodies (%), n = {o['total']:,}"), fontsize=8)
        ax.grid(axis="x", color="#e5e7eb")
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.suptitle(f"{title} — {rep['round']}", fontsize=11, y=0.985)
        fig.text(0.03, 0.012, foot_text, fontsize=7.5, color="#374151", va="bottom", ha="left", linespacing=1.45)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
        plt.close(fig)
    data = buf.getvalue()
    if fmt == "svg":  # text stays text; name the fonts of Windows and macOS before Noto CJK
        data = re.sub(rb"font-family: [^;\"]*", b"font-family: " + FONT_STACK.encode(), data)
    return data


def _chart_label(table: str, key: str, label: str, lang: str) -> str:
    """Charts name a catalogued provider without its include domain, and a finding by its code."""
    if table == "spf-providers":
        from mailposture.checks.spf.providers import spf_catalogue

        p = spf_catalogue().get(key)
        return p.label(lang) if p else key
    if table == "mistakes":
        return key
    return label


def _short(s: str, n: int = 46) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------------------------
# html and xlsx

def section(rep: dict[str, Any], meta: dict[str, Any], lang: str) -> dict[str, Any]:
    """What an HTML page shows of one table: its chart (inline SVG), table models and definitions."""
    svg = render_chart(rep, meta, lang, fmt="svg", size=(1200, 560 if rep["exclusive"] else 520), dpi=100)
    svg_text = svg.decode("utf-8")
    svg_text = svg_text[svg_text.index("<svg"):]
    svg_text = re.sub(r'^<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%"', svg_text, count=1)
    # inline: no url() references (the page is checked to be self-contained); the axes limits clip enough
    svg_text = re.sub(r'\s*clip-path="url\(#[^)"]*\)"', "", svg_text)
    svg_text = re.sub(r"<clipPath .*?</clipPath>", "", svg_text, flags=re.S)
    return {"key": rep["table"], "title": rep["title"], "svg": svg_text, "tables": models(rep, lang, top=TOP_IN_TEXT),
            "definitions": definitions(rep)}


def render_html(rep: dict[str, Any], meta: dict[str, Any], lang: str) -> str:
    from datetime import UTC, datetime

    from mailposture import __version__
    from mailposture.report.html import _env

    m = dict(meta)
    return _env().get_template("content.html.j2").render(
        lang=lang, title=meta.get("title") or f"{rep['title']} — {rep['round']}", version=__version__,
        meta_lines=[x for x in meta_text(rep, m, lang) if not x.startswith("このレポートは架空")
                    and not x.startswith("This report is a demo")],
        synthetic=bool(meta.get("synthetic")),
        synthetic_text=T(lang, "このレポートは架空のリスト (.example / .test) と合成 DNS によるデモです。"
                               "実在の団体のデータではありません。",
                         "This report is a demo on a fictitious list (.example / .test names) and synthetic DNS: "
                         "it is not data about real bodies."),
        sections=[section(rep, meta, lang)], defs_title=T(lang, "定義", "Definitions"),
        empty_text=T(lang, "該当なし", "none"), font_stack=FONT_STACK,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def render_xlsx(rep: dict[str, Any], meta: dict[str, Any], lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from mailposture.report.xlsx import cell, write_table

    wb = Workbook(write_only=True)   # rows streamed in order (mailposture.report.xlsx)
    info = wb.create_sheet(T(lang, "概要", "Summary"))
    info.column_dimensions["A"].width = 110
    font = XLSX_FONT.get(lang, "Calibri")
    plain = Font(name=font)
    info.append([cell(info, f"{meta.get('title') or rep['title']} — {rep['round']}", Font(bold=True, size=14,
                                                                                          name=font))])
    info.append([])
    for line in meta_text(rep, meta, lang):
        info.append([cell(info, line, plain)])
    info.append([])
    info.append([cell(info, T(lang, "定義", "Definitions"), Font(bold=True, name=font))])
    for d in definitions(rep):
        info.append([cell(info, d, plain)])
    names = {rep["table"]: rep["title"], rep["table"] + "-destinations": T(lang, "rua の送信先", "rua destinations")}
    for t in models(rep, lang):
        name = re.sub(r"[\[\]:*?/\\]", " ", names.get(t["key"], t["key"])).strip("' ")[:31]
        write_table(wb.create_sheet(name), t, lang, font=font)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_content(rep: dict[str, Any], meta: dict[str, Any], fmt: str, lang: str, *,
                   size: tuple[int, int] | None = None, dpi: int | None = None) -> bytes:
    """One content table in ``fmt`` (md, csv, json, html, xlsx, png, svg) as bytes."""
    if fmt == "md":
        return render_md(rep, meta, lang).encode()
    if fmt == "csv":
        return render_csv(rep, lang).encode("utf-8-sig")  # BOM: Excel opens Japanese CSV correctly
    if fmt == "json":
        return render_json(rep, meta).encode()
    if fmt == "html":
        return render_html(rep, meta, lang).encode()
    if fmt == "xlsx":
        return render_xlsx(rep, meta, lang)
    if fmt in ("png", "svg"):
        if size is None:  # a 16:9 slide, taller when many groups are stacked (47 prefectures stay readable)
            d = dpi or 150
            size = (1600, max(900, int((len(rep["groups"]) + 1) * 0.2 * d + 420))) if rep["exclusive"] \
                else (1600, 900)
        return render_chart(rep, meta, lang, fmt=fmt, size=size, dpi=dpi or 150)
    raise ValueError(f"unknown format {fmt}")
