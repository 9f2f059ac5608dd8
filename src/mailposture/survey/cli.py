"""Commands: ``lists``, ``survey run|recompute|report|trend|diff|rounds`` and ``demo``.

Heavy imports stay inside the commands. Every user error (bad list, unknown round, unwritable file) ends with a
one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mailposture.cliopts import (
    SMALL_INPUT_DOMAINS,
    Concurrency,
    Lang,
    Nameserver,
    Qps,
    Retries,
    Timeout,
    auto_workers,
    cpu_cores,
    default_lang,
    finite,
)
from mailposture.survey.reporting import (
    BODIES_FORMATS,
    FORMATS,
    build_bodies,
    build_content,
    build_report,
    render,
    render_bodies,
    report_meta,
)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Where rounds are kept (catalog.duckdb + Parquet). / 調査回の保存先。")]
Count = Annotated[str, typer.Option("--count", help="any: a body counts when any of its domains has the record; "
                                                    "primary: only its 'domain' column counts. / any: いずれかの"
                                                    "ドメインにあれば数える、primary: domain 列のみで数える。")]


def _fail(en: str, ja: str | None = None, lang: str | None = None, code: int = 2) -> None:
    """One error line in the user's language (``--lang``, else the locale) and exit 2."""
    if default_lang(lang) == "ja":
        typer.secho(f"エラー: {ja or en}", fg="red", err=True)
    else:
        typer.secho(f"error: {en}", fg="red", err=True)
    raise typer.Exit(code)


def _say(en: str, ja: str, lang: str | None) -> str:
    return ja if default_lang(lang) == "ja" else en


class OptionError(ValueError):
    """A bad option value; ``str()`` is English, ``ja`` the Japanese text (like CatalogError and ListError)."""

    def __init__(self, en: str, ja: str) -> None:
        super().__init__(en)
        self.en, self.ja = en, ja


def _guard(fn: Callable[[], Any], lang: str | None = None) -> Any:
    """Turn the module's known errors into a clean message in the user's language. CatalogError, ListError,
    TextInputError and OptionError carry a Japanese text (``ja``); other ValueErrors are shown as they are."""
    try:
        return fn()
    except KeyError as exc:
        _fail(str(exc).strip("'\""), getattr(exc, "ja", None), lang)
    except ValueError as exc:
        _fail(str(exc), getattr(exc, "ja", None), lang)
    except OSError as exc:
        where = getattr(exc, "filename", "") or ""
        _fail(f"{where}: {exc.strerror or exc}".lstrip(": "),
              f"{where}: ファイルを読み書きできません ({exc.strerror or exc})".lstrip(": "), lang)
    return None


# ---------------------------------------------------------------------------------------------------------------
# progress bars

class _Bars:
    """A rich progress display on stderr; ``factory(label, total)`` gives one bar (rate and ETA)."""

    def __init__(self, enabled: bool = True, lang: str = "en") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task):  # type: ignore[no-untyped-def]
                speed = task.finished_speed or task.speed
                unit = "ドメイン/秒" if lang == "ja" else "domains/s"
                return Text("" if speed is None else f"{speed:,.0f} {unit}", style="cyan")

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), Rate(), TimeElapsedColumn(), TextColumn("残り" if lang == "ja" else "ETA"),
                                 TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled)

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def factory(self, label: str, total: int):
        from mailposture.survey.rounds import Progress as P

        prog = self.progress
        task = prog.add_task(label, total=total)

        class Bar(P):
            def advance(self, n: int = 1) -> None:
                prog.advance(task, n)

            def close(self) -> None:
                prog.stop_task(task)

        return Bar()


# ---------------------------------------------------------------------------------------------------------------
# lists

lists_app = typer.Typer(help="Survey lists (bundled and your own CSV). 調査対象リスト。", no_args_is_help=False,
                        invoke_without_command=True)


@lists_app.callback()
def lists_main(ctx: typer.Context) -> None:
    """Show the bundled lists. / 同梱の調査対象リストを表示します。"""
    if ctx.invoked_subcommand:
        return
    from rich.console import Console
    from rich.table import Table

    from mailposture.survey.lists import bundled_lists

    ja = default_lang(None) == "ja"
    t = Table(title="mailposture lists")
    for c in (("名前", "団体数", "ドメイン数", "列", "説明") if ja else ("name", "bodies", "domains", "columns",
                                                                  "description")):
        t.add_column(c)
    for item in bundled_lists():
        en, _, ja_desc = str(item["description"]).partition(" / ")
        t.add_row(str(item["name"]), str(item["bodies"]), str(item["domains"]), " ".join(item["columns"]),  # type: ignore[arg-type]
                  ja_desc or en if ja else en)
    Console().print(t)
    typer.echo("domain 列のある CSV ならどれでもリストになります (mail_domains 列は任意、空白区切り)。" if ja else
               "Any CSV with a 'domain' column is a list too (optional 'mail_domains', space-separated).")


@lists_app.command("show")
def lists_show(
    name: Annotated[str, typer.Argument(help="A bundled list name (jp-localgov) or a CSV path. / 同梱リスト名または CSV のパス。")],
    fmt: Annotated[str, typer.Option("--format", help="table or csv / 表または CSV")] = "table",
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to show in the table (0 = all). / 表示する行数 (0 = すべて)。")] = 0,
) -> None:
    """Show a list's rows. / リストの内容を表示します。"""
    from mailposture.survey.lists import load_list

    lst = _guard(lambda: load_list(name))
    ja = default_lang(None) == "ja"
    if fmt == "csv":
        sys.stdout.write(lst.text if lst.text.endswith("\n") else lst.text + "\n")
        return
    if fmt != "table":
        _fail("--format must be table or csv", "--format は table|csv のいずれかです")
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{lst.name}: {len(lst.bodies)} 団体、SHA-256 {lst.sha256[:12]}…" if ja else
              f"{lst.name}: {len(lst.bodies)} bodies, SHA-256 {lst.sha256[:12]}…")
    has_mail = any(b.mail_domains for b in lst.bodies)
    for c in ("#", "domain", *(["mail_domains"] if has_mail else []), *lst.columns):
        t.add_column(c, overflow="fold")
    rows = lst.bodies if not limit else lst.bodies[:limit]
    for b in rows:
        mail = [" ".join(b.mail_domains)] if has_mail else []
        t.add_row(str(b.index + 1), b.domain, *mail, *(b.attrs.get(c, "") for c in lst.columns))
    Console().print(t)
    if limit and len(lst.bodies) > limit:
        rest = len(lst.bodies) - limit
        typer.echo(f"… ほか {rest} 行 (--limit 0 ですべて表示)" if ja else f"… {rest} more rows (--limit 0 shows all)")


# ---------------------------------------------------------------------------------------------------------------
# survey

survey_app = typer.Typer(help="Survey rounds and adoption reports. 普及状況調査 (調査回の実施と集計)。",
                         no_args_is_help=True)


@survey_app.command("run")
def survey_run(
    list_spec: Annotated[str, typer.Argument(metavar="LIST", help="Bundled list name or CSV path. / 同梱リスト名または CSV のパス。")],
    round_name: Annotated[str, typer.Option("--round", help="Name of the round, e.g. 2026-12. / 調査回の名前 (例: 2026-12)。")],
    data_dir: DataDir = Path("mailposture-data"),
    nameserver: Nameserver = None,
    timeout: Timeout = 2.0,
    retries: Retries = 2,
    concurrency: Concurrency = 200,
    qps: Qps = None,
    lang: Lang = None,
    replace: Annotated[bool, typer.Option("--replace", help="Scan a complete round of that name again. / 完了済みの同名の調査回をやり直す。")] = False,
    retry_delay: Annotated[float, typer.Option("--retry-delay", min=0, max=3600, callback=finite, help="Seconds to wait before the retry "
                                               "pass, so that transient failures can clear. / 再試行までの待ち秒数。")] = 5.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars. / 進捗バーを出さない。")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, max=256, show_default=False,
        help="Processes running the checks, each with its own event loop and DNS engine. Default: one per CPU core "
        f"({cpu_cores()} here); 1 for a list of fewer than {SMALL_INPUT_DOMAINS:,} domains. / 調査を行うプロセス数 "
        "(既定: CPU コア数、小さなリストでは 1)。")] = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Dask scheduler address (tcp://HOST:8786): run the checks as Dask tasks on its workers "
        "(see docs/scaling.md). / Dask クラスタで調査する。", show_default=False)] = None,
    max_failed: Annotated[float, typer.Option(
        "--max-failed-share", min=0.0, max=1.0, help="The round fails (exit 1, not counted) when more than this "
        "share of its domains failed a lookup or came back NXDOMAIN: the resolver is then the likely cause. / "
        "調査対象の DNS 失敗・NXDOMAIN の割合がこれを超えると調査回は失敗扱い。")] = 0.30,
) -> None:
    """Scan a list and store the round (resumes an interrupted round of the same name).
    リストを調査して調査回として保存します (中断した同名の調査回は続きから)。"""
    from mailposture.cliopts import DnsOptions
    from mailposture.survey.catalog import Catalog
    from mailposture.survey.lists import load_list
    from mailposture.survey.rounds import Parallel, run_round, run_sync

    lng = default_lang(lang)
    lst = _guard(lambda: load_list(list_spec), lng)
    if workers is None:
        workers = 1 if cluster else auto_workers(len(lst.all_domains()))
    cat = Catalog(data_dir)
    opts = DnsOptions(nameserver, timeout, retries, concurrency, qps)
    try:
        engine = opts.engine()
    except ValueError as exc:
        shown = " ".join(nameserver or []) or "-"
        _fail(str(exc), f"DNS の設定が正しくありません (--nameserver {shown}、--timeout、--retries、--concurrency、"
              "--qps を確認してください)", lng)
    from mailposture.dns.engine import format_nameserver

    resolvers = [format_nameserver(s) for s in engine.nameservers]

    async def go():
        async with engine:
            with _Bars(not quiet, lng) as bars:
                return await run_round(cat, lst, round_name, engine, resolvers=resolvers,
                                       concurrency=min(concurrency, 1000), lang=lng, progress=bars.factory,
                                       replace=replace, retry_delay=retry_delay, failure_limit=max_failed,
                                       parallel=Parallel(opts, workers, cluster) if workers > 1 or cluster
                                       else None)

    try:
        info = _guard(lambda: run_sync(go()), lng)
    except KeyboardInterrupt:
        typer.secho(f"調査回 {round_name} を中断しました。調査済みの結果は保存されています。同じコマンドで続きから"
                    "再開できます。" if lng == "ja" else f"round {round_name} interrupted; what was scanned is kept. "
                    "Run the same command again to resume.", fg="yellow", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"調査回 {info.name}: {info.bodies} 団体・{info.domains} ドメイン。再試行 {info.retried} ドメイン、"
               f"再試行後も DNS エラーが残ったもの {info.errors} ドメイン (「なし」ではなく「不明」として保存)。"
               f"データ: {cat.dir}" if lng == "ja" else
               f"round {info.name}: {info.bodies} bodies, {info.domains} domains; retried {info.retried}, "
               f"{info.errors} still with a failed lookup (kept as unknown, never as absent). Data: {cat.dir}")
    from mailposture.survey.rounds import round_failure

    why = round_failure(info, lng)
    if why:
        typer.secho(("調査回 {0} は失敗しました (集計に使いません): {1}" if lng == "ja" else
                     "round {0} FAILED (not counted in reports or trends): {1}").format(info.name, why),
                    fg="red", err=True)
        raise typer.Exit(1)
    _, rep = _guard(lambda: build_report(cat, info.name, None, "any", lng), lng)
    from mailposture.report.tables import headline_lines

    for line in headline_lines(rep, lng):
        typer.echo(line)


@survey_app.command("recompute")
def survey_recompute(
    round_name: Annotated[str, typer.Option("--round", help="The round to re-derive. / 再集計する調査回。")],
    data_dir: DataDir = Path("mailposture-data"),
    lang: Lang = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars. / 進捗バーを出さない。")] = False,
) -> None:
    """Re-derive a round's results with the current rules from its stored raw DNS answers (no queries).
    保存済みの DNS 応答から現在の規則で結果を再計算します (問い合わせなし)。"""
    from mailposture.survey.catalog import Catalog
    from mailposture.survey.rounds import recompute, run_sync

    cat = Catalog(data_dir)
    lng = default_lang(lang)

    async def go():
        with _Bars(not quiet, lng) as bars:
            return await recompute(cat, round_name, lang=lng, progress=bars.factory)

    info, missing = _guard(lambda: run_sync(go()), lng)
    if lng == "ja":
        typer.echo(f"調査回 {info.name}: 再計算しました (世代 {info.generation})。不明 {info.errors} ドメイン"
                   + (f"。新しい規則に必要な問い合わせ {missing} 件は記録がありません (不明として表示)" if missing else ""))
    else:
        typer.echo(f"round {info.name}: recomputed (generation {info.generation}); {info.errors} domain(s) unknown"
                   + (f"; {missing} lookup(s) the new rules need were not recorded (shown as unknown)" if missing
                      else ""))


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'1600x900' -> (1600, 900) pixels; bad input is a ValueError naming it."""
    if text is None:
        return None
    import re

    m = re.fullmatch(r"\s*(\d{2,5})\s*[x×X]\s*(\d{2,5})\s*", text)
    if not m or not (100 <= int(m[1]) <= 20000 and 100 <= int(m[2]) <= 20000):
        raise OptionError(f"--size {text!r}: give WIDTHxHEIGHT in pixels, each 100–20000 (e.g. 1600x900)",
                          f"--size {text!r}: 幅x高さ をピクセルで、それぞれ 100〜20000 で指定してください (例: 1600x900)")
    return int(m[1]), int(m[2])


@survey_app.command("report")
def survey_report(
    by: Annotated[str | None, typer.Option("--by", help="List column(s) to group by, comma-separated for "
                                           "subtotals (region, prefecture, region,prefecture …). / 集計に使う列 "
                                           "(カンマ区切りで小計つき)。")] = None,
    round_name: Annotated[str | None, typer.Option("--round", help="Default: the latest complete round. / "
                                                   "既定: 最新の完了した調査回。")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, html, xlsx, csv, json, png or svg / 出力形式")] = "md",
    lang: Lang = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout for "
                                                "md/csv/json, <data-dir>/reports/ for the others). / 出力ファイル "
                                                "(既定: md/csv/json は標準出力、他は <data-dir>/reports/)。")] = None,
    data_dir: DataDir = Path("mailposture-data"),
    count: Count = "any",
    title: Annotated[str | None, typer.Option("--title", help="Report title. / 報告書の表題。")] = None,
    table: Annotated[str, typer.Option("--table", "-t", help="adoption, dmarc-policy, dmarc-tags, dmarc-reports, "
                                       "spf-all, spf-providers, mistakes, ipv4-space (docs/survey.md), or bodies "
                                       "(one row per body, xlsx/csv/json). / 表の種類 (bodies は団体別の一覧)。")]
    = "adoption",
    size: Annotated[str | None, typer.Option("--size", help="png/svg: WIDTHxHEIGHT in pixels (default 1600x900). / "
                                             "画像の大きさ", show_default=False)] = None,
    dpi: Annotated[int | None, typer.Option("--dpi", min=50, max=1200, help="png/svg: dots per inch (default 150). "
                                            "/ 解像度", show_default=False)] = None,
) -> None:
    """Adoption and configuration-content tables by group (SPF and DMARC publication, policies, providers).
    グループ別の普及状況と設定内容 (SPF・DMARC の公開率、ポリシー、事業者など) を集計します。"""
    from mailposture.report.content import TABLE_NAMES
    from mailposture.survey.catalog import Catalog

    lng = default_lang(lang)
    if table == "bodies":
        if by:
            _fail("--by does not apply to --table bodies (one row per body, with every list column; filter or "
                  "sort it in the spreadsheet)", "--table=bodies には --by を使えません (団体ごとに 1 行、リストの"
                  "全列つき。絞り込みや並べ替えは表計算ソフトで行ってください)", lng)
        return report_bodies(round_name, fmt, lang, output, data_dir, count, title)
    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}", f"--format は {'|'.join(FORMATS)} のいずれかです",
              lng)
    if count not in ("any", "primary"):
        _fail("--count must be any or primary", "--count は any|primary のいずれかです", lng)
    if table not in TABLE_NAMES:
        _fail(f"--table must be one of {', '.join(TABLE_NAMES)}",
              f"--table は {'|'.join(TABLE_NAMES)} のいずれかです", lng)
    px = _guard(lambda: parse_size(size), lng)
    cat = Catalog(data_dir)
    if table == "adoption":
        info, rep = _guard(lambda: build_report(cat, round_name, by, count, lng, with_bodies=fmt == "xlsx"), lng)
        from mailposture.report.bodies import EXCEL_MAX_ROWS

        if len((rep.get("_bodies") or {}).get("rows", ())) > EXCEL_MAX_ROWS - 3:  # the sheet's 3 header rows
            rep.pop("_bodies")
            typer.secho("注意: 団体数が Excel の行数上限を超えるため団体別シートを省きました。--table bodies で分割して出力できます。"
                        if lng == "ja" else "note: too many bodies for one Excel sheet: the Bodies sheet is left out; "
                        "--table bodies writes it split over several sheets.", fg="yellow", err=True)
    else:
        info, rep = _guard(lambda: build_content(cat, round_name, table, by, count, lng), lng)
    data = _quiet_warnings(lambda: _guard(lambda: render(rep, report_meta(info, title, count), fmt, lng, size=px,
                                                          dpi=dpi), lng), lng)
    tag = "" if table == "adoption" else f"-{table}"
    by_tag = "-" + by.replace(",", "-") if by else ""
    _write(data, fmt, output, cat.dir / "reports" / f"{info.name}{tag}{by_tag}.{fmt}", lng)


def report_bodies(round_name: str | None, fmt: str, lang: str | None, output: Path | None, data_dir: Path,
                  count: str, title: str | None, max_rows: int | None = None) -> None:
    """``survey report --table bodies``: one row per body (mailposture.report.bodies)."""
    from mailposture.survey.catalog import Catalog

    lng = default_lang(lang)
    if fmt not in BODIES_FORMATS:
        _fail("--table bodies is written as xlsx, csv or json (--format)",
              "--table=bodies の出力形式 (--format) は xlsx|csv|json のいずれかです", lng)
    if count not in ("any", "primary"):
        _fail("--count must be any or primary", "--count は any|primary のいずれかです", lng)
    cat = Catalog(data_dir)
    info, tab = _guard(lambda: build_bodies(cat, round_name, count, lng), lng)
    data, note = render_bodies(tab, report_meta(info, title, count), fmt, lng, max_rows)
    if note:
        typer.secho(("注意: " if lng == "ja" else "note: ") + note, fg="yellow", err=True)
    _write(data, fmt, output, cat.dir / "reports" / f"{info.name}-bodies.{fmt}", lng)


def _quiet_warnings(fn: Callable[[], Any], lang: str | None = None) -> Any:
    """Run fn; show our own warnings as one clean line each, and matplotlib's per-glyph ones as a count."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    glyphs = 0
    for w in caught:
        msg = str(w.message)
        if "Glyph" in msg and "missing from font" in msg:
            glyphs += 1
        elif issubclass(w.category, RuntimeWarning) or "mailposture" in (w.filename or ""):
            ja = ("日本語フォントが見つかりません (fonts-noto-cjk パッケージを入れてください)。グラフの日本語が四角で"
                  "表示されることがあります") if msg.startswith("no Japanese font found") else msg
            typer.secho(_say(f"warning: {msg}", f"警告: {ja}", lang), fg="yellow", err=True)
    if glyphs:
        typer.secho(_say(f"warning: {glyphs} character(s) had no glyph in the chart font",
                         f"警告: グラフのフォントに字形のない文字が {glyphs} 個ありました", lang), fg="yellow", err=True)
    return out


def _write(data: bytes, fmt: str, output: Path | None, default: Path, lang: str | None = None) -> None:
    if output is None and fmt in ("md", "csv", "json"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = output or default

    def w() -> None:
        if output is None:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise OptionError(f"{path}: the directory {path.parent} does not exist",
                              f"{path}: ディレクトリ {path.parent} がありません")
        path.write_bytes(data)

    _guard(w, lang)
    typer.echo(_say(f"wrote {path}", f"書き出しました: {path}", lang))


@survey_app.command("trend")
def survey_trend(
    by: Annotated[str | None, typer.Option("--by", help="List column to group by. / 集計に使う列。")] = None,
    rounds: Annotated[list[str] | None, typer.Option("--round", help="Rounds to compare (repeatable; default: "
                                                     "every complete round, oldest first). / 比べる調査回 (繰り返し可、"
                                                     "既定: 完了したすべての調査回)。")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, html or png / 出力形式")] = "table",
    metric: Annotated[str, typer.Option("--metric", help="Chart metric for png: spf, dmarc, dmarc_covered, "
                                        "dmarc_enforcing / グラフの指標")] = "spf",
    lang: Lang = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write. / 出力ファイル。")] = None,
    data_dir: DataDir = Path("mailposture-data"),
    count: Count = "any",
) -> None:
    """Adoption by group across rounds (table and line chart).
    調査回ごとの普及状況の推移 (表と折れ線グラフ)。"""
    import json

    from mailposture.survey.catalog import Catalog
    from mailposture.survey.trend import TREND_METRICS, build_trend, trend_table

    lng = default_lang(lang)
    if metric not in TREND_METRICS:
        _fail(f"--metric must be one of {', '.join(TREND_METRICS)}",
              f"--metric は {'|'.join(TREND_METRICS)} のいずれかです", lng)
    cat = Catalog(data_dir)
    tr = _guard(lambda: build_trend(cat, by, rounds, count=count, lang=lng), lng)
    if fmt == "table":
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        from mailposture.survey.trend import change_notes

        cols, rows = trend_table(tr, lng)
        from mailposture.report.tables import by_label

        t = Table(title=(f"推移 ({by_label(by, lng)}別)" if lng == "ja" else f"trend by {by}") if by else
                  ("推移" if lng == "ja" else "trend"))
        for c in cols:
            t.add_column(c, justify="left" if c == cols[0] else "right", overflow="fold")
        for r in rows:
            t.add_row(*(escape(str(v)) for v in r))
        Console().print(t)
        for note in change_notes(tr, lng):
            typer.secho(note, fg="yellow")
        return
    if fmt == "json":
        _write((json.dumps(tr, ensure_ascii=False, indent=2) + "\n").encode(), "json", output, Path("-"), lng)
        return
    if fmt == "html":
        from mailposture.report.html import render_trend_html

        data = render_trend_html(tr, {"synthetic": tr["synthetic"]}, lng).encode()
    elif fmt == "png":
        from mailposture.report.tables import METRICS, by_label
        from mailposture.report.trendcharts import trend_png

        name = METRICS[metric][0 if lng == "ja" else 1]
        title = (f"{name} の推移 ({by_label(by, lng)}別)" if lng == "ja" else f"{name} over time, by {by or 'group'}")
        if tr["synthetic"]:
            title += " — 架空のデータ" if lng == "ja" else " — fictitious data"
        data = _quiet_warnings(lambda: trend_png(tr, metric, lng, title=title), lng)
    else:
        _fail("--format must be table, json, html or png", "--format は table|json|html|png のいずれかです", lng)
    _write(data, fmt, output, cat.dir / "reports" / f"trend{'-' + by if by else ''}.{fmt}", lng)


@survey_app.command("diff")
def survey_diff(
    a: Annotated[str, typer.Argument(help="Earlier round. / 前の調査回。")],
    b: Annotated[str, typer.Argument(help="Later round. / 後の調査回。")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json / 出力形式")] = "table",
    lang: Lang = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout). / "
                                                "出力ファイル (既定: 標準出力)。")] = None,
    data_dir: DataDir = Path("mailposture-data"),
    count: Count = "any",
) -> None:
    """Bodies that adopted, dropped, fixed or broke SPF/DMARC, changed policy or domain between two rounds.
    2 回の調査の間に導入・廃止・修正・悪化・ポリシー変更・ドメイン変更があった団体。"""
    import csv
    import io
    import json

    from mailposture.survey.catalog import Catalog
    from mailposture.survey.diff import diff_rounds, diff_rows, summary_line

    lng = default_lang(lang)
    if fmt not in ("table", "csv", "json"):
        _fail("--format must be table, csv or json", "--format は table|csv|json のいずれかです", lng)
    if count not in ("any", "primary"):
        _fail("--count must be any or primary", "--count は any|primary のいずれかです", lng)
    d = _guard(lambda: diff_rounds(Catalog(data_dir), a, b, count), lng)
    if fmt == "json":
        _write((json.dumps(d, ensure_ascii=False, indent=2) + "\n").encode(), "json", output, Path("-"), lng)
        return
    cols, rows = diff_rows(d, lng)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["'" + v if v[:1] in ("=", "+", "-", "@") else v for v in r])  # never a formula in Excel
        _write(buf.getvalue().encode("utf-8-sig"), "csv", output, Path("-"), lng)  # BOM like the reports
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(summary_line(d, lng)))
    for c in cols:
        t.add_column(c, overflow="fold")
    style = {"adopted": "green", "fixed": "green", "dropped": "red", "broke": "red", "weakened": "yellow",
             "policy": "yellow", "unknown": "dim", "domain": "cyan", "added": "cyan", "removed": "magenta"}
    for raw, r in zip(d["changes"], rows, strict=True):
        r = [escape(v) for v in r]
        r[5] = f"[{style[raw['change']]}]{r[5]}[/]"
        t.add_row(*r)
    Console().print(t)


@survey_app.command("rounds")
def survey_rounds(data_dir: DataDir = Path("mailposture-data")) -> None:
    """The rounds in the catalog. / 保存済みの調査回の一覧。"""
    from rich.console import Console
    from rich.table import Table

    from mailposture.survey.catalog import Catalog

    ja = default_lang(None) == "ja"
    infos = _guard(lambda: Catalog(data_dir).list())
    t = Table(title=f"{data_dir} の調査回" if ja else f"rounds in {data_dir}")
    for c in (("調査回", "リスト", "団体数", "ドメイン数", "状態", "開始", "終了", "不明", "世代") if ja else
              ("round", "list", "bodies", "domains", "status", "started", "finished", "unknown", "generation")):
        t.add_column(c)
    status_ja = {"complete": "完了", "running": "実行中", "failed": "失敗"}
    for i in infos:
        status = status_ja.get(i.status, i.status) if ja else i.status
        t.add_row(i.name, i.list_name + ((" (架空)" if ja else " (synthetic)") if i.synthetic else ""), str(i.bodies),
                  str(i.domains), status if i.status == "complete" else f"{status} ({i.phase})",
                  f"{i.started:%Y-%m-%d %H:%M}" if i.started else "", f"{i.finished:%Y-%m-%d %H:%M}" if i.finished
                  else "", str(i.errors), str(i.generation))
    Console().print(t)


def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's data and report. / デモのデータと報告書の保存先。")] =
    Path("mailposture-demo"),
    bodies: Annotated[int, typer.Option("--bodies", min=10, max=20000, help="Fictitious bodies. / 架空の団体数。")] = 400,
    lang: Lang = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fictitious world. / 架空データの乱数シード。")] = 2017,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars. / 進捗バーを出さない。")] = False,
) -> None:
    """Run a complete survey round against a synthetic in-process DNS world (no network) and write the report.
    架空のドメインと内蔵 DNS サーバで調査を一通り実行し、報告書を作ります (ネットワーク不要)。"""
    from mailposture.survey.demo import run_demo

    lng = default_lang(lang)
    with _Bars(not quiet, lng) as bars:
        res = _guard(lambda: run_demo(out, n_bodies=bodies, seed=seed, lang=lng, progress=bars.factory), lng)
    typer.echo(res["summary"])
    typer.secho(_say(f"report: {res['html'].resolve()}", f"報告書: {res['html'].resolve()}", lng), fg="green",
                bold=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(lists_app, name="lists")
    app.add_typer(survey_app, name="survey")
    app.command("demo")(demo_cmd)
