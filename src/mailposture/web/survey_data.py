"""What the survey dashboard shows, from the same code as ``mailposture survey report`` (no second implementation).

Every table comes from :func:`mailposture.survey.reporting.build_report` (the function the report command calls) and
every download from :func:`mailposture.survey.reporting.render` with :func:`~mailposture.survey.reporting.report_meta`,
so the page, the JSON and the files the CLI writes carry the same numbers. A round's list and results are read once and kept (a few
rounds, least recently used first out), keyed by the round's generation so a recompute is seen at once.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailposture.survey.catalog import Catalog, CatalogError, RoundInfo
from mailposture.survey.lists import Body

FILTER_POLICIES = ("none", "quarantine", "reject", "absent", "unknown")
SPF_STATES = ("valid", "invalid", "absent", "unknown")


def body_key(body: Body) -> str:
    """A body's stable key across rounds: its ``code`` column, else its primary domain."""
    return (body.attrs.get("code") or "").strip() or body.domain


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        value = make()
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


class SurveyData:
    def __init__(self, data_dir: str | Path) -> None:
        from mailposture.survey import rounds

        rounds.keep_loaded(3)   # the report code's own loaders keep the last rounds read (keyed by file stamps)
        self.cat = Catalog(data_dir)
        self._reports = _LRU(64)
        self._views = _LRU(3)
        self._index = _LRU(3)
        self._files = _LRU(16)
        self._keys = _LRU(8)
        self._catalog: tuple[Any, list[RoundInfo]] | None = None

    # -- rounds ------------------------------------------------------------------------------------------------
    def _stamp(self) -> Any:
        out = []
        for p in (self.cat.db, self.cat.db.with_name(self.cat.db.name + ".wal")):
            try:
                st = p.stat()
                out.append((st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(None)
        return tuple(out)

    def rounds(self) -> list[RoundInfo]:
        """Every round, newest first; the catalog is read again only when its file changed."""
        if not self.cat.db.exists():
            return []
        stamp = self._stamp()
        cached = self._catalog
        if cached is None or cached[0] != stamp:
            cached = (stamp, sorted(self.cat.list(), key=lambda r: (r.started is None, r.started), reverse=True))
            self._catalog = cached
        return cached[1]

    def info(self, name: str) -> RoundInfo:
        for r in self.rounds():
            if r.name == name:
                return r
        return self.cat.require(name)   # raises CatalogError naming the rounds there are

    def loaded(self, info: RoundInfo) -> tuple[list[Body], dict[str, dict[str, Any]]]:
        from mailposture.survey.rounds import load_results, load_round_list

        return load_round_list(self.cat, info).bodies, load_results(self.cat, info)

    # -- the report (the CLI's own code) -----------------------------------------------------------------------
    def report(self, name: str, by: str | None, lang: str, count: str = "any", table: str = "adoption"
               ) -> tuple[RoundInfo, dict[str, Any]]:
        """``survey report --round NAME --by BY --table TABLE --format json`` as a dict (the CLI's functions)."""
        from mailposture.survey import reporting

        info = self.info(name)

        def make() -> tuple[RoundInfo, dict[str, Any]]:
            if table == "adoption":
                return reporting.build_report(self.cat, name, by or None, count, lang)
            return reporting.build_content(self.cat, name, table, by or None, count, lang)

        return self._reports.get((name, info.generation, by or "", lang, count, table), make)

    def prewarm(self, langs: tuple[str, ...] = ("ja", "en")) -> None:
        """Read the latest complete round and build its overall and per-region reports, so that the first member
        after a start does not wait for them (run in a background thread by ``web serve``)."""
        done = [r for r in self.rounds() if r.status == "complete"]
        if not done:
            return
        name = done[0].name
        cols = self.columns(name)
        for lang in langs:
            for by in (None, *(c for c in ("region",) if c in cols)):
                self.report(name, by, lang)
        self.views(name)

    def columns(self, name: str) -> list[str]:
        bodies, _ = self.loaded(self.info(name))
        return list(bodies[0].attrs) if bodies else []

    def download(self, name: str, by: str | None, fmt: str, lang: str, count: str = "any",
                 table: str = "adoption") -> bytes:
        """The bytes ``survey report --round NAME --by BY --table TABLE --format FMT --lang LANG`` writes."""
        from mailposture.survey import reporting

        def make() -> bytes:
            if fmt == "xlsx" and table == "adoption":
                info, rep = reporting.build_report(self.cat, name, by or None, count, lang, with_bodies=True)
            else:
                info, rep = self.report(name, by, lang, count, table)
            return reporting.render(rep, reporting.report_meta(info, None, count), fmt, lang)

        # the same file for everybody until the round changes (a recompute is a new generation)
        return self._files.get((name, self.info(name).generation, by or "", fmt, lang, count, table), make)


    def bodies_download(self, name: str, fmt: str, lang: str, keys: set[str] | None = None,
                        count: str = "any") -> bytes:
        """``survey report --table bodies`` (all bodies, or the ones in ``keys``: a body-restricted login)."""
        from mailposture.report.bodies import bodies_table
        from mailposture.survey import reporting

        info = self.info(name)
        bodies, results = self.loaded(info)
        if keys is not None:
            bodies = [b for b in bodies if body_key(b) in keys]
        table = bodies_table(bodies, results, count, lang)
        return reporting.render_bodies(table, reporting.report_meta(info, None, count), fmt, lang)[0]

    # -- drill-down --------------------------------------------------------------------------------------------
    def views(self, name: str, count: str = "any") -> list[tuple[Body, dict[str, Any]]]:
        """Every body with its follow-up row (:func:`mailposture.report.bodies.body_view`)."""
        from mailposture.report.bodies import body_view

        info = self.info(name)

        def make() -> list[tuple[Body, dict[str, Any]]]:
            bodies, results = self.loaded(info)
            return [(b, body_view(b, results, count)) for b in bodies]

        return self._views.get((name, info.generation, count), make)

    def table_keys(self, name: str, table: str) -> list[set[str]]:
        """Per body (list order), the keys a content-survey table counts it under — the report's own function
        (mailposture.report.content.body_keys), so a cell's drill-down lists exactly the bodies it counts."""
        from mailposture.report.content import TABLES, body_keys

        info = self.info(name)

        def make() -> list[set[str]]:
            bodies, results = self.loaded(info)
            return [body_keys(TABLES[table], [results.get(d) for d in b.domains("any")]) for b in bodies]

        return self._keys.get((name, info.generation, table), make)

    def bodies(self, name: str, *, column: str = "", value: str | None = None, policy: str = "",
               spf: str = "", code: str = "", query: str = "", keys: set[str] | None = None,
               table: str = "", key: str = "") -> list[tuple[Body, dict[str, Any]]]:
        out = []
        tk = self.table_keys(name, table) if table and key else None
        hits = {id(b) for b in self.search_index(name).find(query)} if query.strip() else None
        for i, (b, v) in enumerate(self.views(name)):
            if tk is not None and key not in tk[i]:
                continue
            if keys is not None and body_key(b) not in keys:
                continue
            if column and value is not None and b.attrs.get(column, "") != value:
                continue
            if policy and v.get("policy") != policy:
                continue
            if spf and v.get("spf_status") != spf:
                continue
            if code and code not in (v.get("findings") or "").split():
                continue
            if hits is not None and id(b) not in hits:
                continue
            out.append((b, v))
        return out

    def search_index(self, name: str) -> SearchIndex:
        info = self.info(name)
        return self._index.get((name, info.generation), lambda: SearchIndex(self.loaded(info)[0]))

    def body(self, name: str, key: str) -> tuple[Body, dict[str, dict[str, Any]]] | None:
        info = self.info(name)
        bodies, results = self.loaded(info)
        for b in bodies:
            if body_key(b) == key:
                return b, {d: results.get(d) for d in b.domains("any")}
        return None

    def history(self, key: str) -> list[tuple[RoundInfo, dict[str, Any] | None]]:
        """The body's follow-up row in every complete round, oldest first (None where it was not in the list)."""
        from mailposture.report.bodies import body_view

        out = []
        for info in reversed(self.rounds()):
            if info.status != "complete":
                continue
            try:
                bodies, results = self.loaded(info)
            except CatalogError:
                continue
            b = next((x for x in bodies if body_key(x) == key), None)
            out.append((info, body_view(b, results) if b else None))
        return out


# ---------------------------------------------------------------------------------------------------------------
# Search: kana / kanji / romaji tolerant (pykakasi reads kanji names as kana and romaji)

def fold(text: str) -> str:
    """NFKC, case-folded, katakana → hiragana, spaces, hyphens and long-vowel marks dropped."""
    t = unicodedata.normalize("NFKC", text or "").casefold()
    t = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in t)
    return "".join(c for c in t if not c.isspace() and c not in "ー-・･'")


_KAKASI: Any = None
_KLOCK = threading.Lock()


def readings(text: str) -> set[str]:
    """The folded text, its hiragana reading and its romaji (Hepburn, Kunrei, passport; long vowels loosened)."""
    global _KAKASI
    t = fold(text)
    out = {t}
    if not t or t.isascii():
        return out | {_loose(t)}
    with _KLOCK:
        if _KAKASI is None:
            import pykakasi

            _KAKASI = pykakasi.kakasi()
        parts = _KAKASI.convert(t)
    for key in ("hira", "hepburn", "kunrei", "passport"):
        r = fold("".join(p[key] for p in parts))
        out |= {r, _loose(r)}
    return out


def _loose(romaji: str) -> str:
    """Long vowels and doubled letters loosened: 'tōkyō', 'toukyou', 'tokyo' meet."""
    r = unicodedata.normalize("NFKD", romaji)
    r = "".join(c for c in r if not unicodedata.combining(c))
    for a, b in (("ou", "o"), ("oo", "o"), ("uu", "u"), ("ei", "e"), ("ii", "i"), ("aa", "a"), ("nn", "n")):
        r = r.replace(a, b)
    return r


SEARCH_FIELDS = ("name", "name_en", "name_kana", "kana", "yomi", "code", "prefecture", "region")


class SearchIndex:
    """Per body: the readings of its name fields and its domains."""

    def __init__(self, bodies: list[Body]) -> None:
        self.rows = []
        for b in bodies:
            keys: set[str] = set()
            for f in SEARCH_FIELDS:
                if b.attrs.get(f):
                    keys |= readings(b.attrs[f])
            keys |= {fold(d) for d in b.domains("any")}
            self.rows.append((b, keys))

    def find(self, query: str) -> list[Body]:
        qs = {q for q in readings(query) if q}
        if not qs:
            return []
        return [b for b, keys in self.rows if any(q in k for q in qs for k in keys)]


def table_names() -> tuple[str, ...]:
    """The report's tables: ``adoption`` and, where the content survey is installed, its tables (issue 11)."""
    try:
        from mailposture.report.content import TABLE_NAMES
    except ImportError:
        return ("adoption",)
    return tuple(TABLE_NAMES)
