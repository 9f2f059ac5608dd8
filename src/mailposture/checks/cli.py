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
    spf_cli.register(app)
    dmarc_cli.register(app)


def check(
    domains: Annotated[list[str], typer.Argument(help="Domain(s) to check.", show_default=False)],
    nameserver: Nameserver = None,
    timeout: Timeout = 2.0,
    retries: Retries = 2,
    concurrency: Concurrency = 50,
    qps: Qps = None,
    lang: Lang = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    core: Annotated[bool, typer.Option("--core", help="Only SPF, DMARC and MX (as a survey does).")] = False,
    fetch: Annotated[bool, typer.Option("--fetch", help="Also fetch the MTA-STS policy and BIMI logo (HTTPS).")] = False,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="Extra CA bundle for HTTPS fetches.")] = None,
    validating: Annotated[bool, typer.Option("--validating-resolver",
                                             help="The resolver validates DNSSEC: report its AD bit.")] = False,
    dkim_selectors: Annotated[str | None, typer.Option(
        "--dkim-selectors", help="File of DKIM selectors to probe, one a line (default: the bundled list).")] = None,
    fetch_concurrency: Annotated[int, typer.Option("--fetch-concurrency", min=1, max=1000,
                                                   help="HTTPS fetches at once.")] = 32,
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
            typer.echo(f"error: '{raw}' is not a valid domain name: {err}", err=True)
            raise typer.Exit(2)
        names.append(name)
    selectors = None
    if dkim_selectors:
        from mailposture.checks import dkim

        try:
            selectors = tuple(dkim.load_selectors(dkim_selectors))
        except (OSError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
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
        typer.echo(f"error: {exc}", err=True)
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
