"""Trend charts that stay readable with many groups (47 prefectures): SVG for the HTML page, PNG via matplotlib.

Up to ``MAX_LINES`` groups share one chart, with a legend beside it that is sized to hold every entry (never
clipped). Beyond that the chart becomes *small multiples*: one small panel per group, in the list's order, each
with the group's line, the overall line as a grey dashed reference, the latest rate and the change in points
against the previous round in its title — 47 panels that can each be read, instead of 47 colours nobody can
tell apart.
"""

from __future__ import annotations

import io
import math
from html import escape
from typing import Any

from mailposture.report.charts import FONT, LINE_COLORS, _lbl, _setup

MAX_LINES = 10
PANEL_COLUMNS = 8


def _groups(trend: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    groups = [s for s in trend["series"] if not s.get("overall")]
    overall = next((s for s in trend["series"] if s.get("overall")), None)
    return groups, overall


def _panel_title(s: dict[str, Any], metric: str) -> str:
    from mailposture.survey.trend import points

    last = next((v for v in reversed(s[metric]) if v is not None), None)
    d = points(s[metric + "_delta"][-1]) if s.get(metric + "_delta") else ""
    return s["label"] + ("" if last is None else f" {last:.1f}%") + (f" ({d})" if d else "")


# ---------------------------------------------------------------------------------------------------------------
# SVG

def _svg_lines(out: list[str], s: dict[str, Any], metric: str, x0: float, y0: float, w: float, h: float,
               n_rounds: int, color: str, dash: bool, width: float = 2.0, dots: bool = True) -> None:
    n = max(1, n_rounds - 1)
    pts = []
    for i, v in enumerate(s[metric]):
        if v is None:
            continue
        pts.append((x0 + w * (i / n if n_rounds > 1 else 0.5), y0 + h * (1 - v / 100), v))
    style = ' stroke-dasharray="5 3"' if dash else ""
    if len(pts) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}"{style}/>')
    if dots:
        for x, y, v in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{2.5 if width < 2 else 3}" fill="{color}"><title>'
                       f'{escape(s["label"])}: {v:.1f}%</title></circle>')


def trend_svg(trend: dict[str, Any], metric: str = "spf", lang: str = "ja", max_lines: int = MAX_LINES) -> str:
    groups, overall = _groups(trend)
    if len(groups) > max_lines:
        return _multiples_svg(trend, metric, lang, groups, overall)
    rounds = trend["rounds"]
    series = trend["series"]
    left, right, top, bottom, legend_row = 50, 190, 30, 50, 18
    height = max(340, top + legend_row * len(series) + 20)   # the legend always fits
    width = 780
    pw, ph = width - left - right, 340 - top - bottom
    label = escape(_lbl(metric, lang))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label} (%)" '
           f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;font-family:{escape(FONT)}">',
           f'<text x="{left}" y="18" font-size="13" font-weight="bold" fill="#111827">{label} (%)</text>']
    for p in range(0, 101, 20):
        y = top + ph * (1 - p / 100)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#6b7280">{p}</text>')
    n = max(1, len(rounds) - 1)
    for i, r in enumerate(rounds):
        x = left + pw * (i / n if len(rounds) > 1 else 0.5)
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" font-size="11" text-anchor="middle" '
                   f'fill="#374151">{escape(r)}</text>')
    for k, s in enumerate(series):
        color = "#111827" if s.get("overall") else LINE_COLORS[k % len(LINE_COLORS)]
        _svg_lines(out, s, metric, left, top, pw, ph, len(rounds), color, bool(s.get("overall")))
        ly = top + 6 + k * legend_row
        dash = ' stroke-dasharray="5 3"' if s.get("overall") else ""
        out.append(f'<line x1="{left + pw + 14}" y1="{ly}" x2="{left + pw + 34}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/><text x="{left + pw + 40}" y="{ly + 4}" font-size="12" '
                   f'fill="#374151">{escape(_panel_title(s, metric))}</text>')
    out.append("</svg>")
    return "".join(out)


def _multiples_svg(trend: dict[str, Any], metric: str, lang: str, groups: list[dict[str, Any]],
                   overall: dict[str, Any] | None) -> str:
    cols = PANEL_COLUMNS
    rows = math.ceil(len(groups) / cols)
    pw, ph, gap_x, gap_y, head = 150, 70, 16, 44, 46
    width = cols * (pw + gap_x) + 20
    height = head + rows * (ph + gap_y) + 10
    label = escape(_lbl(metric, lang))
    ref = "破線: 全体" if lang == "ja" else "dashed: overall"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label} (%)" '
           f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;font-family:{escape(FONT)}">',
           f'<text x="10" y="18" font-size="13" font-weight="bold" fill="#111827">{label} (%) — '
           f'{escape(" → ".join(trend["rounds"]))}</text>',
           f'<text x="10" y="36" font-size="11" fill="#6b7280">{escape(ref)} · 0–100%</text>']
    for k, s in enumerate(groups):
        r, c = divmod(k, cols)
        x0, y0 = 10 + c * (pw + gap_x), head + r * (ph + gap_y) + 16
        out.append(f'<g class="panel"><text x="{x0}" y="{y0 - 5}" font-size="11" fill="#111827">'
                   f'{escape(_panel_title(s, metric))}</text>'
                   f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="#f9fafb" stroke="#e5e7eb"/>')
        if overall:
            _svg_lines(out, overall, metric, x0, y0, pw, ph, len(trend["rounds"]), "#9ca3af", True, 1.2, False)
        _svg_lines(out, s, metric, x0, y0, pw, ph, len(trend["rounds"]), "#2563eb", False, 1.8)
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# PNG

def trend_png(trend: dict[str, Any], metric: str = "spf", lang: str = "ja", title: str | None = None,
              max_lines: int = MAX_LINES) -> bytes:
    plt, rc = _setup()
    groups, overall = _groups(trend)
    xs = list(range(len(trend["rounds"])))
    with plt.rc_context(rc):
        if len(groups) > max_lines:
            cols = min(PANEL_COLUMNS, len(groups))
            nrows = math.ceil(len(groups) / cols)
            fig, axes = plt.subplots(nrows, cols, figsize=(1.9 * cols, 1.45 * nrows + 0.9), dpi=110,
                                     sharex=True, sharey=True, squeeze=False)
            for k, ax in enumerate(axes.flat):
                if k >= len(groups):
                    ax.set_visible(False)
                    continue
                s = groups[k]
                if overall:
                    _plot(ax, xs, overall[metric], color="#9ca3af", linestyle="--", linewidth=1, marker=None)
                _plot(ax, xs, s[metric], color="#2563eb", linestyle="-", linewidth=1.6, marker="o")
                ax.set_title(_panel_title(s, metric), fontsize=8)
                ax.set_ylim(-5, 105)  # room for the dots at 0 and 100
                ax.set_yticks([0, 50, 100])
                ax.tick_params(labelsize=7)
                ax.set_xticks(xs, trend["rounds"])
                ax.grid(axis="y", color="#e5e7eb")
            note = "破線: 全体" if lang == "ja" else "dashed: overall"
            fig.suptitle(f"{title or _lbl(metric, lang)} (%) — {note}", fontsize=11)
            fig.tight_layout()
        else:
            fig, ax = plt.subplots(figsize=(8.5, max(4.6, 0.28 * len(trend["series"]) + 1.5)), dpi=110)
            for k, s in enumerate(trend["series"]):
                _plot(ax, xs, s[metric], color="#111827" if s.get("overall") else LINE_COLORS[k % len(LINE_COLORS)],
                      linestyle="--" if s.get("overall") else "-", linewidth=2, marker="o",
                      label=_panel_title(s, metric))
            ax.set_xticks(xs, trend["rounds"])
            ax.set_ylim(0, 100)
            ax.set_ylabel(f"{_lbl(metric, lang)} (%)")
            ax.grid(axis="y", color="#e5e7eb")
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
            if title:
                ax.set_title(title, fontsize=12)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")  # the legend beside the axes is never cut off
        plt.close(fig)
    return buf.getvalue()


def _plot(ax: Any, xs: list[int], values: list[float | None], **kw: Any) -> None:
    pts = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], **kw)
