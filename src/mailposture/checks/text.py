"""Human-readable rendering of one domain's result (the `check` command), in Japanese or English."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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
           "none": "none", "status": "Lookup", "selectors": "Selectors", "mode": "Mode",
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
           "none": "なし", "status": "検査結果", "selectors": "セレクタ", "mode": "モード",
           "verdict": "判定", "state": "状態", "found": "検出"},
}
# Values of the result that a reader sees (section status, MX classification, DMARC source, posture verdict …)
VALUES = {
    "en": {"ok": "ok", "error": "error (DNS)", "none": "none", "unknown": "unknown", "receives": "receives mail",
           "null-mx": "receives no mail (null MX)", "implicit": "no MX (mail goes to its A/AAAA address)",
           "no-mail": "receives no mail (no MX, no address)", "domain": "the domain itself",
           "organizational": "its organizational domain", "tree-walk": "a parent domain (tree walk)",
           "sending": "in use for mail", "parked-protected": "sends no mail, protected",
           "parked-spoofable": "sends no mail, NOT protected", "nonexistent": "does not exist",
           "secure": "secure (signed and validated)", "insecure": "insecure (not signed)", "bogus": "bogus"},
    "ja": {"ok": "正常", "error": "エラー (DNS)", "none": "なし", "unknown": "不明", "receives": "受信する",
           "null-mx": "受信しない (Null MX)", "implicit": "MX なし (A/AAAA のアドレスで受信)",
           "no-mail": "受信しない (MX もアドレスもなし)", "domain": "ドメイン自身", "organizational": "組織ドメイン",
           "tree-walk": "上位ドメイン (ツリー探索)", "sending": "メールに使用中",
           "parked-protected": "メールを送らない (保護済み)", "parked-spoofable": "メールを送らない (保護されていない)",
           "nonexistent": "存在しない", "secure": "安全 (署名あり・検証済み)", "insecure": "署名なし",
           "bogus": "検証失敗 (bogus)", "testing": "testing (試験運用)", "enforce": "enforce (強制)"},
}
# What a posture verdict means (RFC 7208 §10.1.2, RFC 7489 §6.3, RFC 7505 §3: the parked-domain practice)
VERDICT_MEANING = {
    "en": {"sending": "The domain sends or receives mail, so it is not a parked domain: its protection against "
                      "spoofing is the SPF and DMARC shown above.",
           "parked-protected": "The domain sends no mail and tells receivers to reject mail forged in its name "
                               "('v=spf1 -all' and DMARC p=reject).",
           "parked-spoofable": "The domain sends no mail but does not tell receivers to reject mail forged in its "
                               "name: see the findings.",
           "nonexistent": "The name does not exist in the DNS (NXDOMAIN).",
           "unknown": "Unknown: a lookup that decides it failed (DNS error)."},
    "ja": {"sending": "メールの送受信に使われているドメインです (メールを送らない「パーク」ドメインではありません)。"
                      "なりすまし対策は上の SPF と DMARC で判断します。",
           "parked-protected": "メールを送らないドメインで、なりすましメールを拒否するよう受信側に示しています "
                               "('v=spf1 -all' と DMARC p=reject)。",
           "parked-spoofable": "メールを送らないドメインですが、なりすましメールの拒否を受信側に示していません "
                               "(指摘事項を参照)。",
           "nonexistent": "この名前は DNS に存在しません (NXDOMAIN)。",
           "unknown": "判断に必要な DNS 検索が失敗したため不明です。"},
}
MEANING = {"en": "Meaning", "ja": "説明"}
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


def natural_key(text: str) -> list[Any]:
    """Sort key that orders numbers by value: s1, s2, s10 (not s1, s10, s2)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text.lower())]


def _value(v: Any, lang: str) -> str:
    """A result value as the reader's language shows it (unknown values as they are)."""
    if isinstance(v, list):
        return ", ".join(_value(x, lang) for x in sorted(v, key=lambda x: natural_key(str(x))))
    return VALUES[lang].get(v, str(v)) if isinstance(v, str) else str(v)


def _facts(name: str, sec: dict[str, Any], t: dict[str, str], lang: str = "en") -> list[tuple[str, str]]:
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
                 (t["source"], f"{_value(src, lang)} ({sec.get('source_domain')})" if src else "-"),
                 (t["policy"], str(sec.get("policy") or "-")), (t["rua"], ", ".join(sec.get("rua") or []) or "-")]
    elif name == "mx":
        hosts = sorted(sec.get("records", []), key=lambda r: (r.get("preference") or 0, natural_key(str(r.get("host")))))
        rows = [(t["class"], _value(sec.get("classification") or "-", lang)),
                (t["hosts"], ", ".join(f"{r.get('preference')} {r.get('host')}" for r in hosts) or "-")]
    else:
        for key in ("verdict", "state", "status", "record", "mode", "selectors", "policy"):
            if key == "status" and "state" in sec:
                continue    # DNSSEC: the state says it (the status repeats it)
            if sec.get(key) not in (None, [], ""):
                val = sec[key]
                rows.append((t.get(key, key), visible(str(val)) if key in ("record", "policy") else _value(val, lang)))
        if name == "posture" and sec.get("verdict") in VERDICT_MEANING[lang]:
            rows.append((MEANING[lang], VERDICT_MEANING[lang][sec["verdict"]]))
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
        for k, v in _facts(name, sec, t, lang):
            table.add_row(k, escape(v))
        console.rule(f"[bold]{t[name]}")
        console.print(table)
        _print_findings(sec.get("findings", []), lang, console)
    top = [f for f in result.get("findings", []) if not f["code"].startswith("POSTURE_")]
    if top:
        console.rule(f"[bold]{t['findings']}")
        _print_findings(top, lang, console)


def _print_findings(findings: list[dict[str, Any]], lang: str, console: Console) -> None:
    """One finding a row of a grid: the message and its fix wrap under their own column at any width."""
    order = {"error": 0, "warning": 1, "info": 2}
    if not findings:
        return
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)                 # indent + icon + severity word
    grid.add_column(overflow="fold")              # code, message, RFC, fix: wrapped under themselves
    for f in sorted(findings, key=lambda f: order.get(f["severity"], 3)):
        icon, style = SEV_STYLE.get(f["severity"], ("-", ""))
        text = Text.assemble((f["code"], "bold"), " ", f["message"], " ", (f"({f.get('rfc', '')})", "dim"))
        if f.get("fix"):
            text.append(f"\n→ {f['fix']}")
        grid.add_row(Text.assemble("  ", (f"{icon} {SEV_WORD[lang].get(f['severity'], f['severity'])}", style)), text)
    console.print(grid)
