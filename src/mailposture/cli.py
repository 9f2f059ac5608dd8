"""`mailposture`: one command with subcommands. Each area registers its own commands (I/O lives at the edges).

Heavy imports (FastAPI, pyarrow, matplotlib…) happen inside the commands, so `mailposture check` starts fast.
"""

from __future__ import annotations

import sys

import typer

from mailposture import __version__

app = typer.Typer(
    name="mailposture",
    help="Sender-domain authentication surveys and the overseas-submission guard. "
         "送信ドメイン認証の普及状況調査と、国外からの踏み台送信対策。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mailposture {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """mailposture"""


def _register() -> None:
    # Each module adds its commands to `app`; see the module for the commands it owns.
    from mailposture.checks import cli as checks_cli
    from mailposture.domains import cli as domains_cli
    from mailposture.guard import cli as guard_cli
    from mailposture.scan import cli as scan_cli
    from mailposture.sms import cli as sms_cli
    from mailposture.survey import cli as survey_cli
    from mailposture.web import cli as web_cli

    for mod in (checks_cli, scan_cli, survey_cli, guard_cli, web_cli, domains_cli, sms_cli):
        mod.register(app)
    from mailposture.message import cli as message_cli  # issue 14: `message check`

    message_cli.register(app)
    from mailposture.cli_examples import apply_help

    apply_help(app)   # examples at the end of every --help, tidy help screens (mailposture/cli_examples.py)


_register()


def main() -> None:
    from mailposture.runtime import tune_gc

    tune_gc()
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted / 中断しました", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
