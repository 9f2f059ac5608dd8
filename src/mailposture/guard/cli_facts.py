"""`mailposture guard analyze|watch|dnsbl …`: the 踏み台 facts (issue 12), attached to the ``guard`` group by
``register(guard_app)``. Bad input prints one line and exits 2, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mailposture.cliopts import Lang, cpu_cores, default_lang

ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="Guard config file (TOML). 設定ファイル")]
StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="Store URL (overrides the config): sqlite:///path/guard.db or postgresql+psycopg://…")]
TzOpt = Annotated[str | None, typer.Option(
    "--tz", help="Zone of classic syslog timestamps (Asia/Tokyo, UTC, +09:00); default: TZ / the machine's.")]
GeoOpt = Annotated[str | None, typer.Option("--geo", help="iptocc or a .mmdb path (overrides the config).")]

FORMATS = ("md", "html", "xlsx", "csv", "json")


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _setup(config: str | None, store: str | None, geo: str | None, need_store: bool):
    from mailposture.guard.config import ConfigError, load_config
    from mailposture.guard.geo import GeoError, open_geo
    from mailposture.guard.sections import load_sections
    from mailposture.guard.store import StoreError, open_store

    try:
        cfg = load_config(config)
        th, wcfg, dcfg = load_sections(config)
        if store:
            cfg.store_url = store
        if geo:
            cfg.geo = geo
        geo_src = open_geo(cfg.geo)
        st = open_store(cfg.store_url) if need_store else None
    except (ConfigError, GeoError, StoreError, ValueError) as e:
        _fail(str(e))
    return cfg, th, wcfg, dcfg, geo_src, st


def _allowlist(config: str | None, store: str | None, st) -> Any:
    """The allow-list: from the store when one was named (--store or a config file), else empty (the guard's
    defaults: no allow-list, no built-in exemptions)."""
    from mailposture.guard.decide import AllowList

    if st is None:
        return AllowList()
    return AllowList.from_entries(e for e, _ in st.allowlist())


def locator_for(geo_src):
    """City coordinates from a city-level .mmdb when configured, else country centroids."""
    from mailposture.guard.detect import centroid_locator

    reader = getattr(geo_src, "_reader", None)
    if reader is None:
        return centroid_locator

    def locate(ip: str, cc: str | None):
        try:
            rec = reader.get(ip)
            loc = rec.get("location") if isinstance(rec, dict) else None
            if isinstance(loc, dict) and "latitude" in loc and "longitude" in loc:
                return (float(loc["latitude"]), float(loc["longitude"]))
        except Exception:
            pass
        return centroid_locator(ip, cc)
    return locate


def asn_lookup(path: str):
    """ip -> (AS number, organisation) from an ASN .mmdb; a bad file is a clear error (exit 2)."""
    import maxminddb

    try:
        reader = maxminddb.open_database(path)
    except FileNotFoundError:
        _fail(f"ASN database not found: {path}")
    except Exception as e:
        _fail(f"not a valid .mmdb file: {path}: {e}")

    def lookup(ip: str):
        try:
            rec = reader.get(ip)
        except Exception:
            return None
        if isinstance(rec, dict) and isinstance(rec.get("autonomous_system_number"), int):
            return rec["autonomous_system_number"], str(rec.get("autonomous_system_organization") or "")
        return None
    return lookup


def analyze_cmd(
    logs: Annotated[list[str], typer.Argument(help="Log files or globs (maillog*, /var/log/mail.log.*.gz).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, html, xlsx, csv or json")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file (needed for html, xlsx, csv).")]
    = None,
    config: ConfigOpt = None, store: StoreOpt = None, tz: TzOpt = None, geo: GeoOpt = None, lang: Lang = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = True,
    asn_db: Annotated[str | None, typer.Option("--asn-mmdb", help="An ASN .mmdb (GeoLite2-ASN, DB-IP ASN): "
                                               "networks of submissions from abroad.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, max=256, show_default=False,
        help="Processes parsing the log lines (the analysis itself runs in this one). Default: one per CPU core "
        f"({cpu_cores()} here); 1 for logs smaller than one chunk (8 MB). / ログを解析するプロセス数 (既定: CPU "
        "コア数)。")] = None,
) -> None:
    """Abuse facts, acceptance estimate and compromised-account detection from Postfix/Dovecot logs.
    ログから踏み台送信の実態・受容性・不正アカウントを集計"""
    from mailposture.guard.facts import Analyzer
    from mailposture.guard.facts_render import render_csv, render_html, render_md, render_xlsx
    from mailposture.logs.files import LogFileError
    from mailposture.logs.parse import parse_tz
    from mailposture.logs.reader import LogReader

    lg = default_lang(lang)
    if fmt not in FORMATS:
        _fail(f"unknown --format {fmt!r} (md, html, xlsx, csv, json)")
    if fmt in ("html", "xlsx", "csv") and output is None:
        _fail(f"--format {fmt} needs -o FILE")
    try:
        zone = parse_tz(tz)
    except ValueError as e:
        _fail(str(e))
    cfg, th, _w, _d, geo_src, st = _setup(config, store, geo, need_store=bool(store or config))
    try:
        allow = _allowlist(config, store, st)
    except Exception as e:
        _fail(f"cannot read the allow-list: {e}")
    try:
        reader = LogReader(logs, tz=zone, workers=workers or cpu_cores(), fold=True, raw=True)
    except LogFileError as e:
        _fail(str(e))
    an = Analyzer(cfg, geo_src, allow, th, locate=locator_for(geo_src), asn=asn_lookup(asn_db) if asn_db else None)
    try:
        reader.start_workers()  # before the progress bar's thread (the workers are forked)
        if progress and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("ログ分析 / analysing" if lg == "ja" else "analysing logs",
                                    total=reader.total_bytes())
                reader.progress = lambda done: bar.update(task, completed=done)
                an.feed(reader.events())
        else:
            an.feed(reader.events())
    except OSError as e:
        _fail(f"cannot read the logs: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    for err in reader.stats.errors:  # e.g. a truncated .gz: the report covers what was read
        typer.echo(f"warning: {err}", err=True)
    rep = an.report(reader.stats, lang=lg, files=reader.stats.files)
    rep["lines"]["file_errors"] = reader.stats.errors
    if reader.stats.unknown:
        typer.echo((f"注: 解釈できない行 {reader.stats.unknown} 行 (例 {reader.stats.unknown_samples[:1]})" if lg == "ja"
                    else f"note: {reader.stats.unknown} unknown line(s), e.g. {reader.stats.unknown_samples[:1]}"),
                   err=True)
    if fmt == "xlsx":
        render_xlsx(rep, str(output), lg)
        return
    text = {"json": lambda: json.dumps(rep, ensure_ascii=False, indent=1) + "\n", "md": lambda: render_md(rep, lg),
            "html": lambda: render_html(rep, lg), "csv": lambda: render_csv(rep, lg)}[fmt]()
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, "utf-8")
        except OSError as e:
            _fail(f"cannot write {output}: {e.strerror or e}")


def watch_cmd(
    logs: Annotated[list[str], typer.Argument(help="Live log files to follow (e.g. /var/log/maillog).")],
    config: ConfigOpt = None, store: StoreOpt = None, tz: TzOpt = None, geo: GeoOpt = None, lang: Lang = None,
    dry_run: Annotated[bool | None, typer.Option("--dry-run/--act", help="Only report detections (default: the "
                                                 "config's watch.dry_run).")] = None,
    state_file: Annotated[str | None, typer.Option("--state-file", help="Where the read positions are kept.")]
    = None,
    interval: Annotated[float | None, typer.Option("--interval", min=0.05, help="Seconds between polls.")] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=0, help="Stop after N polls (0: until stopped).")] = 0,
) -> None:
    """Follow live logs; lock compromised accounts and mail the owner and the admin. 監視して自動ロック"""
    import logging
    import os

    from mailposture.guard.watch import Watcher
    from mailposture.logs.parse import parse_tz

    lg = default_lang(lang)
    try:
        zone = parse_tz(tz)
    except ValueError as e:
        _fail(str(e))
    for p in logs:
        if os.path.isdir(p):
            _fail(f"{p} is a directory: give the live log files")
    cfg, th, wcfg, _d, geo_src, st = _setup(config, store, geo, need_store=True)
    if dry_run is not None:
        wcfg.dry_run = dry_run
    if state_file:
        wcfg.state_file = state_file
    if interval:
        wcfg.poll_interval = interval
    allow = _allowlist(config, store, st)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    w = Watcher(cfg, wcfg, th, geo_src, st, logs, tz=zone, allow=allow, locate=locator_for(geo_src), lang=lg,
                report=lambda s: typer.echo(s, err=True))
    if lg == "ja":
        typer.echo(f"watching / 監視中: {', '.join(logs)} ({'ドライラン' if wcfg.dry_run else '自動ロック'}; "
                   f"状態ファイル {wcfg.state_file})", err=True)
    else:
        typer.echo(f"watching {', '.join(logs)} ({'dry run' if wcfg.dry_run else 'locking'}; "
                   f"state {wcfg.state_file})", err=True)
    # SIGTERM (a service manager's stop or restart) ends the watch after the poll under way, whose read positions
    # are saved: a restart then resumes at the right line instead of taking the lines since as history
    import signal

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    try:
        w.run(rounds=rounds, stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        w.follower.save()


def register(guard_app: typer.Typer) -> None:
    """`guard analyze` and `guard watch` (`guard dnsbl` registers itself: mailposture.guard.cli_dnsbl)."""
    guard_app.command("analyze")(analyze_cmd)
    guard_app.command("watch")(watch_cmd)
