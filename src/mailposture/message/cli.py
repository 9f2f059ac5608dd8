"""`mailposture message check`: verify a saved message (SPF, every DKIM signature, DMARC, ARC, BIMI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mailposture.cliopts import DnsOptions, Lang, Nameserver, Retries, Timeout, default_lang

message_app = typer.Typer(help="Verify received messages. / 受信メッセージの送信ドメイン認証を検証します。",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(message_app, name="message")


def _fail(text: str) -> None:
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(2)


def read_input(path: str, mbox: int | None) -> bytes:
    """The message bytes: a file, `-` for stdin, or message N (1-based) of an mbox file."""
    from mailposture.message.parse import split_mbox

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc} / {path} を読み込めません")
    if mbox is not None:
        msgs = split_mbox(data)
        if not 1 <= mbox <= len(msgs):
            _fail(f"--mbox {mbox}: the file holds {len(msgs)} message(s) / mbox のメッセージ数は {len(msgs)} です")
        data = msgs[mbox - 1]
    elif data.startswith(b"From ") and len(msgs := split_mbox(data)) > 1:
        _fail(f"{path} is an mbox file of {len(msgs)} messages: choose one with --mbox N / "
              f"mbox ファイル ({len(msgs)} 通) です。--mbox N で 1 通を選んでください")
    return data


@message_app.command("check")
def check(
    file: Annotated[str, typer.Argument(help="The message: .eml, a maildir file, an mbox (with --mbox N), or -.")],
    mbox: Annotated[int | None, typer.Option("--mbox", help="Take message N (1-based) of an mbox file.")] = None,
    ip: Annotated[str | None, typer.Option("--ip", help="The connecting client's IP (SPF).")] = None,
    helo: Annotated[str | None, typer.Option("--helo", help="The HELO/EHLO name (SPF).")] = None,
    mail_from: Annotated[str | None, typer.Option("--mail-from", help="The SMTP MAIL FROM address (SPF).")] = None,
    trusted_hosts: Annotated[list[str] | None, typer.Option(
        "--trusted-hosts", help="Your receiving MTAs (names or IPs, comma-separated or repeated): their Received "
        "field gives IP/HELO/MAIL FROM when --ip is not given.")] = None,
    nameserver: Nameserver = None,
    timeout: Timeout = 2.0,
    retries: Retries = 2,
    lang: Lang = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    ar_header: Annotated[str | None, typer.Option(
        "--ar-header", help="Also print an RFC 8601 Authentication-Results field with this authserv-id.")] = None,
    fetch: Annotated[bool, typer.Option("--fetch", help="Fetch the BIMI logo and check its SVG profile.")] = False,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="Extra CA certificates (PEM) trusted for the "
                                                "--fetch HTTPS requests.")] = None,
    arc_seal: Annotated[Path | None, typer.Option("--arc-seal", help="PEM private key: add a new ARC set.")] = None,
    selector: Annotated[str | None, typer.Option("--selector", help="ARC selector (with --arc-seal).")] = None,
    domain: Annotated[str | None, typer.Option("--domain", help="ARC signing domain (with --arc-seal).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the sealed message "
                                                "(with --arc-seal).")] = None,
) -> None:
    """Verify a received message: SPF, every DKIM signature, DMARC, ARC and BIMI. / 受信メッセージを検証します。"""
    from mailposture.dns.engine import run as run_loop
    from mailposture.message.authres_io import ar_header as make_ar
    from mailposture.message.verify import VerifyOptions, verify_message

    lang = default_lang(lang)
    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format must be text or json", param_hint="--format")
    if ip is not None:
        import ipaddress

        try:
            ip = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            _fail(f"--ip {ip!r} is not an IP address (e.g. 192.0.2.1 or 2001:db8::1) / "
                  f"--ip {ip!r} は IP アドレスではありません (例: 192.0.2.1、2001:db8::1)")
    key = None
    if arc_seal is not None:
        if not selector or not domain or output is None:
            _fail("--arc-seal needs --selector, --domain and --output / --arc-seal には --selector, --domain, "
                  "--output が必要です")
        try:
            key = arc_seal.read_bytes()
        except OSError as exc:
            _fail(f"cannot read {arc_seal}: {exc.strerror or exc} / 鍵 {arc_seal} を読み込めません")
    if ca_file is not None and not Path(ca_file).is_file():
        _fail(f"--ca-file {ca_file}: no such file / --ca-file {ca_file}: ファイルがありません")
    data = read_input(file, mbox)
    trusted = [h.strip() for item in (trusted_hosts or []) for h in item.split(",") if h.strip()]
    dns = DnsOptions(nameserver, timeout, retries, 50, None)
    try:
        engine = dns.engine()
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    opts = VerifyOptions(ip=ip, helo=helo, mail_from=mail_from, trusted_hosts=trusted, fetch=fetch, ca_file=ca_file)

    async def go() -> dict:
        async with engine:
            return await verify_message(data, engine, opts, lang=lang)

    result = run_loop(go())
    host = ar_header or domain
    ar_text = make_ar(host, result) if host else None
    if ar_header:
        result["authentication_results"] = ar_text
    if key is not None:
        from mailposture.findings import finding
        from mailposture.message.arc import seal_message

        value = (ar_text or "").split(":", 1)[1].strip()
        try:
            sealed, _fields = seal_message(data, value, srv_id=host or "", selector=selector or "",
                                          domain=domain or "", private_key=key)
        except ValueError as exc:
            _fail(f"cannot seal: {exc} / ARC セットを付けられません")
        try:
            if str(output) == "-":
                sys.stdout.buffer.write(sealed)
            else:
                Path(output).write_bytes(sealed)  # type: ignore[arg-type]
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
        result["arc_sealed"] = {"instance": result["arc"].get("instances", 0) + 1, "domain": domain,
                                "selector": selector, "cv": result["arc"]["cv"], "output": str(output)}
        s = result["arc_sealed"]
        result["findings"].append(finding("ARC_SEALED", instance=s["instance"], domain=domain, selector=selector,
                                          cv=s["cv"]).to_json(lang))
    to_err = key is not None and str(output) == "-"   # the sealed message owns stdout
    if fmt == "json":
        (sys.stderr if to_err else sys.stdout).write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        return
    from rich.console import Console

    from mailposture.message.text import render

    render(result, lang, Console(stderr=to_err))
    if ar_text and ar_header:
        typer.echo(ar_text, err=to_err)
    if key is not None:
        typer.echo(("新しい ARC セット i={instance} (d={domain}, s={selector}, cv={cv}) を {output} に書きました" if lang == "ja"
                    else "Added ARC set i={instance} (d={domain}, s={selector}, cv={cv}); written to {output}").format(**s), err=to_err)
