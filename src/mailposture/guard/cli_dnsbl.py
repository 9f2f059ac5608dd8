"""`mailposture guard dnsbl check|watch|history`: the operator's outbound addresses against DNS block lists.

Exit codes of ``check``: 0 nothing listed, 1 at least one listing, 2 bad input. Lists that cannot be used
from this resolver are reported (and do not count as listings)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from mailposture.cliopts import Lang, Nameserver, Timeout, default_lang
from mailposture.guard.cli_facts import ConfigOpt, StoreOpt, _fail

dnsbl_app = typer.Typer(help="Outbound addresses against DNS block lists (RFC 5782). 送信 IP のブラックリスト監視",
                        no_args_is_help=True)
ListOpt = Annotated[list[str] | None, typer.Option(
    "--list", "-L", help="Block-list zone (zone or zone=127.0.0.2,127.0.0.4-127.0.0.7, ';v6' for IPv6 lists); "
    "repeatable. Default: the config's [dnsbl] lists, else the well-known public lists.")]

_STATUS_JA = {"listed": "掲載", "not-listed": "非掲載", "unusable": "このリゾルバからは利用不可", "error": "エラー",
              "unknown-code": "未定義の応答コード"}


def _setup(config, store, lists, nameserver, need_store):
    from mailposture.guard.cli_facts import _setup as setup
    from mailposture.guard.dnsbl import DEFAULT_LISTS, parse_list

    cfg, _th, _w, dcfg, _geo, st = setup(config, store, None, need_store=need_store)
    try:
        bls = [parse_list(s) for s in (lists or dcfg.lists)] or list(DEFAULT_LISTS)
    except ValueError as e:
        _fail(str(e))
    servers = nameserver or dcfg.nameservers or None
    return cfg, dcfg, st, bls, servers


def _engine(servers, timeout):
    from mailposture.dns.engine import DnsConfigError, Engine

    try:
        return Engine(servers, timeout=timeout, retries=1, concurrency=50)
    except (DnsConfigError, ValueError, OSError) as e:
        _fail(f"resolver: {e}")


def _print(results, lang: str) -> None:
    for r in sorted(results, key=lambda r: (r.ip, r.zone)):
        st = _STATUS_JA.get(r.status, r.status) if lang == "ja" else r.status
        extra = " ".join(r.codes)
        if r.reason:
            extra += f" {r.reason}"
        if r.detail:
            extra += f" ({r.detail})"
        typer.echo(f"{r.ip:<16} {r.zone:<28} {st:<12} {extra}".rstrip())


def _record_and_notify(cfg, dcfg, st, results, lang: str) -> list[dict[str, Any]]:
    from mailposture.guard.facts_store import FactsStore
    from mailposture.guard.mailer import dnsbl_notice, send_text
    from mailposture.guard.store import StoreError

    try:
        changes = FactsStore(st).record_dnsbl(results)
    except StoreError as e:
        _fail(str(e))
    if changes and dcfg.notify:
        subject, body = dnsbl_notice(changes, lang)
        if not send_text(cfg, [dcfg.notify], subject, body):
            typer.echo(f"warning: change notice not sent (relay {cfg.smtp_relay})", err=True)
    return changes


@dnsbl_app.command("check")
def check_cmd(
    targets: Annotated[list[str], typer.Argument(help="IP addresses or CIDRs (IPv4 up to 4,096 addresses).")],
    lists: ListOpt = None, nameserver: Nameserver = None, timeout: Timeout = 2.0,
    config: ConfigOpt = None, store: StoreOpt = None, lang: Lang = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check addresses now. With --store/--config the results go to the guard store's history and changes are
    mailed to the dnsbl.notify address. 今すぐ確認"""
    from mailposture.dns.engine import run
    from mailposture.guard.dnsbl import LISTED, Checker, expand_targets

    lg = default_lang(lang)
    try:
        ips = expand_targets(targets)
    except ValueError as e:
        _fail(str(e))
    cfg, dcfg, st, bls, servers = _setup(config, store, lists, nameserver, need_store=bool(store or config))
    engine = _engine(servers, timeout)

    async def go():
        async with engine:
            return await Checker(engine, bls).check(ips)
    results = run(go())
    changes = _record_and_notify(cfg, dcfg, st, results, lg) if st is not None else []
    if as_json:
        typer.echo(json.dumps({"results": [r.to_json() for r in results], "changes": changes}, ensure_ascii=False))
    else:
        _print(results, lg)
    if any(r.status == LISTED for r in results):
        raise typer.Exit(1)


@dnsbl_app.command("watch")
def watch_cmd(
    targets: Annotated[list[str] | None, typer.Argument(help="Addresses/CIDRs (default: the config's dnsbl.ips).")] = None,
    lists: ListOpt = None, nameserver: Nameserver = None, timeout: Timeout = 2.0,
    interval: Annotated[float | None, typer.Option("--interval", min=1, help="Seconds between rounds.")] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=0, help="Stop after N rounds (0: run until stopped).")] = 0,
    config: ConfigOpt = None, store: StoreOpt = None, lang: Lang = None,
) -> None:
    """Check every interval; history in the guard store, listed/delisted changes mailed. 定期監視"""
    from mailposture.dns.engine import run
    from mailposture.guard.dnsbl import Checker, expand_targets

    lg = default_lang(lang)
    cfg, dcfg, st, bls, servers = _setup(config, store, lists, nameserver, need_store=True)
    try:
        ips = expand_targets(targets or dcfg.ips)
    except ValueError as e:
        _fail(str(e))
    if not ips:
        _fail("no addresses to watch: give them as arguments or as [dnsbl] ips in the config")
    every = interval or dcfg.interval
    engine = _engine(servers, timeout)

    async def go():
        import asyncio

        async with engine:
            checker = Checker(engine, bls)  # one cache across rounds: one query per address per list per TTL
            n = 0
            while True:
                results = await checker.check(ips)
                changes = _record_and_notify(cfg, dcfg, st, results, lg)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                listed = sum(r.status == "listed" for r in results)
                unusable = sorted({r.zone for r in results if r.status == "unusable"})
                if lg == "ja":
                    typer.echo(f"{stamp} {n + 1} 回目: 掲載 {listed} 件、変化 {len(changes)} 件"
                               + (f"、利用不可のリスト: {', '.join(unusable)}" if unusable else ""))
                else:
                    typer.echo(f"{stamp} round {n + 1}: {listed} listing(s), {len(changes)} change(s)"
                               + (f", unusable: {', '.join(unusable)}" if unusable else ""))
                for c in changes:
                    typer.echo(f"  {c['ip']} {c['list']}: {c['from'] or '-'} -> {c['to']}")
                n += 1
                if rounds and n >= rounds:
                    return
                await asyncio.sleep(every)
    try:
        run(go())
    except KeyboardInterrupt:
        pass


@dnsbl_app.command("status")
def status_cmd(config: ConfigOpt = None, store: StoreOpt = None,
               history: Annotated[int, typer.Option("--history", min=0, max=10000)] = 10,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Current listings and the latest changes from the guard store. 現在の掲載状況"""
    from mailposture.guard.facts_store import FactsStore

    _cfg, _d, st, _b, _s = _setup(config, store, None, None, need_store=True)
    fs = FactsStore(st)
    cur, hist = fs.listings(), fs.dnsbl_history(history)
    if as_json:
        typer.echo(json.dumps({"listings": cur, "history": hist}, ensure_ascii=False))
        return
    typer.echo(f"listed / 掲載中: {len(cur)}")
    for x in cur:
        typer.echo(f"  {x['ip']} {x['list']} since {x['since']} {' '.join(x['codes'])} {x['reason'] or ''}".rstrip())
    for h in hist:
        typer.echo(f"  {h['time']} {h['ip']} {h['list']}: {h['from'] or '-'} -> {h['to']}")


def listings_summary(st) -> list[dict[str, Any]]:
    """For ``guard status``: the current listings (empty when the table does not exist yet)."""
    from mailposture.guard.facts_store import FactsStore

    try:
        return FactsStore(st).listings()
    except Exception:
        return []
