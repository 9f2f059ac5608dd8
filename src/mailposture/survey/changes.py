"""How a survey list changed between two rounds: bodies added, removed, or moved to another domain.

A body is the same body in two rounds when it has the same identity:

- its ``code`` (全国地方公共団体コード for jp-localgov), when both lists have a ``code`` column;
- else its ``name`` (with its ``prefecture`` when the list has one: 府中市 is in 東京都 and in 広島県), when both
  lists have a ``name`` column;
- else its primary domain (a list of bare domains cannot tell a move from a removal plus an addition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mailposture.survey.lists import Body


def _col(bodies: Sequence[Body], name: str) -> str | None:
    if not bodies:
        return None
    return next((c for c in bodies[0].attrs if c.lower() == name), None)


def identity(a: Sequence[Body], b: Sequence[Body]):
    """A function body -> key usable on both lists (see the module docstring)."""
    ca, cb = _col(a, "code"), _col(b, "code")
    if ca and cb:
        return lambda body: "code:" + (body.attrs.get(ca) or body.attrs.get(cb) or "").strip()
    na, nb = _col(a, "name"), _col(b, "name")
    if na and nb:
        pa, pb = _col(a, "prefecture"), _col(b, "prefecture")

        def by_name(body: Body) -> str:
            pref = (body.attrs.get(pa or "", "") or body.attrs.get(pb or "", "")).strip() if pa and pb else ""
            return f"name:{pref}/{(body.attrs.get(na) or body.attrs.get(nb) or '').strip()}"

        return by_name
    return lambda body: "domain:" + body.domain


def display_name(body: Body) -> str:
    """The body's name as people say it (its prefecture first when the name alone is ambiguous), else its domain."""
    name = next((v for k, v in body.attrs.items() if k.lower() in ("name", "名称") and v), "")
    pref = next((v for k, v in body.attrs.items() if k.lower() == "prefecture" and v), "")
    if name and pref and not name.startswith(pref):
        name = pref + name
    return name or body.domain


def attr(body: Body, column: str) -> str:
    return next((v for k, v in body.attrs.items() if k.lower() == column), "")


@dataclass(slots=True)
class ListChanges:
    added: list[Body] = field(default_factory=list)
    removed: list[Body] = field(default_factory=list)
    moved: list[tuple[Body, Body]] = field(default_factory=list)     # (before, after): the domains changed
    pairs: list[tuple[Body, Body]] = field(default_factory=list)     # every body in both lists

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.moved)

    def to_json(self) -> dict[str, list[dict[str, str]]]:
        def one(b: Body) -> dict[str, str]:
            return {"name": display_name(b), "region": attr(b, "region"), "domain": b.domain}

        return {"added": [one(b) for b in self.added], "removed": [one(b) for b in self.removed],
                "moved": [{**one(n), "before": " ".join(o.domains()), "after": " ".join(n.domains())}
                          for o, n in self.moved]}

    def note(self, lang: str, limit: int = 10) -> str:
        """One sentence per kind of change, with up to ``limit`` names each."""
        def names(items: list[str]) -> str:
            more = len(items) - limit
            sep = "、" if lang == "ja" else ", "
            text = sep.join(items[:limit])
            return text + ((f" ほか {more} 件" if lang == "ja" else f" and {more} more") if more > 0 else "")

        parts = []
        if self.added:
            lst = names([display_name(b) for b in self.added])
            parts.append(f"追加 {len(self.added)} 団体: {lst}" if lang == "ja" else
                         f"{len(self.added)} added: {lst}")
        if self.removed:
            lst = names([display_name(b) for b in self.removed])
            parts.append(f"削除 {len(self.removed)} 団体: {lst}" if lang == "ja" else
                         f"{len(self.removed)} removed: {lst}")
        if self.moved:
            lst = names([f"{display_name(n)} ({o.domain} → {n.domain})" for o, n in self.moved])
            parts.append(f"ドメイン変更 {len(self.moved)} 団体: {lst}" if lang == "ja" else
                         f"{len(self.moved)} moved to another domain: {lst}")
        return ("; " if lang == "en" else "。").join(parts)


def list_changes(before: Sequence[Body], after: Sequence[Body]) -> ListChanges:
    key = identity(before, after)
    old = {key(b): b for b in before}
    new = {key(b): b for b in after}
    out = ListChanges()
    for k, b in new.items():
        if k not in old:
            out.added.append(b)
        else:
            o = old[k]
            out.pairs.append((o, b))
            if o.domains() != b.domains():
                out.moved.append((o, b))
    out.removed = [b for k, b in old.items() if k not in new]
    return out
