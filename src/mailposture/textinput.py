"""How every user file is decoded: one reader for `scan` inputs and survey lists (`lists`, `survey run`).

Rules (the same for a whole file and for a stream read line by line):

* a UTF-8 byte-order mark is dropped; UTF-16 (its BOM) and ZIP archives (an ``.xlsx`` given as a list) are refused
  with a message saying what to do;
* ``encoding="auto"`` (the default): UTF-8, unless a line is not UTF-8 while every line before it was plain
  ASCII — then the file is Shift_JIS (Windows code page 932, what Excel in Japan saves) from its first byte on,
  since ASCII reads the same in both. A file whose earlier lines were UTF-8 text and whose later line is not is
  refused, naming the line: it mixes encodings and no reading of it is right. A line that decodes as neither (or
  only as CP932 user-defined / control characters, which is what other 8-bit text turns into) is refused;
* an explicit encoding (``utf-8``, ``cp932``, ``euc-jp`` …) is used as given; a UTF-8 failure hints at cp932 when
  that would have worked.

Errors are :class:`TextInputError` with an English and a Japanese message (``text(lang)``), naming the file,
the line, the byte and its column.
"""

from __future__ import annotations

import codecs
import contextlib
import re

AUTO = "auto"
_BOM = b"\xef\xbb\xbf"
# what an 8-bit non-Japanese file decodes to in CP932: user-defined area, C1 controls, lone half-width oddities
_NOT_SJIS_TEXT = re.compile(r"[\ue000-\uf8ff\x80-\x9f]")


class TextInputError(ValueError):
    """A file that cannot be read as text; ``str()`` is English, :meth:`text` gives the user's language."""

    def __init__(self, en: str, ja: str | None = None) -> None:
        super().__init__(en)
        self.en = en
        self.ja = ja or en

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


def check_encoding(encoding: str) -> str:
    """The codec's canonical name (``auto`` stays ``auto``); TextInputError for an unknown one."""
    if encoding.strip().lower() == AUTO:
        return AUTO
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise TextInputError(f"unknown encoding '{encoding}' (try auto, utf-8 or cp932)",
                             f"文字コード '{encoding}' は使えません (auto, utf-8, cp932 のいずれかを指定してください)") \
            from None


class LineDecoder:
    """Decodes the byte lines of one file in order (``decode(line_bytes, line_number)``); see the module rules.

    ``encoding`` is the codec in use once known: ``utf-8`` while only ASCII/UTF-8 has been seen, ``cp932`` after
    the automatic switch."""

    def __init__(self, label: str, encoding: str = AUTO, *, option: str = "--encoding") -> None:
        self.label = label
        self.auto = check_encoding(encoding) == AUTO
        self.encoding = "utf-8" if self.auto else check_encoding(encoding)
        self.option = option
        self._non_ascii = False      # a non-ASCII line has been decoded already (as self.encoding)

    def decode(self, b: bytes, line: int) -> str:
        if line == 1:
            b = self._first_line(b)
        if b.isascii():
            return b.decode("ascii")
        try:
            text = b.decode(self.encoding)
        except UnicodeDecodeError as exc:
            return self._undecodable(b, line, exc)
        self._non_ascii = True
        return text

    def _first_line(self, b: bytes) -> bytes:
        if b.startswith(_BOM) and self.encoding in ("utf-8", "utf-8-sig"):
            return b[3:]
        if b.startswith((b"\xff\xfe", b"\xfe\xff")) and not self.encoding.startswith("utf-16"):
            raise TextInputError(f"{self.label}: the file is UTF-16; save it as UTF-8",
                                 f"{self.label}: UTF-16 のファイルです。UTF-8 で保存し直してください")
        if b.startswith(b"PK\x03\x04"):
            raise TextInputError(f"{self.label}: this is a ZIP archive (an Excel .xlsx file?); export the sheet as "
                                 "CSV (UTF-8) or unzip it first",
                                 f"{self.label}: ZIP 形式のファイルです (Excel の .xlsx?)。シートを CSV (UTF-8) で"
                                 "書き出すか、展開してから指定してください")
        return b

    def _undecodable(self, b: bytes, line: int, exc: UnicodeDecodeError) -> str:
        where_en = f"line {line}"
        where_ja = f"{line} 行目"
        byte = f"0x{b[exc.start]:02x}"
        sjis = _as_sjis(b)
        if self.auto and not self._non_ascii and sjis is not None:
            self.encoding = "cp932"          # every earlier line was ASCII: the same text in Shift_JIS
            self._non_ascii = True
            return sjis
        if self.auto and sjis is not None:
            raise TextInputError(
                f"{self.label}: {where_en} is Shift_JIS (cp932) but earlier lines are UTF-8: the file mixes "
                f"encodings (byte {byte} at column {exc.start + 1}); save it again in one encoding (UTF-8)",
                f"{self.label}: {where_ja}は Shift_JIS (cp932) ですが、それより前の行は UTF-8 です。文字コードが"
                f"混在しています ({exc.start + 1} 桁目のバイト {byte})。UTF-8 に統一して保存し直してください")
        if self.auto:
            raise TextInputError(
                f"{self.label}: {where_en} is neither UTF-8 nor Shift_JIS (byte {byte} at column "
                f"{exc.start + 1}); save the file as UTF-8, or name its encoding with {self.option}",
                f"{self.label}: {where_ja}は UTF-8 でも Shift_JIS でもありません ({exc.start + 1} 桁目のバイト "
                f"{byte})。UTF-8 で保存し直すか、{self.option} で文字コードを指定してください")
        shown = "UTF-8" if self.encoding == "utf-8" else self.encoding
        hint_en, hint_ja = "save the file as UTF-8", "UTF-8 で保存し直してください"
        if self.encoding == "utf-8" and sjis is not None:
            hint_en = f"it looks like Shift_JIS: use {self.option} cp932 (or auto), or save the file as UTF-8"
            hint_ja = f"Shift_JIS のようです。{self.option} cp932 (または auto) を指定するか、UTF-8 で保存し直してください"
        raise TextInputError(
            f"{self.label}: {where_en} is not {shown} (byte {byte} at column {exc.start + 1}); {hint_en}",
            f"{self.label}: {where_ja}は {shown} ではありません ({exc.start + 1} 桁目のバイト {byte})。{hint_ja}")


def _as_sjis(b: bytes) -> str | None:
    """The line as Shift_JIS text, or None when it is not (undecodable, or only 8-bit noise in CP932)."""
    with contextlib.suppress(UnicodeDecodeError):
        text = b.decode("cp932")
        if not _NOT_SJIS_TEXT.search(text):
            return text
    return None


def decode_text(data: bytes, label: str, encoding: str = AUTO) -> str:
    """A whole file's text by the same rules as a stream (line ends kept)."""
    dec = LineDecoder(label, encoding)
    return "".join(dec.decode(line, i) for i, line in enumerate(data.splitlines(keepends=True), 1))
