"""Grouping bodies for the survey tables and the one rounding rule of every format (pure functions).

``by`` is a list of list columns (``region``, ``prefecture``, ``kind`` …) or derived columns registered in
:data:`DERIVED_COLUMNS`; with several columns every prefix is a subtotal level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from mailposture.survey.lists import Body, group_sort_key

#: Extra grouping columns computed from a body (e.g. the second-level type of a .jp name); name -> function.
DERIVED_COLUMNS: dict[str, Callable[[Body], str]] = {}


def pct1(count: int, total: int) -> str:
    """The percentage shown to people: 100 * count / total rounded half-up to one decimal ("6.25" -> "6.3"),
    computed exactly (no binary float), the same in every format."""
    if not total:
        return "0.0"
    q = (Decimal(count) * 100 / Decimal(total)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{q:.1f}"


def resolve_columns(bodies: Sequence[Body], by: Sequence[str]) -> list[str]:
    cols: list[str] = []
    have = list(bodies[0].attrs) if bodies else []
    for c in by:
        c = c.strip()
        if not c:
            continue
        if c in DERIVED_COLUMNS or not bodies or c in have:
            cols.append(c)
            continue
        match = [a for a in have if a.lower() == c.lower()]
        if not match:
            raise KeyError(f"no column '{c}' in the list (columns: {', '.join(have) or 'none'})")
        cols.append(match[0])
    return cols


def body_value(b: Body, col: str) -> str:
    fn = DERIVED_COLUMNS.get(col)
    return fn(b) if fn else b.attrs.get(col, "")


def value_label(col: str, value: str, lang: str) -> str:
    """A group value as readers see it: the list's own labels (regions and kinds in English, .jp types named)."""
    if not value:
        return "(空欄)" if lang == "ja" else "(blank)"
    from mailposture.survey.lists import value_label as list_value_label

    return list_value_label(col, value, lang)


def grouping(bodies: Sequence[Body], cols: Sequence[str]) -> list[tuple[dict[str, str], list[int]]]:
    """[(group values, body indexes)] with a subtotal level for every prefix of ``cols``, in sort order."""
    if not cols:
        return []
    keys = [group_sort_key(c, list(bodies)) for c in cols]
    vals = [tuple(body_value(b, c) for c in cols) for b in bodies]
    out: list[tuple[dict[str, str], list[int]]] = []

    def walk(level: int, idx: list[int], prefix: tuple[str, ...]) -> None:
        buckets: dict[str, list[int]] = {}
        for i in idx:
            buckets.setdefault(vals[i][level], []).append(i)
        for v in sorted(buckets, key=keys[level]):
            here = (*prefix, v)
            out.append((dict(zip(cols, here, strict=False)), buckets[v]))
            if level + 1 < len(cols):
                walk(level + 1, buckets[v], here)

    walk(0, list(range(len(bodies))), ())
    return out
