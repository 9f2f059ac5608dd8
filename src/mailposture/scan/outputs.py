"""Writing scan results: JSON Lines, CSV and Parquet, each resumable and safe against interruption.

Formats
-------
``jsonl`` (default)
    One JSON object per domain and line, in completion order (input order with ``scan --ordered``). Complete
    per-domain results.
``csv``
    One row per domain with the stable columns of :func:`csv_columns` (``attrs.*`` from the input's extra
    columns, then :data:`COLUMNS`). Values come from :func:`flatten`: nested dicts joined with ``_``
    (``spf.dns_lookups`` -> ``spf_dns_lookups``), lists of scalars joined with a space, other lists as JSON;
    booleans as ``true``/``false``, unknown (None) as an empty cell. Line breaks inside values become spaces,
    so every row is exactly one line (this is what makes a torn last line detectable). The columns are
    described in docs/scaling.md ("Output columns"); ``dmarc_valid`` is RFC 9989 validity and
    ``dmarc_valid_rfc7489`` RFC 7489 validity, as ``valid``/``valid_rfc7489`` in the JSON result. Outputs written
    before a column of :data:`ADDED_COLUMNS` existed are resumed, not refused.
``parquet``
    The same flat columns with fixed types (:func:`parquet_schema`) plus ``result``: the complete result as a
    JSON string. Column types: ``str`` -> string, ``bool`` -> boolean, ``int`` -> int64 (counts bounded by
    design: lookups, queries, findings, pct), ``bigint`` -> DECIMAL(38, 0), an exact integer of up to 38 digits,
    for the address-space counts whose range is unbounded in practice (``ip6:::/0`` or ``+all`` authorize 2^64
    IPv6 /64 networks, beyond int64). A value that does not fit its column (an int64 column holding more than
    2^63-1, a bigint beyond 38 digits, which no check produces) is stored as null there; the ``result`` JSON always
    keeps the exact value (JSON numbers have no size limit), so nothing is lost and nothing overflows. Streaming-safe design: results are first appended to a JSON Lines *journal*
    ``<out>.journal.jsonl`` (flushed per batch, like the jsonl format); when the scan ends — normally or by
    Ctrl-C — the journal is converted in row groups of :data:`ROW_GROUP` rows, merged after the rows of an
    existing ``<out>`` (``--resume``) into ``<out>.tmp``, fsynced and renamed over ``<out>``, and the journal is
    removed. A run that is killed outright leaves the journal; ``--resume`` picks it up.

Resume (:func:`open_output` with ``resume=True``) reads back the ``domain`` of every result already written;
a torn last line (a crash mid-write) is cut off and reported, never a crash. Writes go out in whole lines, one
``write`` + ``flush`` per batch, and the file is fsynced when closed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

import orjson

OutputFormat = Literal["jsonl", "csv", "parquet"]
ROW_GROUP = 10_000

#: Stable CSV/Parquet columns after ``domain``/``input``/``status``/errors and ``attrs.*``: (name, type).
#: Types: "bool", "int" (int64), "bigint" (exact, DECIMAL(38, 0) in Parquet), "str". A column absent from a result
#: is empty (None). Address-space counts are "bigint": ``v=spf1 +all`` authorizes 2^64 IPv6 /64s.
COLUMNS: list[tuple[str, str]] = [
    ("spf_status", "str"), ("spf_present", "bool"), ("spf_valid", "bool"), ("spf_record", "str"),
    ("spf_all", "str"), ("spf_dns_lookups", "int"), ("spf_void_lookups", "int"), ("spf_authorized_ipv4", "bigint"),
    ("spf_authorized_ipv6_64", "bigint"), ("spf_own_ipv4", "bigint"), ("spf_own_ipv6_64", "bigint"),
    ("spf_provider_ipv4", "bigint"), ("spf_providers", "str"),
    ("dmarc_status", "str"), ("dmarc_present", "bool"), ("dmarc_valid", "bool"), ("dmarc_valid_rfc7489", "bool"),
    ("dmarc_record", "str"),
    ("dmarc_policy", "str"), ("dmarc_subdomain_policy", "str"), ("dmarc_pct", "int"), ("dmarc_source", "str"),
    ("dmarc_source_domain", "str"), ("dmarc_protected", "bool"), ("dmarc_rua", "str"), ("dmarc_ruf", "str"),
    ("mx_status", "str"), ("mx_present", "bool"), ("mx_classification", "str"), ("mx_hosts", "str"),
    ("finding_codes", "str"), ("findings_error", "int"), ("findings_warning", "int"),
    ("dns_queries", "int"), ("dns_errors", "int"), ("checked_at", "str"),
]
#: Columns added to :data:`COLUMNS` after outputs were already written without them. An existing output that lacks
#: only these (an older version wrote it) is resumed, never refused: CSV rows are appended in the file's own
#: columns (a CSV file keeps one header), Parquet gets the column for its old rows too, derived from each row's
#: ``result`` JSON (the complete result, so the value is what the scan found; empty when the result has none).
ADDED_COLUMNS: frozenset[str] = frozenset({"dmarc_valid_rfc7489"})
HEAD_COLUMNS: list[tuple[str, str]] = [("domain", "str"), ("input", "str"), ("status", "str"), ("error", "str"),
                                        ("input_error", "str")]


class Note(str):
    """A writer's note for the user: ``str()`` is English, :meth:`text` the user's language."""

    ja: str

    def __new__(cls, en: str, ja: str) -> Note:
        note = super().__new__(cls, en)
        note.ja = ja
        return note

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return str(self), self.ja

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else str(self)


def note_text(note: str, lang: str) -> str:
    """A note in ``lang`` (a plain string note is shown as it is)."""
    return note.text(lang) if isinstance(note, Note) else note


def older_layout(have: Sequence[str], want: Sequence[str]) -> list[str]:
    """The :data:`ADDED_COLUMNS` that ``have`` (an existing output's columns) lacks when it is ``want`` written by
    an older version; empty when the layouts are equal or differ otherwise."""
    missing = [c for c in want if c not in have]
    if not missing or not set(missing) <= ADDED_COLUMNS or [c for c in want if c not in missing] != list(have):
        return []
    return missing


class OutputError(Exception):
    """The output cannot be written or resumed (user-facing message; ``text(lang)`` in the user's language)."""

    def __init__(self, en: str, ja: str | None = None) -> None:
        super().__init__(en)
        self.ja = ja or en

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else str(self)


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """Where and how to write. Picklable (issue 6: each worker process opens its own part)."""

    path: str                               # file path or "-" (stdout, jsonl only)
    format: OutputFormat | None = None      # None: from the extension, default jsonl

    @property
    def fmt(self) -> OutputFormat:
        return self.format or format_from_path(self.path)


EXTENSIONS: dict[str, OutputFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet",
                                       ".pq": "parquet"}
# formats people expect but a scan does not write: a file of another format under that name would not open
_FOREIGN = {".xlsx": "Excel", ".xls": "Excel", ".ods": "a spreadsheet", ".json": "a JSON document",
            ".txt": "plain text", ".html": "HTML", ".md": "Markdown"}


def format_from_path(path: str) -> OutputFormat:
    """The format an output file name asks for (JSON Lines for a name without extension)."""
    return EXTENSIONS.get(os.path.splitext(path.lower())[1], "jsonl")


def check_output_name(spec: OutputSpec) -> None:
    """Refuse a name whose extension promises something else than what would be written (``-o out.xlsx`` would
    have been JSON Lines inside): known extensions decide the format and must agree with ``--format``; another
    extension needs ``--format`` (and is refused for formats a scan cannot write, like .xlsx)."""
    if spec.path == "-":
        return
    ext = os.path.splitext(spec.path.lower())[1]
    known = EXTENSIONS.get(ext)
    if known is not None:
        if spec.format is not None and spec.format != known:
            raise OutputError(f"{spec.path}: the extension {ext} means {known}, but --format is {spec.format}; "
                              f"name the file .{_EXT_OF[spec.format]} or drop --format",
                              f"{spec.path}: 拡張子 {ext} は {known} 形式ですが --format は {spec.format} です。"
                              f"ファイル名を .{_EXT_OF[spec.format]} にするか --format を外してください")
        return
    if ext in _FOREIGN:
        what = _FOREIGN[ext]
        tip = " (write .csv and open it in Excel)" if what == "Excel" else ""
        tip_ja = " (.csv で書き出して Excel で開いてください)" if what == "Excel" else ""
        raise OutputError(f"{spec.path}: a scan cannot write {what} ({ext}); name the output .jsonl, .csv or "
                          f".parquet{tip}",
                          f"{spec.path}: 調査結果は {ext} 形式では書き出せません。出力ファイル名を .jsonl, .csv, "
                          f".parquet のいずれかにしてください{tip_ja}")
    if ext and spec.format is None:
        raise OutputError(f"{spec.path}: unknown extension {ext}; name the output .jsonl, .csv or .parquet, or "
                          "give --format jsonl|csv|parquet",
                          f"{spec.path}: 拡張子 {ext} は不明です。出力ファイル名を .jsonl, .csv, .parquet のいずれかに"
                          "するか、--format jsonl|csv|parquet を指定してください")


_EXT_OF = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}


# ---------------------------------------------------------------------------------------------------------------
# Flattening

def _scalar_list(v: list[Any]) -> bool:
    return all(isinstance(x, str | int | float | bool) or x is None for x in v)


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level, keys joined with ``_`` (``attrs`` keys become ``attrs.<name>``).

    Lists of scalars are joined with single spaces; lists holding dicts/lists are kept as JSON text.
    """
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}_{k}" if prefix else str(k)
        if not prefix and k == "attrs" and isinstance(v, dict):
            for ak, av in v.items():
                out[f"attrs.{ak}"] = av if isinstance(av, str | int | float | bool) or av is None else _json(av)
        elif isinstance(v, dict):
            out.update(flatten(v, key))
        elif isinstance(v, list | tuple):
            out[key] = " ".join("" if x is None else _cell(x) for x in v) if _scalar_list(list(v)) else _json(v)
        else:
            out[key] = v
    return out


def all_findings(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level findings plus those of every section (``result[section]["findings"]``)."""
    found = [f for f in result.get("findings") or () if isinstance(f, dict)]
    for v in result.values():
        if isinstance(v, dict):
            found.extend(f for f in v.get("findings") or () if isinstance(f, dict))
    return found


def flat_row(result: dict[str, Any]) -> dict[str, Any]:
    """The flat view used for CSV and Parquet: :func:`flatten` plus derived columns."""
    flat = flatten(result)
    found = all_findings(result)
    flat["finding_codes"] = " ".join(sorted({str(f.get("code")) for f in found if f.get("code")}))
    flat["findings_error"] = sum(1 for f in found if f.get("severity") == "error")
    flat["findings_warning"] = sum(1 for f in found if f.get("severity") == "warning")
    dns = result.get("dns")
    flat["dns_queries"] = dns.get("queries") if isinstance(dns, dict) else None
    flat["dns_errors"] = len(dns.get("errors") or ()) if isinstance(dns, dict) else None
    mx = result.get("mx")
    if isinstance(mx, dict) and isinstance(mx.get("hosts"), list):
        hosts = [h.get("host") or h.get("exchange") if isinstance(h, dict) else h for h in mx["hosts"]]
        flat["mx_hosts"] = " ".join(str(h) for h in hosts if h is not None)
    return flat


def csv_columns(attrs: Sequence[str]) -> list[str]:
    return [n for n, _ in HEAD_COLUMNS] + [f"attrs.{a}" for a in attrs] + [n for n, _ in COLUMNS]


def _typed_columns(attrs: Sequence[str]) -> list[tuple[str, str]]:
    return HEAD_COLUMNS + [(f"attrs.{a}", "str") for a in attrs] + COLUMNS


def _json(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    s = v if isinstance(v, str) else _json(v) if isinstance(v, dict | list) else str(v)
    return s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


#: The values each integer column type holds (see the module docstring).
INT_RANGES = {"int": (-(1 << 63), (1 << 63) - 1), "bigint": (-(10 ** 38 - 1), 10 ** 38 - 1)}


def _coerce(v: Any, kind: str) -> Any:
    if v is None or v == "":
        return None
    if kind == "bool":
        return v if isinstance(v, bool) else None
    if kind in ("int", "bigint"):
        try:
            n = int(v)
        except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf")
            return None
        lo, hi = INT_RANGES[kind]
        return n if lo <= n <= hi else None  # out of range: null here, exact in the result JSON
    return v if isinstance(v, str) else _cell(v)


def dumps(result: dict[str, Any]) -> str:
    """One JSON Lines line (no newline): UTF-8 text, never fails on odd values (they become strings)."""
    return dumps_bytes(result).decode("utf-8")


_ORJSON_OPTS = 0  # non-str keys (rare) go to the fallback: orjson.OPT_NON_STR_KEYS slows every line


def dumps_bytes(result: Any) -> bytes:
    """:func:`dumps` as UTF-8 bytes. orjson does the work (about 10x the standard encoder, a scan writes a line per
    domain); what it refuses (an integer beyond 64 bits, a lone surrogate) falls back to the standard encoder
    with \\u escapes, so a line is always written."""
    try:
        return orjson.dumps(result, default=str, option=_ORJSON_OPTS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(result, ensure_ascii=True, separators=(",", ":"), default=str).encode("ascii")


# ---------------------------------------------------------------------------------------------------------------
# Reading back (resume)

@dataclass(slots=True)
class Existing:
    done: set[str]
    rows: int = 0
    repaired_bytes: int = 0      # bytes cut off a torn tail
    header: list[str] | None = None


def _scan_lines(path: str, parse, *, skip_header: bool = False) -> Existing:
    """Read ``path`` line by line; ``parse(text) -> domain`` raises ValueError on a line that is no result.

    Only what a crash can leave is repaired (cut off): a last line without its newline (the write was torn)
    and a tail of NUL bytes (blocks allocated but never written before a power loss). Any other bad line is
    an :class:`OutputError` naming it, and the file is left untouched: it may not be a scan output at all.
    """
    ex = Existing(set())
    good_end = 0
    torn_at: int | None = None
    with open(path, "rb") as f:
        offset = 0
        for lineno, b in enumerate(f, 1):
            offset += len(b)
            complete = b.endswith(b"\n")
            if not complete or not b.strip(b"\0\n"):
                if torn_at is None:
                    torn_at = lineno     # repairable only if nothing but more of the same follows
                continue
            if torn_at is not None:
                raise OutputError(f"{path}: line {torn_at} is damaged although later lines are fine; remove or "
                                  "fix that line, then resume")
            try:
                text = b.decode("utf-8")
                if lineno == 1 and skip_header:
                    ex.header = next(csv.reader([text]))
                    good_end = offset
                    continue
                key = parse(text)
            except (ValueError, UnicodeDecodeError, csv.Error, StopIteration) as exc:
                raise OutputError(f"{path}: line {lineno} is not a result of this scan ({exc}); is this the right "
                                  "file? (nothing was changed)") from None
            ex.done.add(key)
            ex.rows += 1
            good_end = offset
        size = offset
    if good_end < size:
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
        ex.repaired_bytes = size - good_end
    return ex


def _parse_jsonl(text: str) -> str:
    obj = json.loads(text)
    if not isinstance(obj, dict) or not isinstance(obj.get("domain"), str):
        raise ValueError("no domain")
    return obj["domain"]


def read_jsonl(path: str) -> Existing:
    return _scan_lines(path, _parse_jsonl)


def read_csv(path: str, columns: list[str]) -> Existing:
    """Resume reading of a CSV output. A file written by an older version, without some :data:`ADDED_COLUMNS`, is
    accepted: ``header`` of the result then differs from ``columns`` and the rows are checked against it."""
    expected = columns

    def parse(text: str) -> str:
        row = next(csv.reader([text]))
        if len(row) != len(expected):
            raise ValueError(f"{len(row)} cells, not {len(expected)}")
        return row[0]

    with open(path, "rb") as f:   # the header first: a different file is refused before anything is repaired
        first = f.readline()
    if first.endswith(b"\n"):
        try:
            header = next(csv.reader([first.decode("utf-8")]))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            header = []
        if header != columns and older_layout(header, columns):
            expected = header
        elif header != columns:
            missing = [c for c in columns if c not in header]
            extra = [c for c in header if c not in columns]
            raise OutputError(f"{path}: its CSV columns differ from this scan's (missing: "
                              f"{', '.join(missing) or '-'}; unexpected: {', '.join(extra[:10]) or '-'}); resume "
                              "with the same input columns, or write to a new file")
    return _scan_lines(path, parse, skip_header=True)


def read_parquet_domains(path: str) -> set[str]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        done: set[str] = set()
        for batch in pf.iter_batches(columns=["domain"], batch_size=65536):
            done.update(d for d in batch.column(0).to_pylist() if d is not None)
        return done
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise OutputError(f"{path}: cannot read the existing Parquet file ({exc})") from None


# ---------------------------------------------------------------------------------------------------------------
# Writers

class EncodedResult(dict):  # type: ignore[type-arg]
    """A result that a ``--workers`` process already encoded as its JSON line (``line``, no newline), so that the
    parent neither decodes nor re-encodes it. The dict itself holds only what the scan reads: ``domain``,
    ``status``, ``dns.queries`` and ``input``. Only a writer that says ``takes_encoded`` is given these."""

    __slots__ = ("line",)

    def __init__(self, line: bytes, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.line = line

    @classmethod
    def of(cls, result: dict[str, Any]) -> EncodedResult:
        dns = result.get("dns")
        queries = dns.get("queries") if isinstance(dns, dict) else None
        fields = {"domain": result.get("domain"), "status": result.get("status"), "dns": {"queries": queries}}
        if "input" in result:
            fields["input"] = result["input"]
        return cls(dumps_bytes(result), fields)

    def add(self, key: str, value: Any) -> None:
        """Add a key the line does not have yet (it goes last, as in a dict)."""
        self[key] = value
        self.line = self.line[:-1] + b"," + dumps_bytes(key) + b":" + dumps_bytes(value) + b"}"


class ResultWriter:
    """Common interface. ``write(batch)`` writes whole results and flushes; ``close()`` fsyncs/finalises."""

    path: str
    notes: list[str]
    takes_encoded = False  # True: write() accepts EncodedResult entries

    def write(self, results: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _fsync(f: IO[bytes]) -> None:
    f.flush()
    try:
        os.fsync(f.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # pipes and terminals cannot be synced


class JsonlWriter(ResultWriter):
    takes_encoded = True

    def __init__(self, stream: IO[bytes], path: str, *, own: bool = True) -> None:
        self.f, self.path, self.own, self.notes = stream, path, own, []

    def write(self, results: Sequence[dict[str, Any]]) -> None:
        if results:
            self.f.write(b"".join((r.line if type(r) is EncodedResult else dumps_bytes(r)) + b"\n"
                                  for r in results))
            self.f.flush()

    def close(self) -> None:
        _fsync(self.f)
        if self.own:
            self.f.close()


class CsvWriter(ResultWriter):
    def __init__(self, stream: IO[bytes], path: str, columns: list[str], *, header: bool) -> None:
        self.f, self.path, self.columns, self.notes = stream, path, columns, []
        if header:
            self._emit([columns])

    def _emit(self, rows: list[list[str]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self.f.write(buf.getvalue().encode("utf-8"))
        self.f.flush()

    def write(self, results: Sequence[dict[str, Any]]) -> None:
        if results:
            rows = []
            for r in results:
                flat = flat_row(r)
                rows.append([_cell(flat.get(c)) for c in self.columns])
            self._emit(rows)

    def close(self) -> None:
        _fsync(self.f)
        self.f.close()


def parquet_schema(attrs: Sequence[str]):
    import pyarrow as pa

    types = {"str": pa.string(), "int": pa.int64(), "bigint": pa.decimal128(38, 0), "bool": pa.bool_()}
    return pa.schema([pa.field(n, types[t]) for n, t in _typed_columns(attrs)] + [pa.field("result", pa.string())])


def parquet_rows(results: Sequence[dict[str, Any]], attrs: Sequence[str]) -> dict[str, list[Any]]:
    cols = _typed_columns(attrs)
    data: dict[str, list[Any]] = {n: [] for n, _ in cols}
    data["result"] = []
    for r in results:
        flat = flat_row(r)
        for n, t in cols:
            data[n].append(_coerce(flat.get(n), t))
        data["result"].append(dumps(r))
    return data


class ParquetWriter(ResultWriter):
    """Journal first, Parquet at the end (see the module docstring)."""

    def __init__(self, path: str, attrs: Sequence[str], *, merge_existing: bool) -> None:
        self.path, self.attrs, self.notes = path, list(attrs), []
        self.journal_path = journal_path(path)
        self.merge_existing = merge_existing
        self.journal = JsonlWriter(open(self.journal_path, "ab"), self.journal_path)

    def write(self, results: Sequence[dict[str, Any]]) -> None:
        self.journal.write(results)

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.journal.close()
        if self.merge_existing and os.path.exists(self.path) and os.path.getsize(self.journal_path) == 0:
            os.unlink(self.journal_path)      # nothing new: the existing file stays as it is
            self.notes.append(Note(f"{self.path}: no new rows", f"{self.path}: 新しい行はありません"))
            return
        schema = parquet_schema(self.attrs)
        tmp = self.path + ".tmp"
        rows = 0
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            if self.merge_existing and os.path.exists(self.path):
                pf = pq.ParquetFile(self.path)
                added = older_layout(pf.schema_arrow.names, schema.names)
                if pf.schema_arrow.names != schema.names and not added:
                    raise OutputError(f"{self.path}: the existing Parquet columns differ from this scan's; the "
                                      f"new results stay in {self.journal_path}",
                                      f"{self.path}: 既存の Parquet の列がこの調査と異なります。新しい結果は "
                                      f"{self.journal_path} に残っています")
                for batch in pf.iter_batches(batch_size=ROW_GROUP):
                    table = pa.Table.from_batches([batch])
                    if added:
                        table = _add_columns(table, added, schema, self.attrs)
                    w.write_table(table.cast(schema), row_group_size=ROW_GROUP)
                    rows += batch.num_rows
                if added:
                    cols = ", ".join(added)
                    self.notes.append(Note(f"{self.path}: column {cols} added to the {pf.metadata.num_rows} rows "
                                           "an older version wrote (values from their stored results)",
                                           f"{self.path}: 旧版が書いた {pf.metadata.num_rows} 行に列 {cols} を追加"
                                           "しました (値は保存済みの結果から)"))
            for chunk in _journal_chunks(self.journal_path, ROW_GROUP):
                w.write_table(pa.table(parquet_rows(chunk, self.attrs), schema=schema), row_group_size=ROW_GROUP)
                rows += len(chunk)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path)
        os.unlink(self.journal_path)
        self.notes.append(Note(f"{self.path}: {rows} rows written", f"{self.path}: {rows} 行を書き出しました"))


def _add_columns(table: Any, names: Sequence[str], schema: Any, attrs: Sequence[str]) -> Any:
    """``table`` (rows of an older output) with the columns ``names`` added, derived from each row's ``result``
    JSON as :func:`parquet_rows` would, in the order of ``schema``."""
    import pyarrow as pa

    kinds = dict(_typed_columns(attrs))
    flats: list[dict[str, Any]] = []
    for text in table.column("result").to_pylist():
        try:
            obj = json.loads(text) if text else {}
        except ValueError:
            obj = {}
        flats.append(flat_row(obj) if isinstance(obj, dict) else {})
    for n in names:
        field = schema.field(n)
        table = table.append_column(field, pa.array([_coerce(f.get(n), kinds[n]) for f in flats], type=field.type))
    return table.select(schema.names)


def _journal_chunks(path: str, size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        for b in f:
            if not b.strip():
                continue
            chunk.append(json.loads(b))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _check_parquet_columns(path: str, attrs: Sequence[str]) -> None:
    import pyarrow.parquet as pq

    have = pq.ParquetFile(path).schema_arrow.names
    want = parquet_schema(attrs).names
    if have != want and not older_layout(have, want):
        missing = [c for c in want if c not in have]
        extra = [c for c in have if c not in want]
        raise OutputError(f"{path}: its Parquet columns differ from this scan's (missing: {', '.join(missing) or '-'}; "
                          f"unexpected: {', '.join(extra) or '-'}); resume with the same input columns, or write "
                          "to a new file")


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _torn(path: str, size: int) -> Note:
    return Note(f"{path}: removed a torn last line ({size} bytes); that domain is scanned again",
                f"{path}: 途中で切れた最後の行 ({size} バイト) を取り除きました。そのドメインはもう一度調べます")


def journal_path(path: str) -> str:
    return path + ".journal.jsonl"


# ---------------------------------------------------------------------------------------------------------------
# Opening

def open_output(spec: OutputSpec, attrs: Sequence[str], *, resume: bool = False,
                overwrite: bool = False) -> tuple[ResultWriter, set[str]]:
    """Open the output for writing; returns the writer and the set of domains already written (resume).

    Without ``resume`` or ``overwrite`` an existing non-empty output is refused, so a finished scan is never
    clobbered by accident. Notes (repairs done) are in ``writer.notes``.
    """
    fmt, path = spec.fmt, spec.path
    if not path.lower().endswith((".gz", ".bz2", ".xz", ".zst")):
        check_output_name(spec)
    if path.lower().endswith((".gz", ".bz2", ".xz", ".zst")):
        raise OutputError(f"{path}: compressed output is not supported (it could not be resumed); write "
                          f"{path.rsplit('.', 1)[0]} and compress it when the scan is finished")
    if path == "-":
        if fmt != "jsonl":
            raise OutputError("-o - writes JSON Lines only; use a file name for csv or parquet")
        if resume:
            raise OutputError("--resume needs an output file, not standard output")
        return JsonlWriter(sys.stdout.buffer, "-", own=False), set()
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(f"{path}: the directory {parent} does not exist")
    exists = os.path.exists(path) and os.path.getsize(path) > 0
    jpath = journal_path(path)
    has_journal = fmt == "parquet" and os.path.exists(jpath)
    if (exists or has_journal) and not resume and not overwrite:
        what = path if exists else jpath
        raise OutputError(f"{what} already exists: add --resume to continue that scan or --overwrite to replace it")
    notes: list[str] = []
    try:
        if fmt == "jsonl":
            done: set[str] = set()
            if resume and exists:
                ex = read_jsonl(path)
                done = ex.done
                if ex.repaired_bytes:
                    notes.append(_torn(path, ex.repaired_bytes))
            w: ResultWriter = JsonlWriter(open(path, "ab" if resume else "wb"), path)
        elif fmt == "csv":
            columns = csv_columns(attrs)
            done = set()
            header = True
            if resume and exists:
                ex = read_csv(path, columns)
                done = ex.done
                header = ex.header is None
                if ex.repaired_bytes:
                    notes.append(_torn(path, ex.repaired_bytes))
                if ex.header is not None and ex.header != columns:
                    lacking = ", ".join(c for c in columns if c not in ex.header)
                    columns = ex.header
                    notes.append(Note(f"{path}: written by an older version without the column {lacking}; the new "
                                      "rows keep the file's columns (write a new file to have it)",
                                      f"{path}: 列 {lacking} のない旧版の出力です。追加の行もこのファイルの列のまま"
                                      "書きます (その列が必要なら新しいファイルに書いてください)"))
            w = CsvWriter(open(path, "ab" if resume else "wb"), path, columns, header=header)
        else:
            done = set()
            if overwrite and not resume:
                for p in (path, jpath):
                    if os.path.exists(p):
                        os.unlink(p)
            if resume and exists:
                done |= read_parquet_domains(path)
                _check_parquet_columns(path, attrs)
            if resume and has_journal:
                ex = read_jsonl(jpath)
                done |= ex.done
                if ex.repaired_bytes:
                    notes.append(_torn(jpath, ex.repaired_bytes))
            w = ParquetWriter(path, attrs, merge_existing=resume)
    except PermissionError:
        raise OutputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    w.notes.extend(notes)
    return w, done
