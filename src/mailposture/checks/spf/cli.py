"""`mailposture spf parse RECORD…` (offline) and `mailposture spf eval DOMAIN --ip IP` (RFC 7208 check_host).

`parse` reads records from the arguments, stdin (`-`) or `--file F` (one record a line, blank lines skipped; a
line in zone-file form `"v=spf1 …" "…"` is joined as the character-strings of one TXT record, §3.3).
Exit status: 0 when every record is valid, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mailposture.cliopts import DnsOptions, Lang, Nameserver, Retries, Timeout, default_lang, read_records

SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
RESULT_STYLE = {"pass": "bold green", "fail": "bold red", "softfail": "yellow", "neutral": "cyan",
                "none": "dim", "permerror": "bold red", "temperror": "magenta"}


def parse_one(text: str, lang: str) -> dict[str, Any]:
    """The JSON object of `spf parse` for one record."""
    from mailposture.checks.spf.analyze import LOOKUP_LIMIT, own_lookups, record_findings
    from mailposture.checks.spf.parse import parse_record

    rec = parse_record(text)
    lookups = own_lookups(rec) if rec.terms else 0
    findings = record_findings(rec)
    out = []
    for f in findings:
        d = {"code": f.code, "severity": f.severity, "message": f.message(lang), "rfc": f.rfc,
             "params": f.params}
        if f.fix(lang):
            d["fix"] = f.fix(lang)
        out.append(d)
    return {"record": text, "valid": rec.valid and lookups <= LOOKUP_LIMIT, "dns_lookups": lookups,
            "terms": [t.text for t in rec.terms], "findings": out}


def register(app: typer.Typer) -> None:
    """Add the `spf` sub-app (parse, eval) to ``app``."""
    spf_app = typer.Typer(name="spf", no_args_is_help=True,
                          help="SPF records (RFC 7208). SPF レコードの検査と評価。")

    @spf_app.callback()
    def _spf() -> None:
        """SPF records (RFC 7208)."""

    @spf_app.command("parse")
    def parse_cmd(
        records: Annotated[list[str] | None, typer.Argument(
            help="SPF records ('-' reads stdin, one record a line). 検査するレコード。")] = None,
        file: Annotated[Path | None, typer.Option("--file", "-f", help="File with one record a line. / 1 行 1 レコードのファイル。")] = None,
        fmt: Annotated[str, typer.Option("--format", help="text or json (JSON Lines). / 出力形式。")] = "text",
        lang: Lang = None,
    ) -> None:
        """Check SPF records offline: every syntax problem with its position, and risky settings.
        SPF レコードをオフラインで検証し、すべての問題を位置付きで表示します。"""
        language = default_lang(lang)
        if fmt not in ("text", "json"):
            raise typer.BadParameter("--format must be 'text' or 'json'", param_hint="--format")
        texts = read_records(records, file)
        if not texts:
            typer.echo("error: no record given (arguments, '-' or --file) / レコードが指定されていません", err=True)
            raise typer.Exit(2)
        results = [parse_one(t, language) for t in texts]
        if fmt == "json":
            for r in results:
                sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            _print_parse(results, language)
        raise typer.Exit(0 if all(r["valid"] for r in results) else 1)

    @spf_app.command("eval")
    def eval_cmd(
        domain: Annotated[str, typer.Argument(help="Domain whose SPF record is evaluated. 評価するドメイン。")],
        ip: Annotated[str, typer.Option("--ip", help="Client IP address (IPv4 or IPv6). 接続元 IP アドレス。")],
        sender: Annotated[str | None, typer.Option(
            "--sender", help="MAIL FROM address (default: postmaster@DOMAIN). 送信者アドレス。")] = None,
        helo: Annotated[str, typer.Option("--helo", help="HELO/EHLO name (for %{h}). / HELO 名。")] = "",
        nameserver: Nameserver = None,
        timeout: Timeout = 2.0,
        retries: Retries = 2,
        fmt: Annotated[str, typer.Option("--format", help="text or json. / 出力形式。")] = "text",
        lang: Lang = None,
    ) -> None:
        """Evaluate SPF for a client IP (RFC 7208 check_host()) and show every step.
        接続元 IP に対する SPF 評価 (check_host) を実行し、各手順を表示します。"""
        from mailposture.checks.spf.evaluate import check_host, parse_ip
        from mailposture.checks.spf.evaluate import domain_problem as problem

        language = default_lang(lang)
        if fmt not in ("text", "json"):
            raise typer.BadParameter("--format must be 'text' or 'json'", param_hint="--format")
        try:
            addr = parse_ip(ip)
        except ValueError:
            typer.echo(f"error: '{ip}' is not a valid IPv4 or IPv6 address / IP アドレスが正しくありません", err=True)
            raise typer.Exit(2) from None
        name = domain.strip().rstrip(".").lower()
        why = problem(name, fqdn=True)
        if why:
            typer.echo(f"error: '{domain}' is not a valid domain name ({why}) / ドメイン名が正しくありません", err=True)
            raise typer.Exit(2)
        try:
            engine = DnsOptions(nameserver, timeout, retries).engine()
        except (ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

        async def run():
            async with engine:
                # an empty --sender with --helo checks the HELO identity (§2.3: postmaster@helo)
                who = sender or (f"postmaster@{helo}" if sender == "" and helo else f"postmaster@{name}")
                return await check_host(addr, name, who, resolver=engine, helo=helo)

        res = asyncio.run(run())
        if fmt == "json":
            sys.stdout.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
        else:
            _print_eval(res, language)

    app.add_typer(spf_app, name="spf")


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _print_parse(results: list[dict[str, Any]], lang: str) -> None:
    from rich.markup import escape

    from mailposture.checks.chars import visible
    from mailposture.checks.text import SEV_WORD

    con = _console()
    for r in results:
        ok = r["valid"]
        word = ("有効" if ok else "無効") if lang == "ja" else ("valid" if ok else "INVALID")
        con.print(f"{escape(visible(r['record']))}")  # control characters named, never echoed raw
        look = "DNS 参照" if lang == "ja" else "DNS lookups"
        con.print(f"  => [{'bold green' if ok else 'bold red'}]{word}[/]  ({look}: {r['dns_lookups']})")
        for f in r["findings"]:
            word = SEV_WORD[lang].get(f["severity"], f["severity"])
            con.print(f"  [{SEV_STYLE[f['severity']]}]{word}[/] {f['code']}: "
                      f"{escape(f['message'])} [dim]({escape(f['rfc'])})[/]")


def _print_eval(res: Any, lang: str) -> None:
    from rich.markup import escape

    con = _console()
    label = "結果" if lang == "ja" else "Result"
    from mailposture.checks.spf.reasons import reason_ja, step_ja

    why = reason_ja(res.reason) if lang == "ja" else res.reason
    con.print(f"{label}: [{RESULT_STYLE.get(res.result, 'bold')}]{res.result}[/]  ({escape(why)})")
    if res.record:
        con.print(f"{'レコード' if lang == 'ja' else 'Record'}: {escape(res.record)}")
    if res.explanation:
        con.print(f"{'説明' if lang == 'ja' else 'Explanation'}: {escape(res.explanation)}")
    con.print(f"{'DNS 参照' if lang == 'ja' else 'DNS lookups'}: {res.dns_lookups}/10, "
              f"{'空の応答' if lang == 'ja' else 'void'}: {res.void_lookups}/2")
    con.print("Trace:" if lang != "ja" else "評価手順:")
    for s in res.trace:
        action, detail = step_ja(s.action, s.detail) if lang == "ja" else (s.action, s.detail)
        con.print(f"  {'  ' * s.depth}[dim]{escape(s.domain)}[/] {action}: {escape(detail)}")
