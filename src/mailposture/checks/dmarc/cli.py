"""`mailposture dmarc parse RECORD…`: validate DMARC records offline (no DNS), all problems of each record.

Records come from the arguments, from stdin (`-`) and from `--file F`, one record a line. A line in zone-file
form (`"v=DMARC1; " "p=reject"`) is joined as the character-strings of one TXT record (RFC 7489 §6.6.3).
Exit status: 0 when every record is valid, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mailposture.cliopts import Lang, default_lang, read_records

_SEVERITY_JA = {"error": "エラー", "warning": "警告", "info": "情報"}


def register(app: typer.Typer) -> None:
    """Add the `dmarc` sub-app to ``app``."""
    dmarc_app = typer.Typer(name="dmarc", no_args_is_help=True,
                            help="DMARC records (RFC 7489, RFC 9989). DMARC レコードの検査。")

    @dmarc_app.callback()
    def _dmarc() -> None:
        """DMARC records (RFC 7489, RFC 9989)."""

    @dmarc_app.command("parse")
    def parse_cmd(
        records: Annotated[list[str] | None, typer.Argument(
            help="DMARC records ('-' reads stdin, one record a line). 検査するレコード。")] = None,
        file: Annotated[Path | None, typer.Option("--file", "-f", help="File with one record a line. / 1 行 1 レコードのファイル。")] = None,
        fmt: Annotated[str, typer.Option("--format", help="text or json (JSON Lines). / 出力形式。")] = "text",
        lang: Lang = None,
    ) -> None:
        """Validate DMARC records and list every problem. DMARC レコードを検証し、問題をすべて表示します。"""
        from mailposture.checks.chars import visible
        from mailposture.checks.dmarc.parse import parse_record

        language = default_lang(lang)
        if fmt not in ("text", "json"):
            raise typer.BadParameter("--format must be 'text' or 'json'")
        texts = read_records(records, file)
        if not texts:
            typer.echo("no record given (arguments, '-' or --file) / レコードが指定されていません", err=True)
            raise typer.Exit(2)
        all_valid = True
        for text in texts:
            rec = parse_record(text)
            all_valid &= rec.valid
            if fmt == "json":
                typer.echo(json.dumps({"record": text, "valid": rec.valid, "valid_rfc7489": rec.valid_rfc7489,
                                       "violations": rec.to_json()["violations"], "policy": rec.policy,
                                       "tags": rec.tags,
                                       "findings": [f.to_json(language) for f in rec.findings]},
                                      ensure_ascii=False))
                continue
            ok = ("有効" if rec.valid else "無効") if language == "ja" else ("valid" if rec.valid else "INVALID")
            if rec.dmarc and rec.valid != rec.valid_rfc7489:
                old = ("有効" if rec.valid_rfc7489 else "無効") if language == "ja" else (
                    "valid" if rec.valid_rfc7489 else "invalid")
                ok += f" (RFC 9989; RFC 7489: {old})"
            typer.echo(f"{visible(text)}\n  => {ok}")  # control characters named, never echoed raw
            for f in rec.findings:
                sev = _SEVERITY_JA[f.severity] if language == "ja" else f.severity
                msg = f.message(language)
                reason = f.params.get("reason")
                if reason and language == "ja":
                    from mailposture.findings import value_ja

                    reason = f.params.get("reason_ja") or value_ja(reason)
                if reason and str(reason) not in msg:  # e.g. why a URI is invalid
                    msg += f" [{reason}]"
                typer.echo(f"  [{sev}] {f.code}: {msg} ({f.rfc})")
                fix = f.fix(language)
                if fix:
                    typer.echo(f"      {'対処' if language == 'ja' else 'fix'}: {fix}")
        raise typer.Exit(0 if all_valid else 1)

    app.add_typer(dmarc_app, name="dmarc")
