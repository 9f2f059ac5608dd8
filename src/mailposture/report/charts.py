"""Charts: inline SVG for the HTML page (text drawn by the browser, no external assets) and PNG via matplotlib.

PNG text uses Noto Sans CJK JP (Debian's fonts-noto-cjk), found through ``matplotlib.font_manager``; without it
the chart is still drawn, with a warning that Japanese labels may show as boxes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from html import escape
from typing import Any

from mailposture.report.tables import METRICS

COLORS = {"spf": "#2563eb", "dmarc": "#ea580c", "dmarc_covered": "#fdba74", "spf_valid": "#93c5fd",
          "reject": "#15803d", "quarantine": "#facc15", "none": "#f97316", "uncovered": "#e5e7eb",
          "unknown": "#9ca3af"}
LINE_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f",
               "#7c3aed", "#b45309")
#: Fonts present on Windows and macOS first, then Noto CJK (Linux): HTML pages and SVG charts.
FONT = "'Hiragino Sans', 'Hiragino Kaku Gothic ProN', 'Yu Gothic', YuGothic, Meiryo, 'Noto Sans CJK JP', 'Noto Sans JP', sans-serif"
CJK_FAMILY = "Noto Sans CJK JP"


def _lbl(key: str, lang: str) -> str:
    ja, en = METRICS[key]
    return ja if lang == "ja" else en


def _rows(report: dict[str, Any], lang: str) -> list[tuple[str, dict[str, Any]]]:
    from mailposture.report.tables import overall_label, row_label

    rows = [(row_label(report, g, lang), g) for g in report["groups"]]
    rows.append((overall_label(report, lang), report["overall"]))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# SVG

def bars_svg(report: dict[str, Any], lang: str = "ja",
             series: Sequence[str] = ("spf", "dmarc", "dmarc_covered")) -> str:
    """Horizontal grouped bars: one block per group (and the total), one bar per metric, percent labels."""
    rows = _rows(report, lang)
    label_w, bar_w, bar_h, gap = 150, 700, 14, 12
    block = len(series) * (bar_h + 2) + gap
    top = 40
    height = top + block * len(rows) + 30
    width = label_w + bar_w + 80
    aria = escape(" / ".join(_lbl(s, lang) for s in series))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{aria}" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px;font-family:{escape(FONT)}">']
    # legend
    x = label_w
    for s in series:
        out.append(f'<rect x="{x}" y="8" width="12" height="12" rx="2" fill="{COLORS[s]}"/>'
                   f'<text x="{x + 17}" y="18" font-size="12" fill="#374151">{escape(_lbl(s, lang))}</text>')
        x += 30 + 8 * len(_lbl(s, lang)) + (6 * sum(1 for c in _lbl(s, lang) if ord(c) > 0x2E80))
    # grid
    for p in range(0, 101, 20):
        gx = label_w + bar_w * p / 100
        out.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 24}" stroke="#e5e7eb"/>'
                   f'<text x="{gx:.1f}" y="{height - 8}" font-size="11" fill="#6b7280" '
                   f'text-anchor="middle">{p}%</text>')
    for i, (label, g) in enumerate(rows):
        y0 = top + i * block
        total_row = i == len(rows) - 1
        weight = ' font-weight="bold"' if total_row else ""
        cy = y0 + (len(series) * (bar_h + 2)) / 2 + 4
        out.append(f'<text x="{label_w - 10}" y="{cy:.1f}" font-size="13" text-anchor="end" fill="#111827"'
                   f'{weight}>{escape(label)}</text>')
        for j, s in enumerate(series):
            m = g[s]
            w = bar_w * m["rate"] / 100
            y = y0 + j * (bar_h + 2)
            title = f"{_lbl(s, lang)}: {m['rate']:.1f}% ({m['count']}/{g['total']})"
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2" fill="{COLORS[s]}">'
                       f'<title>{escape(title)}</title></rect>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="11" '
                       f'fill="#374151">{m["rate"]:.1f}%</text>')
        if total_row:
            out.append(f'<line x1="8" y1="{y0 - gap / 2:.1f}" x2="{width - 8}" y2="{y0 - gap / 2:.1f}" '
                       'stroke="#9ca3af" stroke-dasharray="3 3"/>')
    out.append("</svg>")
    return "".join(out)


def policy_svg(report: dict[str, Any], lang: str = "ja") -> str:
    """100% stacked bars of the effective DMARC policy per group: reject, quarantine, none, not covered, unknown."""
    rows = _rows(report, lang)
    names = {"reject": "reject", "quarantine": "quarantine", "none": "none",
             "uncovered": "DMARC なし" if lang == "ja" else "no DMARC",
             "unknown": "不明" if lang == "ja" else "unknown"}
    label_w, bar_w, bar_h, gap, top = 150, 760, 18, 8, 40
    height = top + (bar_h + gap) * len(rows) + 10
    width = label_w + bar_w + 30
    label = "DMARC 実効ポリシー" if lang == "ja" else "DMARC policy"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
           f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;font-family:{escape(FONT)}">']
    x = label_w
    for k, v in names.items():
        out.append(f'<rect x="{x}" y="8" width="12" height="12" rx="2" fill="{COLORS[k]}" stroke="#d1d5db"/>'
                   f'<text x="{x + 17}" y="18" font-size="12" fill="#374151">{escape(v)}</text>')
        x += 34 + 7 * len(v) + 6 * sum(1 for c in v if ord(c) > 0x2E80)
    for i, (label, g) in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = g["total"] or 1
        counts = [(k, g["policy"][k]["count"]) for k in ("reject", "quarantine", "none")]
        unknown = g["dmarc_covered"]["unknown"]
        covered = g["dmarc_covered"]["count"]
        counts.append(("unknown", unknown))
        counts.append(("uncovered", max(0, g["total"] - covered - unknown)))
        weight = ' font-weight="bold"' if i == len(rows) - 1 else ""
        out.append(f'<text x="{label_w - 10}" y="{y + bar_h - 4}" font-size="13" text-anchor="end" '
                   f'fill="#111827"{weight}>{escape(label)}</text>')
        x = float(label_w)
        for k, c in counts:
            w = bar_w * c / total
            if w <= 0:
                continue
            pct = 100 * c / total
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{COLORS[k]}">'
                       f'<title>{escape(names[k])}: {pct:.1f}% ({c}/{g["total"]})</title></rect>')
            if w > 34:
                fill = "#ffffff" if k == "reject" else "#111827"
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + bar_h - 5}" font-size="10.5" text-anchor="middle" '
                           f'fill="{fill}">{pct:.1f}%</text>')
            x += w
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# PNG (matplotlib)

def cjk_font() -> str | None:
    """The family name of an installed Noto CJK font (fonts-noto-cjk), or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in ("Hiragino Sans", "Yu Gothic", "Meiryo", CJK_FAMILY, "Noto Sans CJK SC", "Noto Sans JP", "IPAexGothic",
                "IPAGothic", "TakaoGothic"):
        if fam in names:
            return fam
    return None


def _setup():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fam = cjk_font()
    if fam is None:
        warnings.warn("no Japanese font found (install Debian's fonts-noto-cjk): Japanese labels in PNG charts "
                      "may show as boxes", RuntimeWarning, stacklevel=3)
        family = ["DejaVu Sans"]
    else:
        family = [fam, "DejaVu Sans"]
    return plt, {"font.family": family, "axes.unicode_minus": False}


def bars_png(report: dict[str, Any], lang: str = "ja", title: str | None = None,
             series: Sequence[str] = ("spf", "dmarc", "dmarc_covered"), *, fmt: str = "png",
             size: tuple[int, int] | None = None, dpi: int | None = None) -> bytes:
    """Grouped bars of the adoption rates per group; ``fmt`` png or svg (text kept as text), ``size`` in pixels.
    Each group's n and the definitions are in the image."""
    plt, rc = _setup()
    rc["svg.fonttype"] = "none"
    rows = _rows(report, lang)
    dpi = dpi or 110
    with plt.rc_context(rc):
        figsize = (size[0] / dpi, size[1] / dpi) if size else \
            (8.5, (0.62 if len(rows) < 15 else 0.45) * len(rows) + 1.9)
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
        n = len(series)
        h = 0.8 / n
        ys = range(len(rows))
        for j, s in enumerate(series):
            vals = [g[s]["rate"] for _, g in rows]
            pos = [y + (j - (n - 1) / 2) * h for y in ys]
            ax.barh(pos, vals, height=h * 0.92, color=COLORS[s], label=_lbl(s, lang))
            for p, v in zip(pos, vals, strict=True):
                ax.text(v + 0.8, p, f"{v:.1f}", va="center", fontsize=8, color="#374151")
        ax.set_yticks(list(ys), [f"{lab} (n={g['total']:,})" for lab, g in rows])
        ax.get_yticklabels()[-1].set_fontweight("bold")
        ax.set_ylim(len(rows) - 0.5, -0.5)  # top to bottom in table order, no blank margins
        ax.set_xlim(0, 108)
        ax.set_xlabel("%")
        ax.grid(axis="x", color="#e5e7eb")
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=n, frameon=False, fontsize=9)
        if title:
            fig.suptitle(title, fontsize=12, y=0.995)
        note = ("SPF: ドメイン自体に v=spf1 の TXT レコード。DMARC: _dmarc.<ドメイン> にレコード。適用: 組織ドメインの"
                "レコードを含む。割合の分母は各グループの団体数 (n)。" if lang == "ja" else
                "SPF: a v=spf1 TXT record at the domain. DMARC: a record at _dmarc.<domain>. Covered: including "
                "the organizational domain's record. Rates are over the bodies of each group (n).")
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        fig.text(0.01, 0.01, note, fontsize=6.5, color="#374151", wrap=True)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        plt.close(fig)
    data = buf.getvalue()
    if fmt == "svg":
        import re

        data = re.sub(rb"font-family: [^;\"]*", b"font-family: " + FONT.encode(), data)
    return data
