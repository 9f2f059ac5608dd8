"""Commands of mailposture.checks (placeholder until the module's commands land)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
