"""Commands: `domains hunt` (find random-subdomain SPF spam domains) and `domains abuse` (who to tell)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from mailposture.cliopts import Concurrency, DnsOptions, Lang, Nameserver, Retries, Timeout, default_lang

app = typer.Typer(name="domains", no_args_is_help=True,
                  help="Abusive domains: rotating random subdomains with SPF, and who to tell. / "
                       "ランダムなサブドメインを使い回す迷惑メール送信ドメインの検出と通報先。")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="domains")


def _err(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def parse_window(text: str) -> timedelta:
    """``7d``, ``24h``, ``90m`` or plain seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            val = float(t[:-1]) * units[t[-1]]
        else:
            val = float(t)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a duration such as 7d, 24h or 90m") from None
    if not (0 < val < 10 * 365 * 86400):
        raise typer.BadParameter(f"'{text}' is out of range")
    return timedelta(seconds=val)


@app.command("hunt")
def hunt_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Text, CSV (name,time,count), Postfix log, .eml or mbox "
                                                     "files; - for standard input.", show_default=False)],
    input_format: Annotated[str | None, typer.Option("--input-format",
                                                     help="text, csv, postfix, eml or mbox (default: by name "
                                                          "and content).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json (JSON Lines) or text")] = "text",
    only_flagged: Annotated[bool, typer.Option("--only-flagged", help="Leave out benign domains.")] = False,
    min_labels: Annotated[int, typer.Option("--min-labels", min=2, max=1_000_000,
                                            help="Distinct child labels before labels count as rotating.")] = 10,
    window: Annotated[str, typer.Option("--window", help="Window for new labels when times are given.")] = "7d",
    no_dns: Annotated[bool, typer.Option("--no-dns", help="No DNS proof (labels only).")] = False,
    probe_all: Annotated[bool, typer.Option("--probe-all", help="Ask DNS for every domain, not only "
                                                                "rotating ones.")] = False,
    abuse: Annotated[bool, typer.Option("--abuse", help="Also look up the registrar of flagged domains "
                                                        "(RDAP/WHOIS requests).")] = False,
    rdap_bootstrap: Annotated[Path | None, typer.Option("--rdap-bootstrap", help="IANA RDAP bootstrap file "
                                                                                 "(default: bundled).")] = None,
    nameserver: Nameserver = None,
    timeout: Timeout = 2.0,
    retries: Retries = 2,
    concurrency: Concurrency = 50,
    lang: Lang = None,
) -> None:
    """Find domains that rotate random subdomains and publish SPF for them. / ランダムなサブドメインを使い回し SPF を公開するドメインを検出します。"""
    from mailposture.dns.engine import run as run_loop
    from mailposture.domains.hunt import aggregate, verdicts
    from mailposture.domains.observe import InputError, ReadStats, read_inputs
    from mailposture.domains.verdict import Thresholds

    lang = default_lang(lang)
    if fmt not in ("json", "text"):
        _err("--format must be json or text")
    if input_format not in (None, "text", "csv", "postfix", "eml", "mbox"):
        _err("--input-format must be text, csv, postfix, eml or mbox")
    th = Thresholds(min_labels=min_labels, window=parse_window(window))
    stats = ReadStats()
    try:
        agg = aggregate(read_inputs(inputs, stats, kind=input_format))
    except InputError as exc:
        _err(str(exc))
    except OSError as exc:
        _err(f"cannot read the input: {exc}")
    engine = None
    if not no_dns:
        try:
            engine = DnsOptions(nameserver, timeout, retries, concurrency).engine()
        except (ValueError, OSError) as exc:
            _err(str(exc))

    async def run() -> list[dict]:
        out = []
        if engine is None:
            async for res in verdicts(agg, None, th=th, lang=lang):
                out.append(res)
            return out
        async with engine:
            async for res in verdicts(agg, engine, th=th, lang=lang, probe_all=probe_all):
                out.append(res)
            if abuse:
                await _attach_registrars(out, engine, rdap_bootstrap)
        return out

    results = run_loop(run())
    unproven = [r for r in results if _unproven(r)]
    shown = [r for r in results if not only_flagged or r["verdict"] != "benign" or _unproven(r)]
    if fmt == "json":
        for r in shown:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    else:
        _print_text(shown, stats, agg.public_suffixes, lang)
    for p in stats.problems:
        typer.echo(f"{'スキップ' if lang == 'ja' else 'skipped'}: {p}", err=True)
    if unproven:   # a DNS failure is not "no wildcard": these could not be judged, say so
        names = ", ".join(r["domain"] for r in unproven[:5]) + (" …" if len(unproven) > 5 else "")
        typer.echo((f"警告: ラベルがローテーションしている {len(unproven)} 件のドメインは DNS エラーのため証明できず、"
                    f"判定できていません ({names})。--nameserver と --timeout を確認して再実行してください。")
                   if lang == "ja" else
                   (f"warning: {len(unproven)} domain(s) with rotating labels could not be proven because DNS "
                    f"failed ({names}); their verdict is not a finding of innocence. Check --nameserver and "
                    "--timeout and run again."), err=True)
    if stats.failed:   # the verdicts above cover what was read before the input broke off
        for p in stats.failed:
            typer.echo(f"{'エラー' if lang == 'ja' else 'error'}: "
                       + (f"{p} (途中までしか読めませんでした。結果はそこまでの分です)" if lang == "ja"
                          else f"{p} (read only in part; the results cover what was read)"), err=True)
        raise typer.Exit(2)


def _unproven(r: dict) -> bool:
    """Rotating labels whose DNS proof failed: benign only for want of an answer (DOM_DNS_UNKNOWN)."""
    codes = {x["code"] for x in r["reasons"]}
    return r["verdict"] == "benign" and "DOM_DNS_UNKNOWN" in codes and "DOM_ROTATING_LABELS" in codes


async def _attach_registrars(results: list[dict], resolver, bootstrap: Path | None) -> None:
    from mailposture.domains.rdap import AbuseClient, AbuseLookupError, bootstrap_map, load_bootstrap

    client = AbuseClient(bootstrap_map(load_bootstrap(bootstrap)))
    for r in results:
        if r["verdict"] == "benign":
            continue
        try:
            r["registrar"] = await client.domain(r["domain"])
        except AbuseLookupError as exc:
            r["registrar"] = {"error": str(exc)}


def _print_text(results: list[dict], stats, public_suffixes: int, lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    ja = lang == "ja"
    con = Console()
    names = {"random-subdomain-spf": "ランダムサブドメイン+SPF" if ja else "random-subdomain-spf",
             "suspicious": "要注意" if ja else "suspicious", "benign": "該当なし" if ja else "benign"}
    table = Table(title="判定" if ja else "Verdicts")
    for col in (("ドメイン", "判定", "スコア", "ラベル数", "ランダム率", "理由") if ja else
                ("domain", "verdict", "score", "labels", "random", "reasons")):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r["domain"], names[r["verdict"]], f"{r['score']:.2f}", str(r["labels"]["distinct"]),
                      f"{r['labels']['random_share']:.0%}", "\n".join(x["detail"] for x in r["reasons"]))
    con.print(table)
    flagged = sum(r["verdict"] != "benign" for r in results)
    if ja:
        con.print(f"{stats.lines} 行を読み、{stats.used} 行を使用、{stats.skipped} 行をスキップ。"
                  f"登録ドメイン {len(results)} 件のうち {flagged} 件を検出。公開サフィックスのみの名前 {public_suffixes} 件。")
    else:
        con.print(f"{stats.lines} lines read, {stats.used} used, {stats.skipped} skipped; {flagged} of "
                  f"{len(results)} registrable domains flagged; {public_suffixes} names were public suffixes.")


@app.command("abuse")
def abuse_cmd(
    domains: Annotated[list[str], typer.Argument(help="Registrable domains.", show_default=False)],
    evidence: Annotated[Path | None, typer.Option("--evidence", help="JSON Lines from `domains hunt "
                                                                     "--format json` to quote.")] = None,
    draft_lang: Annotated[str | None, typer.Option("--draft", help="Write report e-mails: ja or en.")] = None,
    reporter: Annotated[str, typer.Option("--reporter", help="Who reports (name and address) in drafts.")] = "",
    fmt: Annotated[str, typer.Option("--format", help="json or text")] = "text",
    rdap_bootstrap: Annotated[Path | None, typer.Option("--rdap-bootstrap", help="IANA RDAP bootstrap file "
                                                                                 "(default: bundled).")] = None,
    refresh_bootstrap: Annotated[bool, typer.Option("--refresh-bootstrap",
                                                    help="Download the current IANA bootstrap first.")] = False,
    whois_server: Annotated[list[str] | None, typer.Option("--whois-server", help="TLD=HOST[:PORT] "
                                                                                  "(repeatable).")] = None,
    ip_rdap: Annotated[str | None, typer.Option("--ip-rdap", help="RDAP base URL for addresses.")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Keep answers for a day here.")] = None,
    min_interval: Annotated[float, typer.Option("--min-interval", min=0, max=60,
                                                help="Seconds between requests to one server.")] = 1.0,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="Extra CA bundle for HTTPS.")] = None,
    nameserver: Nameserver = None,
    timeout: Timeout = 5.0,
    lang: Lang = None,
) -> None:
    """Registrar, abuse contact, DNS operator and hosting of domains; draft reports. / 登録事業者・通報先を調べ、報告文を作成します。"""
    from mailposture.dns.engine import run as run_loop
    from mailposture.domains.rdap import AbuseClient, AbuseLookupError, bootstrap_map, load_bootstrap
    from mailposture.scan.inputs import normalize_domain

    lang = default_lang(lang)
    if fmt not in ("json", "text"):
        _err("--format must be json or text")
    if draft_lang not in (None, "ja", "en"):
        _err("--draft must be ja or en")
    names = []
    for raw in domains:
        name, why = normalize_domain(raw)
        if why:
            _err(f"'{raw}' is not a valid domain name: {why}")
        names.append(name)
    servers = {}
    for spec in whois_server or []:
        tld, sep, host = spec.partition("=")
        if not sep or not host:
            _err(f"--whois-server wants TLD=HOST[:PORT], not '{spec}'")
        servers[tld.lower().lstrip(".")] = host
    ev: dict[str, dict] = {}
    if evidence is not None:
        try:
            for line in evidence.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    obj = json.loads(line)
                    ev[obj["domain"]] = obj
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _err(f"cannot read --evidence {evidence}: {exc}")
    try:
        doc = load_bootstrap(rdap_bootstrap)
    except (OSError, ValueError) as exc:
        _err(f"cannot read the RDAP bootstrap: {exc}")
    try:
        dns = DnsOptions(nameserver, timeout).engine()
    except (ValueError, OSError) as exc:
        _err(str(exc))
    client = AbuseClient(bootstrap_map(doc), cache_dir=cache_dir, min_interval=min_interval, timeout=timeout,
                         verify=ca_file or True)
    client.whois_servers.update(servers)
    if ip_rdap:
        client.ip_rdap = ip_rdap if ip_rdap.endswith("/") else ip_rdap + "/"

    async def run() -> list[dict]:
        from mailposture.domains.aggregate import registrable
        from mailposture.domains.rdap import asn_of

        nonlocal doc
        if refresh_bootstrap:
            from mailposture.domains.rdap import BOOTSTRAP_URL

            doc = await client.get_json(BOOTSTRAP_URL)
            client.bootstrap = bootstrap_map(doc)
        out = []
        async with dns:
            for name in names:
                rec: dict = {"domain": name, "evidence": ev.get(name), "errors": []}
                try:
                    rec["registration"] = await client.domain(name)
                except AbuseLookupError as exc:
                    rec["registration"] = None
                    rec["errors"].append(str(exc))
                ns = await dns.query(name, "NS")
                # a DNS failure is unknown (None, with the error), never "no DNS operator" / "no hosting"
                rec["dns_operators"] = (None if ns.status == "error" else
                                        sorted({registrable(str(h)) or str(h) for h in ns.records}) if ns.ok else [])
                if ns.status == "error":
                    rec["errors"].append(f"DNS {name} NS: {ns.error or ns.rcode or 'error'}")
                a = await dns.query(name, "A")
                if a.status == "error":
                    rec["errors"].append(f"DNS {name} A: {a.error or a.rcode or 'error'}")
                hosting: list | None = None if a.status == "error" else []
                for ip in list(a.records)[:2] if a.ok else []:
                    h = {"ip": ip, "asn": await asn_of(ip, dns)}
                    try:
                        h["network"] = await client.ip_network(ip)
                    except AbuseLookupError as exc:
                        rec["errors"].append(str(exc))
                    hosting.append(h)  # type: ignore[union-attr]
                rec["hosting"] = hosting
                out.append(rec)
        return out

    try:
        results = run_loop(run())
    except AbuseLookupError as exc:
        _err(str(exc))
    if draft_lang:
        from mailposture.domains.draft import draft, group_by_registrar

        drafts = [draft(reg, recs, draft_lang, reporter or "-") for reg, recs in group_by_registrar(results).items()]
        if fmt == "json":
            for d in drafts:
                sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        else:
            for d in drafts:
                typer.echo(f"To: {d['to'] or '?'}\nSubject: {d['subject']}\n\n{d['body']}\n" + "-" * 60)
        return
    boot_date = doc.get("publication", "?")
    if fmt == "json":
        for r in results:
            r["bootstrap_publication"] = boot_date
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    ja = lang == "ja"
    for r in results:
        regn = r.get("registration") or {}
        reg = regn.get("registrar") or {}
        ab = regn.get("abuse") or {}
        typer.echo(f"{r['domain']}:")
        typer.echo(f"  {'登録事業者' if ja else 'registrar'}: {reg.get('name') or '-'}"
                   f" (IANA {reg.get('iana_id') or '-'})")
        typer.echo(f"  {'通報先' if ja else 'abuse'}: {ab.get('email') or '-'} {ab.get('phone') or ''}")
        typer.echo(f"  {'登録日' if ja else 'registered'}: {regn.get('registered') or '-'}  "
                   f"{'有効期限' if ja else 'expires'}: {regn.get('expires') or '-'}")
        ops = r["dns_operators"]
        unknown = "不明 (DNS エラー)" if ja else "unknown (DNS error)"
        typer.echo(f"  {'DNS 事業者' if ja else 'DNS operators'}: {unknown if ops is None else ', '.join(ops) or '-'}")
        if r["hosting"] is None:
            typer.echo(f"  {'ホスティング' if ja else 'hosting'}: {unknown}")
        for h in r["hosting"] or []:
            net = h.get("network") or {}
            typer.echo(f"  {'ホスティング' if ja else 'hosting'}: {h['ip']} AS{(h.get('asn') or {}).get('asn', '?')} "
                       f"{net.get('name') or ''} {(net.get('abuse') or {}).get('email') or ''}")
        for e in r["errors"]:
            typer.echo(f"  {'エラー' if ja else 'error'}: {e}")
    typer.echo(f"({'RDAP ブートストラップ' if ja else 'RDAP bootstrap'}: {boot_date})")
