"""Markdown, CSV and JSON renderings of a report (see :func:`mailposture.report.tables.aggregate`)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from mailposture.report.tables import DEFINITIONS, cell_text, headline_lines, table_models, text


def when(v: Any, lang: str = "en") -> str:
    """A stored time as readers state it: Japan Standard Time in Japanese ('2026-12-01 22:39 JST'), UTC in English
    ('2026-12-01 13:39 UTC')."""
    from datetime import UTC, datetime, timedelta, timezone

    try:
        t = datetime.fromisoformat(str(v))
    except ValueError:
        return str(v or "")
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)  # the catalog stores UTC
    if lang == "ja":
        # Asia/Tokyo is UTC+9 all year (no daylight saving since 1951): no tz database needed
        return t.astimezone(timezone(timedelta(hours=9), "JST")).strftime("%Y-%m-%d %H:%M JST")
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def failure_line(meta: dict[str, Any], lang: str) -> str | None:
    """For a failed round (RESOLVER_SUSPECT): the line every report starts with."""
    why = (meta.get("failed") or {}).get(lang)
    if not why:
        return None
    return text(lang, f"この調査回は失敗しています (集計値は信頼できません): {why}",
                f"THIS ROUND FAILED (its figures cannot be trusted): {why}")


def meta_lines(meta: dict[str, Any], lang: str) -> list[str]:
    r = dict(meta.get("round") or {})
    for k in ("started", "finished", "recomputed"):
        if r.get(k):
            r[k] = when(r[k], lang)
    out = []
    if meta.get("synthetic"):
        out.append(text(lang, "**このレポートは架空のリストと合成 DNS によるデモです。実在の団体のデータではありません。**",
                        "**This report is a demo on a fictitious list and synthetic DNS: it is not data about "
                        "real bodies.**"))
    if r:
        out.append(text(lang, f"調査回: {r.get('name')} / リスト: {r.get('list_name')} "
                              f"(SHA-256 {str(r.get('list_sha256', ''))[:12]}…) / "
                              f"実施: {r.get('started')} – {r.get('finished')} / ツール: mailposture {r.get('tool_version')}",
                        f"Round: {r.get('name')} / list: {r.get('list_name')} "
                        f"(SHA-256 {str(r.get('list_sha256', ''))[:12]}…) / "
                        f"run: {r.get('started')} – {r.get('finished')} / tool: mailposture {r.get('tool_version')}"))
        if r.get("resolvers"):
            res = ", ".join(r["resolvers"])
            out.append(text(lang, f"リゾルバ: {res} / 再試行したドメイン: {r.get('retried', 0)}、"
                                  f"判定不能のまま: {r.get('errors', 0)}",
                            f"Resolvers: {res} / domains retried: {r.get('retried', 0)}, "
                            f"still unknown: {r.get('errors', 0)}"))
        if meta.get("count"):
            out.append(text(lang, "集計単位: 団体 (" + ("いずれかのドメインが該当すれば該当" if meta["count"] == "any"
                                                          else "代表ドメインのみで判定") + ")",
                            "Counted per body (" + ("any of its domains" if meta["count"] == "any"
                                                   else "its primary domain only") + ")"))
        if r.get("recomputed"):
            out.append(text(lang, f"保存済みの DNS 応答から再計算: {r.get('recomputed')}",
                            f"Recomputed from the stored DNS answers: {r.get('recomputed')}"))
    return out


def render_md(report: dict[str, Any], meta: dict[str, Any], lang: str = "ja") -> str:
    fail = failure_line(meta, lang)
    lines = [f"> **{fail}**", ""] if fail else []
    lines += [f"# {meta.get('title') or text(lang, '送信ドメイン認証の普及状況', 'Sender authentication adoption')}", ""]
    for m in meta_lines(meta, lang):
        lines += [m, ""]
    for h in headline_lines(report, lang):
        lines.append(f"- {h}")
    lines.append("")
    for t in table_models(report, lang):
        lines += [f"## {t['title']}", ""]
        lines.append("| " + " | ".join(t["columns"]) + " |")
        lines.append("|" + "|".join("---" for _ in t["columns"]) + "|")
        for i, row in enumerate(t["rows"]):
            cells = [cell_text(v).replace("|", "\\|") for v in row]
            if t["total_row"] and i == len(t["rows"]) - 1:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"## {text(lang, '定義', 'Definitions')}", ""]
    lines += [f"- {d}" for d in DEFINITIONS[lang]]
    return "\n".join(lines) + "\n"


def render_csv(report: dict[str, Any], lang: str = "ja") -> str:
    """One row per group (and the overall row): numbers only, one count and one rate column per metric."""
    from mailposture.report.tables import BOOL_KEYS, POLICIES, overall_label

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if lang == "ja":  # Japanese headers in a Japanese report (the English ones are the stable field names)
        from mailposture.report.tables import METRICS, by_label

        head = [by_label(report.get("by"), "ja"), "団体数"]
        for k in BOOL_KEYS:
            head += [f"{METRICS[k][0]} 該当数", f"{METRICS[k][0]} 割合 (%)", f"{METRICS[k][0]} 不明"]
        for p in POLICIES:
            head += [f"ポリシー {p} 該当数", f"ポリシー {p} 割合 (%)"]
        head += ["判定不能 (DNS エラー) 数", "判定不能 (DNS エラー) 割合 (%)"]
    else:
        head = ["group", "total"]
        for k in BOOL_KEYS:
            head += [f"{k}_count", f"{k}_rate", f"{k}_unknown"]
        for p in POLICIES:
            head += [f"policy_{p}_count", f"policy_{p}_rate"]
        head += ["errors_count", "errors_rate"]
    w.writerow(head)
    rows = [(g["group"], g) for g in report["groups"]] + [(overall_label(report, lang), report["overall"])]
    for name, g in rows:
        if name[:1] in ("=", "+", "-", "@", "\t", "\r"):
            name = "'" + name  # never a formula when the CSV is opened in a spreadsheet
        row: list[Any] = [name, g["total"]]
        for k in BOOL_KEYS:
            row += [g[k]["count"], f"{g[k]['rate']:.1f}", g[k]["unknown"]]
        for p in POLICIES:
            row += [g["policy"][p]["count"], f"{g['policy'][p]['rate']:.1f}"]
        row += [g["errors"]["count"], f"{g['errors']['rate']:.1f}"]
        w.writerow(row)
    return buf.getvalue()


def render_json(report: dict[str, Any], meta: dict[str, Any], lang: str = "en") -> str:
    out = {"failed": failure_line(meta, lang)} if meta.get("failed") else {}
    out.update(report)
    out["meta"] = {k: v for k, v in meta.items() if k != "title"}
    out["definitions"] = DEFINITIONS["ja" if lang == "ja" else "en"]
    return json.dumps(out, ensure_ascii=False, indent=2, default=str) + "\n"
