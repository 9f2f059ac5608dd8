"""Human-readable rendering of one domain's result (the `check` command), in Japanese or English."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from mailposture.checks.chars import visible  # control characters of a record named (U+0001), never raw

LABELS = {
    "en": {"spf": "SPF", "dmarc": "DMARC", "mx": "MX", "dkim": "DKIM", "bimi": "BIMI", "mta_sts": "MTA-STS",
           "tls_rpt": "TLS-RPT", "dnssec": "DNSSEC", "posture": "Posture", "record": "Record",
           "present": "Published", "valid": "Syntax", "ok": "valid", "bad": "invalid", "yes": "yes", "no": "no", "unknown": "unknown (DNS error)",
           "absent": "- (no record)",
           "lookups": "DNS lookups", "void": "Void lookups", "ipv4": "Authorized IPv4 addresses",
           "all": "Default (all)", "policy": "Effective policy", "source": "Found at", "rua": "Aggregate reports",
           "class": "Mail reception", "hosts": "Hosts", "findings": "Findings", "fix": "Fix",
           "verdict_ok": "Protected against spoofing", "verdict_bad": "NOT protected against spoofing",
           "verdict_unknown": "Protection unknown (DNS errors)", "queries": "DNS queries", "errors": "DNS errors",
           "none": "none", "status": "Status", "selectors": "Selectors", "mode": "Mode",
           "verdict": "Verdict", "state": "State", "found": "Found"},
    "ja": {"spf": "SPF", "dmarc": "DMARC", "mx": "MX", "dkim": "DKIM", "bimi": "BIMI", "mta_sts": "MTA-STS",
           "tls_rpt": "TLS-RPT", "dnssec": "DNSSEC", "posture": "総合評価", "record": "レコード",
           "present": "公開", "valid": "構文", "ok": "正しい", "bad": "誤りあり", "yes": "あり", "no": "なし", "unknown": "不明 (DNS エラー)",
           "absent": "- (レコードなし)",
           "lookups": "DNS 参照回数", "void": "空応答の参照", "ipv4": "許可 IPv4 アドレス数",
           "all": "既定の評価 (all)", "policy": "実効ポリシー", "source": "取得元", "rua": "集計レポート",
           "class": "メール受信", "hosts": "ホスト", "findings": "指摘事項", "fix": "対処",
           "verdict_ok": "なりすまし対策: 保護されています", "verdict_bad": "なりすまし対策: 保護されていません",
           "verdict_unknown": "なりすまし対策: 不明 (DNS エラー)", "queries": "DNS 問い合わせ", "errors": "DNS エラー",
           "none": "なし", "status": "状態", "selectors": "セレクタ", "mode": "モード",
           "verdict": "判定", "state": "状態", "found": "検出"},
}
SEV_STYLE = {"error": ("✖", "bold red"), "warning": ("▲", "yellow"), "info": ("•", "cyan")}
SEV_WORD = {"en": {"error": "error", "warning": "warning", "info": "info"},
            "ja": {"error": "エラー", "warning": "警告", "info": "情報"}}


def _yn(v: Any, t: dict[str, str]) -> str:
    return t["unknown"] if v is None else (t["yes"] if v else t["no"])


def _ok(sec: dict[str, Any], t: dict[str, str]) -> str:
    """Syntax of a section's record: valid/invalid; no record is absent, never unknown (only a DNS error is)."""
    v = sec.get("valid")
    if v is not None:
        return t["ok"] if v else t["bad"]
    if sec.get("present") is False or sec.get("status") == "none":
        return t["absent"]
    return t["unknown"]


def _facts(name: str, sec: dict[str, Any], t: dict[str, str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [(t["present"], _yn(sec.get("present"), t))] if "present" in sec and name not in ("dnssec", "posture") else []
    if name in ("spf", "dmarc") and not sec.get("record") and len(sec.get("records") or []) > 1:
        rows += [(t["record"], visible(r)) for r in sec["records"]]
    if name == "spf":
        rows += [(t["record"], visible(sec.get("record") or "-"))] if len(sec.get("records") or []) <= 1 else []
        rows += [ (t["valid"], _ok(sec, t)),
                 (t["all"], str(sec.get("all") or "-")), (t["lookups"], f"{sec.get('dns_lookups', 0)} / 10"),
                 (t["void"], f"{sec.get('void_lookups', 0)} / 2"),
                 (t["ipv4"], f"{sec.get('authorized_ipv4', 0):,}")]
    elif name == "dmarc":
        src = sec.get("source")
        rows += [(t["record"], visible(sec.get("record") or "-"))] if len(sec.get("records") or []) <= 1 else []
        rows += [(t["valid"], _ok(sec, t)),
                 (t["source"], f"{src} ({sec.get('source_domain')})" if src else "-"),
                 (t["policy"], str(sec.get("policy") or "-")), (t["rua"], ", ".join(sec.get("rua") or []) or "-")]
    elif name == "mx":
        rows = [(t["class"], str(sec.get("classification") or "-")),
                (t["hosts"], ", ".join(f"{r.get('preference')} {r.get('host')}" for r in sec.get("records", []))
                 or "-")]
    else:
        for key in ("verdict", "state", "status", "record", "mode", "selectors", "policy"):
            if sec.get(key) not in (None, [], ""):
                val = sec[key]
                rows.append((t.get(key, key), ", ".join(map(str, val)) if isinstance(val, list) else str(val)))
    return rows


def render(result: dict[str, Any], lang: str, console: Console | None = None) -> None:
    console = console or Console()
    t = LABELS[lang]
    dom = result["domain"]
    if result.get("input_error"):
        console.print(f"[bold red]{escape(dom)}[/]: {escape(result['input_error'])}")
        return
    verdict = next((f for f in result.get("findings", []) if f["code"].startswith("POSTURE_")), None)
    if verdict is None:
        head, style = t["verdict_unknown"], "yellow"
    elif verdict["code"] == "POSTURE_PROTECTED":
        head, style = t["verdict_ok"], "green"
    else:
        head, style = t["verdict_bad"], "red"
    dns = result.get("dns", {})
    console.print(Panel(f"[bold]{escape(dom)}[/]\n[{style}]{escape(head)}[/]\n"
                        f"{t['queries']}: {dns.get('queries', 0)}   {t['errors']}: {len(dns.get('errors', []))}",
                        expand=False))
    for name in ("spf", "dmarc", "mx", "dkim", "bimi", "mta_sts", "tls_rpt", "dnssec", "posture"):
        sec = result.get(name)
        if not sec:
            continue
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="dim")
        table.add_column(overflow="fold")
        for k, v in _facts(name, sec, t):
            table.add_row(k, escape(v))
        console.rule(f"[bold]{t[name]}")
        console.print(table)
        _print_findings(sec.get("findings", []), lang, console)
    top = [f for f in result.get("findings", []) if not f["code"].startswith("POSTURE_")]
    if top:
        console.rule(f"[bold]{t['findings']}")
        _print_findings(top, lang, console)


def _print_findings(findings: list[dict[str, Any]], lang: str, console: Console) -> None:
    order = {"error": 0, "warning": 1, "info": 2}
    for f in sorted(findings, key=lambda f: order.get(f["severity"], 3)):
        icon, style = SEV_STYLE.get(f["severity"], ("-", ""))
        console.print(f"  [{style}]{icon} {SEV_WORD[lang].get(f['severity'], f['severity'])}[/] "
                      f"[bold]{f['code']}[/] {escape(f['message'])} [dim]({escape(f.get('rfc', ''))})[/]")
        if f.get("fix"):
            console.print(f"      → {escape(f['fix'])}")
