"""Commands: `check` (one domain, every section, a readable verdict), `spf …` and `dmarc …` sub-apps."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from mailposture.cliopts import Concurrency, DnsOptions, Lang, Nameserver, Qps, Retries, Timeout, default_lang


def register(app: typer.Typer) -> None:
    from mailposture.checks.dmarc import cli as dmarc_cli
    from mailposture.checks.spf import cli as spf_cli

    app.command("check")(check)
    app.command("findings")(findings_cmd)
    spf_cli.register(app)
    dmarc_cli.register(app)


def check(
    domains: Annotated[list[str], typer.Argument(metavar="DOMAIN", help="Domain(s) to check. / 検査するドメイン。", show_default=False)],
    nameserver: Nameserver = None,
    timeout: Timeout = 2.0,
    retries: Retries = 2,
    concurrency: Concurrency = 50,
    qps: Qps = None,
    lang: Lang = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json / 出力形式")] = "text",
    core: Annotated[bool, typer.Option("--core", help="Only SPF, DMARC and MX (as a survey does). / SPF・DMARC・MX のみ。")] = False,
    fetch: Annotated[bool, typer.Option("--fetch", help="Also fetch the MTA-STS policy and BIMI logo (HTTPS). / "
                                                "MTA-STS ポリシーと BIMI ロゴも HTTPS で取得。")] = False,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="Extra CA bundle for HTTPS fetches. / 追加の CA 証明書。")] = None,
    validating: Annotated[bool, typer.Option("--validating-resolver",
                                             help="The resolver validates DNSSEC: report its AD bit. / "
                                             "リゾルバが DNSSEC を検証する (AD ビットを使う)。")] = False,
    dkim_selectors: Annotated[str | None, typer.Option(
        "--dkim-selectors", help="File of DKIM selectors to probe, one a line (default: the bundled list). / "
        "調べる DKIM セレクタの一覧ファイル。")] = None,
    fetch_concurrency: Annotated[int, typer.Option("--fetch-concurrency", min=1, max=1000,
                                                   help="HTTPS fetches at once. / 同時に行う HTTPS 取得数。")] = 32,
) -> None:
    """Check one domain and say exactly what to fix. / ドメインを 1 つ検査し、修正点を示します。"""
    from mailposture.checks.domain import CORE_SECTIONS, CheckOptions, check_domain
    from mailposture.checks.text import render
    from mailposture.scan.inputs import normalize_domain

    lang = default_lang(lang)
    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format must be text or json", param_hint="--format")
    names = []
    for raw in domains:
        name, err = normalize_domain(raw)
        if err:
            from mailposture.findings import value_ja

            typer.echo(f"エラー: 「{raw}」はドメイン名として正しくありません: {value_ja(err)}" if lang == "ja" else
                       f"error: '{raw}' is not a valid domain name: {err}", err=True)
            raise typer.Exit(2)
        names.append(name)
    selectors = None
    if dkim_selectors:
        from mailposture.checks import dkim

        try:
            selectors = tuple(dkim.load_selectors(dkim_selectors))
        except (OSError, ValueError) as exc:
            typer.echo(f"エラー: {selectors_error_ja(str(exc), dkim_selectors)}" if lang == "ja" else
                       f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if fetch:
        from mailposture.checks import fetch as fetch_mod

        fetch_mod.set_concurrency(fetch_concurrency)
    opts = CheckOptions.everything(fetch=fetch, ca_file=ca_file, validating_resolver=validating,
                                   dkim_selectors=selectors)
    if core:
        opts = CheckOptions(sections=CORE_SECTIONS, mx_resolve_hosts=True)
    dns = DnsOptions(nameserver, timeout, retries, concurrency, qps, want_ad=validating)
    try:
        engine = dns.engine()
    except (ValueError, OSError) as exc:
        shown = " ".join(nameserver or []) or "-"
        typer.echo(f"エラー: DNS の設定が正しくありません (--nameserver {shown}、--timeout、--retries、--concurrency、"
                   "--qps を確認してください)" if lang == "ja" else f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def run() -> list[dict]:
        async with engine:
            return [await check_domain(n, engine, lang=lang, options=opts) for n in names]

    from mailposture.dns.engine import run as run_loop

    results = run_loop(run())
    for res in results:
        if fmt == "json":
            sys.stdout.write(json.dumps(res, ensure_ascii=False) + "\n")
        else:
            render(res, lang)


def selectors_error_ja(message: str, path: str) -> str:
    """The Japanese of mailposture.checks.dkim.load_selectors' errors (a bad line, or a file that cannot be read)."""
    import re

    m = re.search(r"line (\d+): '(.*)' is not a valid DKIM selector$", message)
    if m:
        return f"{path} の {m.group(1)} 行目: '{m.group(2)}' は DKIM セレクタとして正しくありません"
    return f"--dkim-selectors {path}: ファイルを読めません"


def findings_markdown(lang: str) -> str:
    """The finding catalogue as a Markdown table (docs/findings.md is this output for both languages)."""
    from mailposture.findings import CATALOG

    head = ("| code | severity | RFC | message | fix |" if lang == "en" else "| コード | 重大度 | RFC | 内容 | 対処 |")
    rows = [head, "|---|---|---|---|---|"]
    for d in sorted(CATALOG.values(), key=lambda d: d.code):
        msg, fix = (d.ja, d.fix_ja) if lang == "ja" else (d.en, d.fix_en)
        cells = [f"`{d.code}`", d.severity if lang == "en" else _sev_ja(d.severity), d.rfc, msg, fix or ""]
        rows.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def _sev_ja(severity: str) -> str:
    from mailposture.checks.text import SEV_WORD

    return SEV_WORD["ja"].get(severity, severity)


def findings_doc() -> str:
    """docs/findings.md: the whole catalogue in Japanese, then in English (a test keeps the file current)."""
    return ("# Finding codes / 指摘コード一覧\n\n"
            "Generated by `mailposture findings --format doc`; do not edit by hand. "
            "`{name}` marks a value filled in per finding. / このファイルはコマンドで生成しています。\n\n"
            "## 日本語\n\n" + findings_markdown("ja") + "\n## English\n\n" + findings_markdown("en")
            + _differences_doc())


def _differences_doc() -> str:
    from mailposture.checks import differences

    return ("\n## 他の実装との相違 / Differences from independent implementations\n\n"
            "`tests/test_differential.py` runs the same records through pyspf (SPF check_host(), strict) and "
            "checkdmarc (DMARC parsing); these are all the disagreements, each with the section that decides. "
            "/ pyspf と checkdmarc に同じレコードを与えた結果との相違のすべてと、その根拠です。\n\n"
            "### 日本語\n\n" + differences.markdown("ja") + "\n### English\n\n" + differences.markdown("en"))


def findings_cmd(
    code: Annotated[str | None, typer.Argument(help="Show one code (prefix match: SPF_, DMARC_ …). / 表示するコード (前方一致)。")] = None,
    lang: Lang = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, md or doc (docs/findings.md) / 出力形式")] = "text",
) -> None:
    """List the stable finding codes: severity, RFC section, message and fix. / 指摘コードの一覧。"""
    from rich.console import Console
    from rich.table import Table

    from mailposture.findings import CATALOG

    lang = default_lang(lang)
    defs = [d for c, d in sorted(CATALOG.items()) if code is None or c.startswith(code.upper())]
    if not defs:
        typer.echo(f"エラー: '{code}' で始まる指摘コードはありません" if lang == "ja" else
                   f"error: no finding code starts with '{code}'", err=True)
        raise typer.Exit(2)
    if fmt == "doc":
        sys.stdout.write(findings_doc())
        return
    if fmt == "md":
        sys.stdout.write(findings_markdown(lang))
        return
    if fmt == "json":
        for d in defs:
            msg, fix = (d.ja, d.fix_ja) if lang == "ja" else (d.en, d.fix_en)
            sys.stdout.write(json.dumps({"code": d.code, "severity": d.severity, "rfc": d.rfc, "message": msg,
                                         "fix": fix}, ensure_ascii=False) + "\n")
        return
    if fmt != "text":
        raise typer.BadParameter("--format must be text, json, md or doc", param_hint="--format")
    table = Table(show_lines=False)
    from mailposture.checks.text import SEV_WORD

    heads = ("コード", "重大度", "RFC", "内容") if lang == "ja" else ("code", "severity", "RFC", "message")
    for col in heads:
        table.add_column(col, overflow="fold")
    for d in defs:
        table.add_row(d.code, SEV_WORD[lang].get(d.severity, d.severity), d.rfc, d.ja if lang == "ja" else d.en)
    Console().print(table)
