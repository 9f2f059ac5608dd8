"""The table the working group shares: campaigns, brands, domains — Markdown, HTML (with charts) or XLSX.

``build(results)`` makes the report data; ``render(data, fmt, lang)`` returns text (md, html) or bytes (xlsx).
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mailposture.sms.campaigns import brand_table, domain_table, group
from mailposture.sms.verdict import Result

T = {
    "title": ("SMS 迷惑・詐欺メッセージの分析", "SMS spam and smishing analysis"),
    "summary": ("概要", "Summary"),
    "messages": ("メッセージ", "Messages"),
    "smishing": ("スミッシング", "Smishing"),
    "spam": ("迷惑", "Spam"),
    "ham": ("正常", "Ham"),
    "campaigns": ("キャンペーン", "Campaigns"),
    "campaign": ("キャンペーン", "Campaign"),
    "brands": ("ブランド", "Brands"),
    "brand": ("ブランド", "Brand"),
    "category": ("分類", "Category"),
    "domains": ("ドメイン", "Domains"),
    "domain": ("ドメイン", "Domain"),
    "lookalike_of": ("模倣先", "Imitates"),
    "lookalikes": ("偽装ドメイン", "Look-alike domains"),
    "shortener": ("短縮 URL", "Shortener"),
    "first_seen": ("初回", "First seen"),
    "last_seen": ("最終", "Last seen"),
    "templates": ("文面数", "Templates"),
    "example": ("例文", "Example"),
    "verdicts": ("判定", "Verdicts"),
    "by_day": ("日別件数", "Messages per day"),
    "top": ("件数上位のキャンペーン", "Largest campaigns"),
    "yes": ("はい", "yes"),
    "none": ("(なし)", "(none)"),
    "note": ("キャンペーンは、数字・リンク・電話番号を除いた同じ文面、同じリンク先ドメイン、または同じ接続先アドレス"
             "(--resolve 時)でまとめています。", "Campaigns group messages with the same template (numbers, links "
             "and phone numbers removed), the same landing domain, or the same hosting address (with --resolve)."),
}


def t(key: str, lang: str) -> str:
    ja, en = T[key]
    return ja if lang == "ja" else en


def build(results: Sequence[Result], include_ham: bool = False) -> dict[str, Any]:
    verdicts = Counter(r.verdict for r in results)
    days: Counter[str] = Counter()
    for r in results:
        if r.verdict != "ham" and r.received_at:
            days[r.received_at.strip()[:10]] += 1
    return {"messages": len(results), "verdicts": {v: verdicts.get(v, 0) for v in ("smishing", "spam", "ham")},
            "campaigns": [c.to_json() for c in group(results, include_ham)], "brands": brand_table(results),
            "domains": domain_table(results), "by_day": dict(sorted(days.items()))}


def _names(ids: list[str]) -> str:
    from mailposture.sms.brands import by_id

    return ", ".join(by_id()[b].label if b in by_id() else b for b in ids)


def _short(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _tables(data: dict[str, Any], lang: str) -> list[tuple[str, list[str], list[list[Any]]]]:
    camp = [[c["campaign"], c["messages"], ", ".join(f"{k} {v}" for k, v in c["verdicts"].items()),
             _names(c["brands"]) or "-", ", ".join(list(c["domains"])[:3]) or "-", c["templates"],
             c["first_seen"] or "-", c["last_seen"] or "-", _short(c["example"])] for c in data["campaigns"]]
    brands = [[b["name"], b["category"], b["messages"], b["smishing"], ", ".join(b["lookalikes"]) or "-"]
              for b in data["brands"]]
    doms = [[d["domain"], d["messages"], d["lookalike_of"] or "-", t("yes", lang) if d["shortener"] else "-",
             d["campaigns"]] for d in data["domains"]]
    return [
        ("campaigns", [t(k, lang) for k in ("campaign", "messages", "verdicts", "brands", "domains", "templates",
                                            "first_seen", "last_seen", "example")], camp),
        ("brands", [t(k, lang) for k in ("brand", "category", "messages", "smishing", "lookalikes")], brands),
        ("domains", [t(k, lang) for k in ("domain", "messages", "lookalike_of", "shortener", "campaigns")], doms),
    ]


def _summary_lines(data: dict[str, Any], lang: str) -> list[str]:
    v = data["verdicts"]
    return [f"{t('messages', lang)}: {data['messages']}", f"{t('smishing', lang)}: {v['smishing']}",
            f"{t('spam', lang)}: {v['spam']}", f"{t('ham', lang)}: {v['ham']}",
            f"{t('campaigns', lang)}: {len(data['campaigns'])}"]


def render_md(data: dict[str, Any], lang: str = "ja") -> str:
    out = [f"# {t('title', lang)}", "", f"## {t('summary', lang)}", ""]
    out += [f"- {line}" for line in _summary_lines(data, lang)]
    out += ["", t("note", lang), ""]
    for key, cols, rows in _tables(data, lang):
        out += [f"## {t(key, lang)}", ""]
        if not rows:
            out += [t("none", lang), ""]
            continue
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        for r in rows:
            out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
        out.append("")
    return "\n".join(out)


def bars_svg(items: list[tuple[str, int]], width: int = 760, bar: int = 18, color: str = "#c2410c") -> str:
    """A horizontal bar chart as inline SVG (no font files, no JavaScript)."""
    if not items:
        return ""
    top = max(n for _, n in items) or 1
    label_w = 280
    h = bar * len(items) + 8 * (len(items) + 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">']
    for i, (label, n) in enumerate(items):
        y = 8 + i * (bar + 8)
        w = max(1, int((width - label_w - 60) * n / top))
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" font-size="12">'
                     f"{html.escape(_short(label, 36))}</text>")
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + w + 4}" y="{y + bar - 5}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(data: dict[str, Any], lang: str = "ja") -> str:
    e = html.escape
    out = [f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(t("title", lang))}</title>',
           "<style>body{font-family:'Noto Sans CJK JP',sans-serif;margin:2em;color:#1e293b}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #cbd5e1;padding:4px 8px;"
           "font-size:13px;vertical-align:top}th{background:#e2e8f0}</style></head><body>",
           f"<h1>{e(t('title', lang))}</h1><h2>{e(t('summary', lang))}</h2><ul>"]
    out += [f"<li>{e(line)}</li>" for line in _summary_lines(data, lang)]
    out.append(f"</ul><p>{e(t('note', lang))}</p>")
    camp = [(f"{c['campaign']} {_names(c['brands'][:2])}".strip(), c["messages"]) for c in data["campaigns"][:15]]
    if camp:
        out.append(f"<h2>{e(t('top', lang))}</h2>{bars_svg(camp)}")
    if data["by_day"]:
        out.append(f"<h2>{e(t('by_day', lang))}</h2>{bars_svg(list(data['by_day'].items())[-31:], color='#1d4ed8')}")
    brands = [(b["name"], b["smishing"]) for b in data["brands"] if b["smishing"]][:15]
    if brands:
        out.append(f"<h2>{e(t('brands', lang))} ({e(t('smishing', lang))})</h2>{bars_svg(brands, color='#7c3aed')}")
    for key, cols, rows in _tables(data, lang):
        out.append(f"<h2>{e(t(key, lang))}</h2>")
        if not rows:
            out.append(f"<p>{e(t('none', lang))}</p>")
            continue
        out.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        for r in rows:
            out.append("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in r) + "</tr>")
        out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out)


def render_xlsx(data: dict[str, Any], lang: str = "ja") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = t("summary", lang)
    ws["A1"] = t("title", lang)
    ws["A1"].font = Font(bold=True, size=14)
    for i, line in enumerate([*_summary_lines(data, lang), t("note", lang)], start=3):
        ws.cell(row=i, column=1, value=line)
    ws.column_dimensions["A"].width = 100
    fill = PatternFill("solid", fgColor="E2E8F0")
    for key, cols, rows in _tables(data, lang):
        sh = wb.create_sheet(t(key, lang))
        for j, c in enumerate(cols, start=1):
            cell = sh.cell(row=1, column=j, value=c)
            cell.font = Font(bold=True)
            cell.fill = fill
        for i, r in enumerate(rows, start=2):
            for j, v in enumerate(r, start=1):
                sh.cell(row=i, column=j, value=v)
        sh.freeze_panes = "A2"
    if data["by_day"]:
        sh = wb.create_sheet(t("by_day", lang))
        sh.append([t("by_day", lang), t("messages", lang)])
        for d, n in data["by_day"].items():
            sh.append([d, n])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(data: dict[str, Any], fmt: str, lang: str = "ja") -> str | bytes:
    if fmt == "md":
        return render_md(data, lang)
    if fmt == "html":
        return render_html(data, lang)
    if fmt == "xlsx":
        return render_xlsx(data, lang)
    raise ValueError(f"unknown report format {fmt!r} (md, html or xlsx)")
