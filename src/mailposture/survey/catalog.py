"""The catalog of survey rounds: an embedded DuckDB database under the data directory.

Layout of ``--data-dir`` (default ``./mailposture-data``)::

    catalog.duckdb                     the ``rounds`` table (one row per round)
    rounds/<name>/list.csv             the list exactly as scanned (its SHA-256 is in the catalog)
    rounds/<name>/gen-<g>/pass<p>.parquet
                                       results (the scan's flat columns + the full result JSON, raw DNS answers
                                       included); gen-0 is the scan, gen-1… are recomputations

The connection is opened per operation and closed at once, so two commands never hold the file for long.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = "mailposture-data"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    name VARCHAR PRIMARY KEY,
    list_name VARCHAR,
    list_sha256 VARCHAR,
    bodies INTEGER,
    domains INTEGER,
    status VARCHAR,            -- running | complete | failed (RESOLVER_SUSPECT: see notes)
    phase VARCHAR,             -- pass1 | pass2 | done
    started TIMESTAMPTZ,
    finished TIMESTAMPTZ,
    resolvers VARCHAR,         -- JSON list
    tool_version VARCHAR,
    generation INTEGER,        -- results in use: gen-<generation>
    recomputed TIMESTAMPTZ,
    errors INTEGER,            -- domains still failing after the retry pass
    retried INTEGER,           -- domains scanned again in the retry pass
    synthetic BOOLEAN,
    notes VARCHAR
)
"""


class CatalogError(ValueError):
    """A catalog problem with a user-facing message; ``str()`` is English, :meth:`text` the user's language."""

    def __init__(self, en: str, ja: str | None = None) -> None:
        super().__init__(en)
        self.en = en
        self.ja = ja or en

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(slots=True)
class RoundInfo:
    name: str
    list_name: str
    list_sha256: str
    bodies: int
    domains: int
    status: str
    phase: str
    started: datetime | None
    finished: datetime | None
    resolvers: list[str] = field(default_factory=list)
    tool_version: str = ""
    generation: int = 0
    recomputed: datetime | None = None
    errors: int = 0
    retried: int = 0
    synthetic: bool = False
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.__slots__:  # type: ignore[attr-defined]
            v = getattr(self, k)
            out[k] = v.isoformat(timespec="seconds") if isinstance(v, datetime) else v
        return out


_COLS = ("name", "list_name", "list_sha256", "bodies", "domains", "status", "phase", "started", "finished",
         "resolvers", "tool_version", "generation", "recomputed", "errors", "retried", "synthetic", "notes")


def check_round_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise CatalogError(f"round name '{name}': use 1-64 letters, digits, '.', '_' or '-' "
                           "(starting with a letter or digit), e.g. 2026-12",
                           f"調査回の名前「{name}」は使えません。英数字と「.」「_」「-」で 1〜64 文字 (先頭は英数字)、"
                           "例: 2026-12")
    return name


class Catalog:
    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.dir = Path(data_dir or DEFAULT_DATA_DIR)
        self.db = self.dir / "catalog.duckdb"

    # -------------------------------------------------------------------------------------------- plumbing

    def _connect(self, create: bool):
        import duckdb

        if not create and not self.db.exists():
            raise CatalogError(f"no survey data in {self.dir} (no catalog.duckdb); run "
                               "'mailposture survey run LIST --round NAME' first, or give --data-dir",
                               f"{self.dir} に調査データがありません (catalog.duckdb がない)。先に "
                               "mailposture survey run LIST --round NAME を実行するか、--data-dir で保存先を指定してください")
        if create:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"{self.dir}: cannot create the data directory ({exc.strerror})",
                                   f"{self.dir}: データの保存先を作れません ({exc.strerror})") from None
        try:
            con = duckdb.connect(str(self.db))
        except duckdb.IOException as exc:
            hint = "; another mailposture command is using it, try again when it ends" if "lock" in str(exc).lower() \
                else ""
            hint_ja = "。別の mailposture コマンドが使用中です。終わってからやり直してください" if hint else ""
            raise CatalogError(f"{self.db}: cannot open the catalog ({exc}){hint}",
                               f"{self.db}: カタログを開けません ({exc}){hint_ja}") from None
        except duckdb.Error as exc:
            raise CatalogError(f"{self.db}: not a usable DuckDB catalog ({exc})",
                               f"{self.db}: DuckDB のカタログとして使えません ({exc})") from None
        con.execute(SCHEMA)
        return con

    def round_dir(self, name: str) -> Path:
        return self.dir / "rounds" / check_round_name(name)

    def gen_dir(self, name: str, generation: int) -> Path:
        return self.round_dir(name) / f"gen-{generation}"

    # -------------------------------------------------------------------------------------------- rows

    def get(self, name: str) -> RoundInfo | None:
        con = self._connect(create=False) if self.db.exists() else None
        if con is None:
            return None
        try:
            row = con.execute(f"SELECT {', '.join(_COLS)} FROM rounds WHERE name = ?", [name]).fetchone()
        finally:
            con.close()
        return _info(row) if row else None

    def require(self, name: str) -> RoundInfo:
        if not self.db.exists():
            self._connect(create=False)  # raises "no survey data in …"
        info = self.get(name)
        if info is None:
            names = [r.name for r in self.list()] if self.db.exists() else []
            known = ", ".join(names) or "none yet"
            raise CatalogError(f"no round named '{name}' in {self.dir} (rounds: {known})",
                               f"{self.dir} に調査回「{name}」はありません (調査回: {', '.join(names) or 'まだなし'})")
        return info

    def list(self) -> list[RoundInfo]:
        con = self._connect(create=False)
        try:
            rows = con.execute(f"SELECT {', '.join(_COLS)} FROM rounds ORDER BY started, name").fetchall()
        finally:
            con.close()
        return [_info(r) for r in rows]

    def latest(self) -> RoundInfo:
        done = [r for r in self.list() if r.status == "complete"]
        if not done:
            raise CatalogError(f"no complete round in {self.dir}; run 'mailposture survey run' first",
                               f"{self.dir} に完了した調査回がありません。先に mailposture survey run を実行してください")
        return max(done, key=lambda r: (r.finished or r.started or datetime.min.replace(tzinfo=UTC), r.name))

    def upsert(self, info: RoundInfo) -> None:
        con = self._connect(create=True)
        try:
            vals = [getattr(info, c) for c in _COLS]
            vals[_COLS.index("resolvers")] = json.dumps(info.resolvers)
            con.execute(f"INSERT OR REPLACE INTO rounds ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
                        vals)
            if info.status == "complete":
                self._results_view(con, info)
        finally:
            con.close()

    def _results_view(self, con: Any, info: RoundInfo) -> None:
        """A SQL view ``"results_<round>"`` over the round's Parquet in use (the retry pass overriding pass 1), so
        the catalog can be queried directly: ``duckdb catalog.duckdb "SELECT count(*) FROM \"results_2026-12\"
        WHERE spf_present"``. Best effort: a view that cannot be made never fails the round."""
        import duckdb

        gdir = self.gen_dir(info.name, info.generation).resolve()
        p1, p2 = gdir / "pass1.parquet", gdir / "pass2.parquet"
        if not p1.exists():
            return
        lit = "'" + str(p1).replace("'", "''") + "'"
        sql = f"SELECT * FROM read_parquet({lit})"
        if p2.exists():
            lit2 = "'" + str(p2).replace("'", "''") + "'"
            sql = (f"SELECT * FROM read_parquet({lit2}) UNION ALL BY NAME SELECT * FROM read_parquet({lit}) "
                   f"WHERE domain NOT IN (SELECT domain FROM read_parquet({lit2}))")
        view = '"results_' + info.name.replace('"', "") + '"'
        try:
            con.execute(f"CREATE OR REPLACE VIEW {view} AS {sql}")
        except duckdb.Error:
            pass

    def delete(self, name: str) -> None:
        con = self._connect(create=False)
        try:
            con.execute("DELETE FROM rounds WHERE name = ?", [name])
        finally:
            con.close()

    def count_parquet(self, pattern: str) -> int:
        """DuckDB over the round's Parquet files (used by `survey rounds` for a quick check)."""
        con = self._connect(create=False)
        try:
            return int(con.execute("SELECT count(*) FROM read_parquet(?)", [pattern]).fetchone()[0])
        finally:
            con.close()


def _info(row: tuple[Any, ...]) -> RoundInfo:
    d = dict(zip(_COLS, row, strict=True))
    try:
        d["resolvers"] = json.loads(d["resolvers"] or "[]")
    except ValueError:
        d["resolvers"] = []
    for k in ("bodies", "domains", "generation", "errors", "retried"):
        d[k] = int(d[k] or 0)
    d["synthetic"] = bool(d["synthetic"])
    d["notes"] = d["notes"] or ""
    return RoundInfo(**d)


def now() -> datetime:
    return datetime.now(UTC)
