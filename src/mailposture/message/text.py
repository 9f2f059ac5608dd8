"""The readable verdict of `message check` (Japanese or English), in the style of `check`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from mailposture.checks.text import SEV_STYLE, SEV_WORD

T = {
    "en": {"title": "Message authentication", "from": "From domain", "subject": "Subject", "spf": "SPF",
           "dkim": "DKIM", "dmarc": "DMARC", "arc": "ARC", "bimi": "BIMI", "result": "Result", "findings": "Findings",
           "fix": "Fix", "ip": "IP", "helo": "HELO", "mailfrom": "MAIL FROM", "not_eval": "not evaluated",
           "no_sig": "no signature", "testing": "testing key (t=y)", "sig": "Signature", "key": "key", "bits": "bits", "policy": "Policy",
           "disposition": "Receiver's action", "aligned": "Aligned", "org": "Organizational domain",
           "chain": "Chain", "sets": "sets", "failed": "fails at instance", "oldest": "oldest-pass",
           "claims": "Hop claims", "eligible": "eligible", "not_eligible": "not eligible",
           "v_pass": "Authenticated: the From domain is verified (DMARC pass)",
           "v_fail": "NOT authenticated: DMARC fails for the From domain",
           "v_none": "No DMARC policy: the From domain cannot be verified",
           "v_unknown": "Unknown: DNS errors prevented a verdict", "v_bad": "The message is malformed",
           "arc_note": "The ARC chain holds: a receiver that trusts {sealer} may accept the message on the "
                       "authentication results recorded before forwarding (RFC 7489 §6.7, RFC 8617 §1).",
           "yes": "yes", "no": "no", "action": {"none": "deliver", "quarantine": "quarantine (spam folder)",
                                                "reject": "reject"}},
    "ja": {"title": "メッセージ認証", "from": "From ドメイン", "subject": "件名", "spf": "SPF", "dkim": "DKIM",
           "dmarc": "DMARC", "arc": "ARC", "bimi": "BIMI", "result": "結果", "findings": "指摘事項", "fix": "対処",
           "ip": "IP", "helo": "HELO", "mailfrom": "MAIL FROM", "not_eval": "未評価", "no_sig": "署名なし", "testing": "テスト用の鍵 (t=y)",
           "sig": "署名", "key": "鍵", "bits": "ビット", "policy": "ポリシー", "disposition": "受信側の処置",
           "aligned": "一致", "org": "組織ドメイン", "chain": "チェーン", "sets": "セット",
           "failed": "失敗したインスタンス", "oldest": "oldest-pass", "claims": "各中継者の主張",
           "eligible": "表示可能", "not_eligible": "表示不可",
           "v_pass": "認証済み: From ドメインを確認できました (DMARC pass)",
           "v_fail": "認証されていません: From ドメインの DMARC が失敗しています",
           "v_none": "DMARC ポリシーがなく、From ドメインを確認できません",
           "v_unknown": "不明: DNS エラーのため判定できません", "v_bad": "メッセージの形式が不正です",
           "arc_note": "ARC チェーンは有効です。{sealer} を信頼する受信側は、転送前に記録された認証結果に基づいて"
                       "受け入れることができます (RFC 7489 §6.7、RFC 8617 §1)。",
           "yes": "はい", "no": "いいえ", "action": {"none": "配送", "quarantine": "隔離 (迷惑メール)",
                                                    "reject": "拒否"}},
}
RESULT_STYLE = {"pass": "green", "fail": "red", "softfail": "yellow", "neutral": "yellow", "none": "dim",
                "temperror": "magenta", "permerror": "red", "policy": "red"}


def _res(value: str | None) -> str:
    v = value or "none"
    return f"[{RESULT_STYLE.get(v, 'white')}]{escape(v)}[/]"


def verdict_key(result: dict[str, Any]) -> str:
    dm = (result.get("dmarc") or {}).get("result")
    if dm == "pass":
        return "v_pass"
    if dm == "fail":
        return "v_fail"
    if dm == "temperror":
        return "v_unknown"
    if dm == "permerror":
        return "v_bad"
    return "v_none"


def render(result: dict[str, Any], lang: str, console: Console | None = None) -> None:
    t = T["ja" if lang == "ja" else "en"]
    con = console or Console()
    key = verdict_key(result)
    style = {"v_pass": "green", "v_fail": "red", "v_unknown": "magenta", "v_bad": "red"}.get(key, "yellow")
    head = f"[bold {style}]{t[key]}[/]"
    msg = result.get("message") or {}
    sub = f"{t['from']}: {escape(str(result.get('from_domain') or '-'))}"
    if msg.get("subject"):
        sub += f"   {t['subject']}: {escape(msg['subject'][:80])}"
    note = ""
    if key == "v_fail" and (result.get("arc") or {}).get("cv") == "pass":
        note = "\n" + t["arc_note"].format(sealer=escape(_newest_sealer(result["arc"]) or "?"))
    con.print(Panel(f"{head}\n{sub}{note}", title=t["title"], expand=False))

    table = Table(show_header=True, header_style="bold")
    table.add_column("", style="bold")
    table.add_column(t["result"])
    table.add_column("")
    spf = result.get("spf") or {}
    if spf.get("evaluated"):
        detail = f"{t['ip']} {spf.get('ip')}  {t['mailfrom']} <{spf.get('mail_from') or ''}>  {t['helo']} {spf.get('helo') or '-'}"
        if spf.get("helo_result"):
            detail += f"  (HELO: {spf['helo_result']['result']})"
        table.add_row(t["spf"], _res(spf.get("result")), escape(f"{spf.get('domain')}  {detail}"))
    else:
        table.add_row(t["spf"], f"[dim]{t['not_eval']}[/]", "")
    sigs = result.get("dkim") or []
    if not sigs:
        table.add_row(t["dkim"], _res("none"), t["no_sig"])
    for s in sigs:
        bits = f"{s['key_bits']} {t['bits']}" if s.get("key_bits") else ""
        extra = "" if s.get("result") == "pass" else f" — {_dkim_reason(s.get('reason'), lang)}"
        if s.get("testing"):
            extra += f" ({t['testing']})"
        table.add_row(f"{t['dkim']} #{s['index'] + 1}", _res(s.get("result")),
                      escape(f"d={s.get('d')} s={s.get('s')} {s.get('a') or ''} {bits}{extra}"))
    dm = result.get("dmarc") or {}
    al = dm.get("aligned") or {}
    action = t["action"].get(dm.get("disposition") or "none", dm.get("disposition"))
    dm_detail = (f"{t['policy']} {dm.get('policy_tag') or 'p'}={dm.get('policy') or '-'}  "
                 f"{t['aligned']}: SPF {t['yes'] if al.get('spf') else t['no']}, "
                 f"DKIM {t['yes'] if al.get('dkim') else t['no']}  {t['disposition']}: {action}")
    table.add_row(t["dmarc"], _res(dm.get("result")), escape(dm_detail))
    arc = result.get("arc") or {}
    arc_detail = f"{arc.get('instances', 0)} {t['sets']}"
    if arc.get("cv") == "fail" and arc.get("failed_instance"):
        arc_detail += f", {t['failed']} {arc['failed_instance']}: {arc.get('reason')}"
    if arc.get("cv") == "pass":
        arc_detail += f", {t['oldest']} {arc.get('oldest_pass')}"
    table.add_row(t["arc"], _res(arc.get("cv")), escape(arc_detail))
    bimi = result.get("bimi") or {}
    table.add_row(t["bimi"], f"[green]{t['eligible']}[/]" if bimi.get("eligible") else f"[dim]{t['not_eligible']}[/]",
                  escape(str(bimi.get("location") or _bimi_reason(bimi.get("reason"), lang))))
    con.print(table)

    hops = [s for s in arc.get("sets", []) if (s.get("aar") or {}).get("present")]
    if hops:
        ht = Table(title=t["claims"], show_header=True, header_style="bold")
        for col in ("i", "authserv-id", "AMS", "AS", "cv", t["claims"]):
            ht.add_column(col)
        for s in hops:
            claims = ", ".join(f"{r['method']}={r['result']}" for r in s["aar"].get("results", []))
            ht.add_row(str(s["instance"]), escape(str(s["aar"].get("authserv_id") or "-")),
                       _ok(s["ams"].get("valid")), _ok(s["as"].get("valid")), escape(str(s["as"].get("cv") or "-")),
                       escape(claims))
        con.print(ht)

    fnd = result.get("findings") or []
    if fnd:
        con.print(f"[bold]{t['findings']}[/]")
        for f in fnd:
            mark, st = SEV_STYLE.get(f["severity"], ("•", "white"))
            word = SEV_WORD["ja" if lang == "ja" else "en"].get(f["severity"], f["severity"])
            con.print(f"[{st}]{mark} {word}[/] [dim]{f['code']}[/] {escape(f['message'])} [dim]({f['rfc']})[/]")
            if f.get("fix"):
                con.print(f"    [dim]{t['fix']}:[/] {escape(f['fix'])}")


def _ok(v: Any) -> str:
    if v is None:
        return "-"
    return "[green]✔[/]" if v else "[red]✖[/]"


def _dkim_reason(code: str | None, lang: str) -> str:
    from mailposture.message.verify import DKIM_REASONS

    en, ja = DKIM_REASONS.get(code or "", (code or "", code or ""))
    return ja if lang == "ja" else en


def _bimi_reason(code: str | None, lang: str) -> str:
    from mailposture.message.bimimsg import REASONS

    en, ja = REASONS.get(code or "", (code or "", code or ""))
    return ja if lang == "ja" else en


def _newest_sealer(arc: dict[str, Any]) -> str | None:
    sets = arc.get("sets") or []
    return (sets[-1].get("as") or {}).get("d") if sets else None
