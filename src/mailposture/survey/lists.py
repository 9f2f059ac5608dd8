"""Survey lists: a CSV with a ``domain`` column and any attribute columns (region, prefecture, sector, …).

One row is one *body* (a local government, a company …). A body may have several domains: its website domain in
``domain`` and, optionally, space-separated ``mail_domains``. Bundled lists live in ``mailposture/data``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# The consortium's 8 regions, north to south (its publications use this order).
REGIONS_JA = ("北海道", "東北", "関東", "中部", "近畿", "中国", "四国", "九州沖縄")
REGIONS_EN = {"北海道": "Hokkaido", "東北": "Tohoku", "関東": "Kanto", "中部": "Chubu", "近畿": "Kinki",
              "中国": "Chugoku", "四国": "Shikoku", "九州沖縄": "Kyushu-Okinawa"}

# The 47 prefectures in JIS X 0401 code order (01 北海道 … 47 沖縄県).
PREFECTURES_JIS = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県",
    "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県",
    "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県",
    "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県",
    "宮崎県", "鹿児島県", "沖縄県",
)

# ---------------------------------------------------------------------------------------------------------------
# Derived columns: computed from a list's own data, so ``--by`` can use them on any round (documented in
# docs/survey.md and data/jp_localgov/PROVENANCE.md).

KIND_ORDER = ("都道府県", "市", "特別区", "町", "村")
KIND_EN = {"都道府県": "prefecture", "市": "city", "特別区": "special ward", "町": "town", "村": "village"}


def localgov_kind(code: str, name: str) -> str:
    """都道府県 / 市 / 特別区 / 町 / 村 of a local government from its 全国地方公共団体コード (6 digits: JIS X 0401
    prefecture, JIS X 0402 municipality, check digit) and its official name; "" when they do not say.

    Digits 3-5: ``000`` a prefecture; ``100``-``199`` a designated city (政令指定都市: ``100``, ``130``, ``150`` …;
    the codes between are its wards, which are not bodies of their own) and ``201``-``299`` the other cities (市);
    in Tokyo (13) ``101``-``199`` are the 23 special wards (特別区);
    ``300`` and above a town or village in a district (郡), told apart by the last character of the official name
    (町 is read まち or ちょう, 村 むら or そん — the name, not the reading, decides). The name must agree."""
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        return ""
    pref, muni = code[:2], int(code[2:5])
    last = (name or "").strip()[-1:]
    if muni == 0:
        return "都道府県" if last in ("都", "道", "府", "県") else ""
    if pref == "13" and 101 <= muni <= 199:
        return "特別区" if last == "区" else ""
    if 100 <= muni <= 299:
        return "市" if last == "市" else ""
    if muni >= 300 and last in ("町", "村"):
        return last
    return ""


# Second-level labels of .jp (JPRS): the nine organizational types, and the geographic type's labels (the 47
# prefectures and the 7 designated cities that have their own label) — the same names as the ICANN section of
# the Public Suffix List. Any other second-level label is a general-use name (汎用 JP, example.jp).
JP_TYPES = ("co", "ac", "go", "lg", "ne", "or", "ed", "gr", "ad")
JP_GEOGRAPHIC = frozenset((
    "hokkaido aomori iwate miyagi akita yamagata fukushima ibaraki tochigi gunma saitama chiba tokyo kanagawa "
    "niigata toyama ishikawa fukui yamanashi nagano gifu shizuoka aichi mie shiga kyoto osaka hyogo nara "
    "wakayama tottori shimane okayama hiroshima yamaguchi tokushima kagawa ehime kochi fukuoka saga nagasaki "
    "kumamoto oita miyazaki kagoshima okinawa "
    "sapporo sendai yokohama kawasaki nagoya kobe kitakyushu").split())
JP_TYPE_ORDER = (*JP_TYPES, "geographic", "general-use", "non-jp")
JP_TYPE_LABELS = {
    "co": ("co (企業)", "co (companies)"), "ac": ("ac (大学など)", "ac (universities)"),
    "go": ("go (政府機関)", "go (government)"), "lg": ("lg (地方公共団体)", "lg (local governments)"),
    "ne": ("ne (ネットワークサービス)", "ne (network services)"), "or": ("or (団体)", "or (organizations)"),
    "ed": ("ed (学校)", "ed (schools)"), "gr": ("gr (任意団体)", "gr (groups)"),
    "ad": ("ad (JPNIC 会員)", "ad (JPNIC members)"), "geographic": ("地域型 JP", "geographic"),
    "general-use": ("汎用 JP", "general-use"), "non-jp": (".jp 以外", "not .jp"),
}
JP_TYPE_COLUMN = "jp-type"


def jp_type(domain: str) -> str:
    """The second-level type of a .jp name: ``co`` … ``ad``, ``geographic``, ``general-use``; ``non-jp`` otherwise."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) < 2 or labels[-1] != "jp":
        return "non-jp"
    sld = labels[-2]
    if sld in JP_TYPES:
        return sld
    return "geographic" if sld in JP_GEOGRAPHIC else "general-use"


def value_label(column: str, value: str, lang: str) -> str:
    """A group value as shown to readers (the value itself stays the key in JSON)."""
    col = column.lower()
    if col == JP_TYPE_COLUMN and value in JP_TYPE_LABELS:
        return JP_TYPE_LABELS[value][0 if lang == "ja" else 1]
    if lang == "en":
        if col == "region":
            return REGIONS_EN.get(value, value)
        if col == "kind":
            return KIND_EN.get(value, value)
    return value


def add_derived(columns: list[str], bodies: list[Body]) -> None:
    """Add the derived columns a list does not have itself: ``kind`` (from a ``code`` column of local-government
    codes and ``name``) and ``jp-type`` (from the primary domain, when any domain of the list is under .jp)."""
    lower = {c.lower() for c in columns}
    if "kind" not in lower and "code" in lower and "name" in lower and bodies:
        ccol = next(c for c in columns if c.lower() == "code")
        ncol = next(c for c in columns if c.lower() == "name")
        kinds = [localgov_kind(b.attrs.get(ccol, ""), b.attrs.get(ncol, "")) for b in bodies]
        if all(kinds):
            for b, k in zip(bodies, kinds, strict=True):
                b.attrs["kind"] = k
    if JP_TYPE_COLUMN not in lower and any(d.endswith(".jp") for b in bodies for d in b.domains()):
        for b in bodies:
            b.attrs[JP_TYPE_COLUMN] = jp_type(b.domain)


BUNDLED: dict[str, tuple[str, str]] = {
    # name: (path inside mailposture/data, description)
    "jp-localgov": ("jp_localgov/jp_localgov.csv",
                    "Japan's 1,788 local governments (47 prefectures + 1,741 municipalities), "
                    "consortium regions and prefecture / 全国の地方公共団体 1,788 団体"),
}

MAX_BYTES = 512 * 1024 * 1024


class ListError(ValueError):
    """A list that cannot be used, with a message naming the problem (file, line, column)."""


@dataclass(slots=True)
class Body:
    index: int                     # 0-based row number (stable id of the body within the list)
    domain: str                    # the primary domain (``domain`` column)
    mail_domains: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)

    def domains(self, count: str = "any") -> list[str]:
        """The domains that decide this body's result: all of them (``any``) or the primary one."""
        if count == "primary":
            return [self.domain]
        out = [self.domain]
        out.extend(d for d in self.mail_domains if d not in out)
        return out


@dataclass(slots=True)
class SurveyList:
    name: str
    columns: list[str]             # attribute columns (everything but domain and mail_domains), in file order
    bodies: list[Body]
    sha256: str
    text: str                      # the CSV text, kept with a round so reports never depend on the file later

    def all_domains(self) -> list[str]:
        seen: dict[str, None] = {}
        for b in self.bodies:
            for d in b.domains("any"):
                seen.setdefault(d, None)
        return list(seen)


def normalize_domain(raw: str) -> str:
    """Lower-case A-label form (the scanner's rules, :func:`mailposture.scan.inputs.normalize_domain`);
    raise ValueError naming the problem."""
    from mailposture.scan.inputs import normalize_domain as scan_normalize

    text = raw.strip()
    if text.lower().startswith(("http://", "https://")) or "/" in text or "@" in text:
        raise ValueError("a domain name is expected, not a URL or an address")
    name, reason = scan_normalize(text)
    if name is None:
        raise ValueError(reason or "not a domain name")
    return name


def bundled_path(name: str):
    rel, _ = BUNDLED[name]
    return resources.files("mailposture").joinpath("data", *rel.split("/"))


def bundled_lists() -> list[dict[str, object]]:
    out = []
    for name, (_, desc) in BUNDLED.items():
        lst = load_list(name)
        out.append({"name": name, "bodies": len(lst.bodies), "domains": len(lst.all_domains()),
                    "columns": lst.columns, "description": desc})
    return out


def load_list(spec: str | Path) -> SurveyList:
    """A bundled list by name (``jp-localgov``) or a CSV file path."""
    if isinstance(spec, str) and spec in BUNDLED:
        data = bundled_path(spec).read_bytes()
        return parse_list(data, spec)
    path = Path(spec)
    if not path.exists():
        known = ", ".join(BUNDLED)
        raise ListError(f"{spec}: no such file and no bundled list of that name (bundled: {known})")
    if path.is_dir():
        raise ListError(f"{spec}: is a directory, a CSV file is expected")
    if path.stat().st_size > MAX_BYTES:
        raise ListError(f"{spec}: larger than {MAX_BYTES // 2**20} MiB")
    return parse_list(path.read_bytes(), path.stem)


def parse_list(data: bytes, name: str) -> SurveyList:
    """Parse CSV bytes, decoded as every input is (:mod:`mailposture.textinput`: UTF-8 with or without BOM, or
    Shift_JIS as Excel in Japan saves it). Every problem names the line."""
    from mailposture.textinput import TextInputError, decode_text

    try:
        text = decode_text(data, name)
    except TextInputError as exc:
        raise ListError(str(exc)) from None
    if "\x00" in text:
        raise ListError(f"{name}: contains NUL bytes; not a CSV text file")
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", "\t", ";") if d in first), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ListError(f"{name}: empty file; a header line with a 'domain' column is expected") from None
    except csv.Error as exc:
        raise ListError(f"{name}: line 1: {exc}") from None
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    if "domain" not in lower:
        raise ListError(f"{name}: no 'domain' column in the header ({', '.join(header) or 'empty'})")
    dups = sorted({h for h in lower if h and lower.count(h) > 1})
    if dups:
        raise ListError(f"{name}: duplicate column(s) in the header: {', '.join(dups)}")
    i_dom = lower.index("domain")
    i_mail = lower.index("mail_domains") if "mail_domains" in lower else None
    attr_idx = [(i, h) for i, h in enumerate(header) if i not in (i_dom, i_mail) and h]
    bodies: list[Body] = []
    problems: list[str] = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) > len(header):
                problems.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
                continue
            row = row + [""] * (len(header) - len(row))
            try:
                dom = normalize_domain(row[i_dom])
            except ValueError as exc:
                problems.append(f"line {line}: domain '{row[i_dom].strip()}': {exc}")
                continue
            mail: list[str] = []
            if i_mail is not None:
                for raw in row[i_mail].replace(",", " ").split():
                    try:
                        m = normalize_domain(raw)
                    except ValueError as exc:
                        problems.append(f"line {line}: mail_domains '{raw}': {exc}")
                        continue
                    if m != dom and m not in mail:
                        mail.append(m)
            attrs = {h: row[i].strip() for i, h in attr_idx}
            bodies.append(Body(len(bodies), dom, mail, attrs))
    except csv.Error as exc:
        raise ListError(f"{name}: line {reader.line_num}: {exc}") from None
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ListError(f"{name}: {len(problems)} bad row(s): " + "; ".join(problems[:10]) + more)
    if not bodies:
        raise ListError(f"{name}: no rows after the header")
    add_derived([h for _, h in attr_idx], bodies)
    return SurveyList(name=name, columns=[h for _, h in attr_idx], bodies=bodies,
                      sha256=hashlib.sha256(data).hexdigest(), text=text)


def group_sort_key(column: str, bodies: list[Body] | None = None):
    """Sort key for group values: consortium order for regions, JIS code order for prefectures, else by name.

    For ``prefecture`` a ``code`` attribute (全国地方公共団体コード, first two digits = JIS X 0401) wins when present.
    """
    col = column.lower()
    if col == "region":
        order = {r: i for i, r in enumerate(REGIONS_JA)}
        order.update({en: i for i, en in enumerate(REGIONS_EN.values())})
        return lambda v: (order.get(v, len(order)), v)
    if col in ("prefecture", "pref", "都道府県"):
        order = {p: i for i, p in enumerate(PREFECTURES_JIS)}
        if bodies:
            for b in bodies:
                code = b.attrs.get("code", "")
                pref = b.attrs.get(column, "")
                if len(code) >= 2 and code[:2].isdigit() and pref and pref not in order:
                    order[pref] = int(code[:2]) - 1
        return lambda v: (order.get(v, 99), v)
    if col in ("kind", JP_TYPE_COLUMN):
        seq = KIND_ORDER if col == "kind" else JP_TYPE_ORDER
        pos = {k: i for i, k in enumerate(seq)}
        return lambda v: (pos.get(v, len(pos)), v == "", v)
    return lambda v: (v == "", v)
