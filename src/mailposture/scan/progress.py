"""Progress display for `mailposture scan`: a rich bar on stderr when it is a terminal, nothing otherwise.

The bar advances with the share of the input *bytes* consumed (so the ETA is meaningful for a file without
counting its lines first); the counters show domains done, rate, errors and invalid names. For standard input
the size is unknown: the bar pulses and there is no ETA.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Protocol


class ScanProgress(Protocol):
    def start(self, total_bytes: int | None) -> None: ...
    def update(self, *, done: int, errors: int, invalid: int, position: int) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    """Used with --no-progress and whenever stderr is not a terminal (logs, CI, pipes)."""

    enabled = False

    def start(self, total_bytes: int | None) -> None:
        pass

    def update(self, *, done: int, errors: int, invalid: int, position: int) -> None:
        pass

    def stop(self) -> None:
        pass


class RichProgress:
    enabled = True

    def __init__(self, stream: IO[str], lang: str = "en") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        ja = lang == "ja"
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[done]:,}[/] " + ("件" if ja else "domains")),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TextColumn(("エラー " if ja else "errors ") + "[red]{task.fields[errors]:,}[/]"),
            TextColumn(("不正 " if ja else "invalid ") + "[yellow]{task.fields[invalid]:,}[/]"),
            TimeElapsedColumn(),
            TextColumn("ETA" if not ja else "残り"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
            refresh_per_second=4,
        )
        self._task = None
        self._t0 = time.monotonic()

    def start(self, total_bytes: int | None) -> None:
        self._t0 = time.monotonic()
        self._progress.start()
        self._task = self._progress.add_task("scan", total=total_bytes or None, done=0, rate=0.0, errors=0,
                                             invalid=0)

    def update(self, *, done: int, errors: int, invalid: int, position: int) -> None:
        if self._task is None:
            return
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        self._progress.update(self._task, completed=position, done=done, rate=done / elapsed, errors=errors,
                              invalid=invalid)

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()
            self._task = None


def make_progress(enabled: bool | None = None, stream: IO[str] | None = None, lang: str = "en") -> ScanProgress:
    """``enabled``: True/False forces it; None shows the bar only when ``stream`` (stderr) is a terminal."""
    stream = stream if stream is not None else sys.stderr
    if enabled is False:
        return NullProgress()
    if enabled is None:
        try:
            if not stream.isatty():
                return NullProgress()
        except (AttributeError, ValueError):
            return NullProgress()
    return RichProgress(stream, lang)
