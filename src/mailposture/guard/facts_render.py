"""Renderings of a ``guard analyze`` report: Markdown, HTML (with bar charts), CSV (one row per flagged
account) and XLSX (one sheet per table). JSON is the report dict itself. Every label in Japanese and English."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from mailposture.guard.facts import TRAVEL_KINDS
from mailposture.guard.reasons import reason_title

_L = {
    "title": ("踏み台送信の実態調査 (ログ分析)", "Stolen-password submission: facts from the mail logs"),
    "period": ("期間", "Period"),
    "lines": ("読んだ行 / 使った行 / 対象外 / 不明", "Lines read / used / ignored / unknown"),
    "geo": ("国判定データ", "Geo data"),
    "users_total": ("認証送信した利用者", "Users with authenticated submission"),
    "abroad": ("国外から送信した利用者", "Users who submitted from abroad"),
    "acceptance": ("受容性の推定: 国外送信を既定で停止していたら", "Acceptance: had overseas submission been off"),
    "users_refused": ("拒否された利用者", "Users refused"),
    "share": ("利用者に占める割合 (95% 信頼区間)", "Share of users (95% CI)"),
    "messages_refused": ("拒否された通数", "Messages refused"),
    "breakdown": ("内訳: 不正 / 1 か国のみ (旅行らしい) / 複数国 (VPN・ローミング等)",
                  "Of them: abuse / one foreign country (travel-like) / several countries (VPN, roaming …)"),
    "travel": ("1 か国のみの内訳: 同じ端末 (国内でも使用) / 新しい端末 / 端末情報なし / 通数が平常外",
               "One country, of them: same device (also used at home) / new device / no device logged / unusual "
               "volume"),
    "by_country": ("国別の送信", "Submissions by country"),
    "by_month": ("月別・国別", "By month and country"),
    "country": ("国", "Country"), "messages": ("通数", "Messages"), "users": ("利用者", "Users"),
    "month": ("月", "Month"),
    "flagged": ("不正利用が疑われるアカウント", "Accounts flagged as compromised"),
    "user": ("アカウント", "Account"), "score": ("スコア", "Score"), "reasons": ("理由", "Reasons"),
    "first_abuse": ("最初の兆候", "First sign"), "countries": ("国", "Countries"),
    "recipients": ("宛先数", "Recipients"),
    "timeline": ("証拠の時系列", "Evidence timeline"),
    "logins": ("ログイン成功 / 失敗", "Logins succeeded / failed"),
    "none": ("なし", "none"),
    "most_failed": ("認証失敗の多いアカウント", "Accounts with the most failed logins"),
    "failed": ("失敗", "failed"), "ok": ("成功", "succeeded"), "addresses": ("失敗元 IP 数", "failing addresses"),
    "internal": ("内部", "internal"), "??": ("不明", "unknown"),
    "policy": ("前提: 本国 {home}、許可リスト {allow} 件、国不明は {unk}",
               "Assumed: home {home}, allow-list {allow} entries, unknown country {unk}"),
}


def t(key: str, lang: str) -> str:
    ja, en = _L[key]
    return ja if lang == "ja" else en


def _cc(c: str, lang: str) -> str:
    return t(c, lang) if c in ("internal", "??") else c


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def summary_rows(rep: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    a = rep["acceptance"]
    b = a["refused_breakdown"]
    ln = rep["lines"]
    g = rep.get("geo") or {}
    return [
        (t("period", lang), f"{rep['period']['from'] or '-'} — {rep['period']['to'] or '-'}"),
        (t("lines", lang), f"{ln['read']:,} / {ln['used']:,} / {ln.get('ignored', 0):,} / {ln['unknown']:,}"),
        (t("geo", lang), f"{g.get('source')} {g.get('version') or ''} ({g.get('data_date') or '?'})"),
        (t("users_total", lang), f"{rep['users']['total']:,}"),
        (t("abroad", lang), f"{rep['users']['submitted_abroad']:,}"),
        (t("users_refused", lang), f"{a['users_refused']:,}"),
        (t("share", lang), f"{_pct(a['users_refused_share'])} ({_pct(a['ci95'][0])}–{_pct(a['ci95'][1])})"),
        (t("messages_refused", lang), f"{a['messages_refused']:,} ({_pct(a.get('messages_refused_share', 0))})"),
        (t("breakdown", lang), f"{b['abuse']} / {b['travel_one_country']} / {b['several_countries']}"),
        (t("travel", lang), " / ".join(str(a.get("travel_detail", {}).get(k, 0)) for k in TRAVEL_KINDS)),
        (t("logins", lang), f"{rep['logins']['ok']:,} / {rep['logins']['failed']:,}"),
    ]


def _policy_line(rep: dict[str, Any], lang: str) -> str:
    p = rep["policy"]
    unk = {"refuse": ("拒否", "refused"), "allow": ("許可", "allowed")}[p["unknown_country"]]
    return t("policy", lang).format(home=", ".join(p["home_countries"]), allow=p["allowlist_size"],
                                    unk=unk[0] if lang == "ja" else unk[1])


def render_md(rep: dict[str, Any], lang: str = "ja") -> str:
    out = [f"# {t('title', lang)}", "", _policy_line(rep, lang), "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in summary_rows(rep, lang)]
    out += ["", f"## {t('by_country', lang)}", "",
            f"| {t('country', lang)} | {t('messages', lang)} | {t('users', lang)} |", "|---|---:|---:|"]
    out += [f"| {_cc(r['country'], lang)} | {r['messages']:,} | {r['users']:,} |" for r in rep["by_country"]]
    out += ["", f"## {t('by_month', lang)}", "",
            f"| {t('month', lang)} | {t('country', lang)} | {t('messages', lang)} | {t('users', lang)} |",
            "|---|---|---:|---:|"]
    out += [f"| {r['month']} | {_cc(r['country'], lang)} | {r['messages']:,} | {r['users']:,} |"
            for r in rep["by_month"]]
    failed = rep["logins"].get("most_failed_users", [])[:10]
    if failed:
        out += ["", f"## {t('most_failed', lang)}", "",
                f"| {t('user', lang)} | {t('failed', lang)} | {t('ok', lang)} | {t('addresses', lang)} |",
                "|---|---:|---:|---:|"]
        out += [f"| {x['user']} | {x['failed']:,} | {x['ok']:,} | {x['failing_addresses']} |" for x in failed]
    out += ["", f"## {t('flagged', lang)} ({len(rep['flagged'])})", ""]
    if not rep["flagged"]:
        out.append(t("none", lang))
    for f in rep["flagged"]:
        out += [f"### {f['user']} — {t('score', lang)} {f['score']}", "",
                f"- {t('first_abuse', lang)}: {f['first_abuse']}",
                f"- {t('countries', lang)}: {', '.join(f['countries']) or '-'}",
                f"- {t('messages', lang)} / {t('recipients', lang)}: {f['messages']} / {f['recipients']}"]
        out += [f"- **{r['code']}** {reason_title(r['code'], lang)}: {r['detail']}" for r in f["reasons"]]
        if f.get("timeline"):
            out += ["", f"<details><summary>{t('timeline', lang)}</summary>", ""]
            out += [f"- {e['time']} {e['event']} {e['detail']}" for e in f["timeline"]]
            out += ["", "</details>"]
        out.append("")
    return "\n".join(out) + "\n"


def _bars_svg(rows: list[tuple[str, int]], width: int = 560) -> str:
    if not rows:
        return ""
    top = max(n for _, n in rows) or 1
    h = 22 * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">']
    for i, (label, n) in enumerate(rows):
        w = int((width - 170) * n / top)
        y = 5 + i * 22
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label)}</text>'
                     f'<rect x="90" y="{y}" width="{max(w, 1)}" height="16" fill="#3b6ea5"/>'
                     f'<text x="{95 + w}" y="{y + 13}" font-size="11">{n:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(rep: dict[str, Any], lang: str = "ja") -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in summary_rows(rep, lang))
    foreign = [(_cc(r["country"], lang), r["users"]) for r in rep["by_country"]
               if r["country"] not in rep["policy"]["home_countries"]][:20]
    msgs = [(_cc(r["country"], lang), r["messages"]) for r in rep["by_country"]][:20]
    flag_rows = "".join(
        f"<tr><td>{e(f['user'])}</td><td>{f['score']}</td><td>{e(f['first_abuse'] or '')}</td>"
        f"<td>{e(', '.join(f['countries']))}</td><td>{f['messages']}</td><td>{f['recipients']}</td><td><ul>"
        + "".join(f"<li><b>{e(r['code'])}</b> {e(reason_title(r['code'], lang))}: {e(r['detail'])}</li>"
                  for r in f["reasons"])
        + "</ul><details><summary>" + e(t("timeline", lang)) + "</summary><ul>"
        + "".join(f"<li>{e(x['time'])} {e(x['event'])} {e(x['detail'])}</li>" for x in f.get("timeline", []))
        + "</ul></details></td></tr>" for f in rep["flagged"])
    heads = "".join(f"<th>{e(t(k, lang))}</th>" for k in ("user", "score", "first_abuse", "countries", "messages",
                                                          "recipients", "reasons"))
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{e(t('title', lang))}</title>
<style>body{{font-family:"Noto Sans CJK JP",sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}}
</style></head><body>
<h1>{e(t('title', lang))}</h1><p>{e(_policy_line(rep, lang))}</p>
<table>{rows}</table>
<h2>{e(t('abroad', lang))} — {e(t('by_country', lang))}</h2>{_bars_svg(foreign)}
<h2>{e(t('by_country', lang))} ({e(t('messages', lang))})</h2>{_bars_svg(msgs)}
<h2>{e(t('flagged', lang))} ({len(rep['flagged'])})</h2>
<table><tr>{heads}</tr>{flag_rows}</table>
<script type="application/json" id="report">{e(json.dumps(rep, ensure_ascii=False))}</script>
</body></html>
"""


FLAG_COLUMNS = ("user", "score", "first_abuse", "countries", "messages", "recipients", "reasons")


def render_csv(rep: dict[str, Any], lang: str = "ja") -> str:
    """One row per flagged account; reasons as ``CODE: detail`` joined by `` | ``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([t(k, lang) for k in FLAG_COLUMNS] + ["codes"])
    for f in rep["flagged"]:
        w.writerow([f["user"], f["score"], f["first_abuse"], " ".join(f["countries"]), f["messages"],
                    f["recipients"], " | ".join(f"{r['code']}: {r['detail']}" for r in f["reasons"]),
                    " ".join(r["code"] for r in f["reasons"])])
    return buf.getvalue()


def render_xlsx(rep: dict[str, Any], path: str, lang: str = "ja") -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    ws.append([t("title", lang)])
    ws.append([_policy_line(rep, lang)])
    for k, v in summary_rows(rep, lang):
        ws.append([k, v])
    ws.column_dimensions["A"].width = 60
    ws.column_dimensions["B"].width = 40
    bc = wb.create_sheet("by_country")
    bc.append([t("country", lang), t("messages", lang), t("users", lang)])
    for r in rep["by_country"]:
        bc.append([_cc(r["country"], lang), r["messages"], r["users"]])
    if rep["by_country"]:
        ch = BarChart()
        ch.title = t("by_country", lang)
        n = min(len(rep["by_country"]), 20) + 1
        ch.add_data(Reference(bc, min_col=3, min_row=1, max_row=n), titles_from_data=True)
        ch.set_categories(Reference(bc, min_col=1, min_row=2, max_row=n))
        bc.add_chart(ch, "E2")
    bm = wb.create_sheet("by_month")
    bm.append([t("month", lang), t("country", lang), t("messages", lang), t("users", lang)])
    for r in rep["by_month"]:
        bm.append([r["month"], _cc(r["country"], lang), r["messages"], r["users"]])
    fl = wb.create_sheet("flagged")
    fl.append([t(k, lang) for k in FLAG_COLUMNS])
    for f in rep["flagged"]:
        fl.append([f["user"], f["score"], f["first_abuse"], " ".join(f["countries"]), f["messages"],
                   f["recipients"], "\n".join(f"{r['code']}: {r['detail']}" for r in f["reasons"])])
    tl = wb.create_sheet("timeline")
    tl.append([t("user", lang), "time", "event", "detail"])
    for f in rep["flagged"]:
        for x in f.get("timeline", []):
            tl.append([f["user"], x["time"], x["event"], x["detail"]])
    wb.save(path)
