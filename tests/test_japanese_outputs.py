"""Japanese outputs carry no English left over: every user-visible text rendered in ja is checked word by word.

Each output is one function registered with ``@output("name")`` returning the text a Japanese user sees (CLI
messages, finding messages, `check` text, report headers, xlsx sheet and column names, web pages). To cover a new
command or report, add one such function; words that are names of protocols, DNS record types, tags or values
defined by an RFC (``reject``, ``permerror``) may stay as they are and are listed in ALLOWED.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

OUTPUTS: dict[str, Callable[..., str]] = {}


def output(name: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    def register(fn: Callable[..., str]) -> Callable[..., str]:
        OUTPUTS[name] = fn
        return fn
    return register


# Words that are the same in a Japanese text: protocol and product names, RFC-defined values, units.
ALLOWED = {
    # protocols, formats, record types (written in lower or mixed case somewhere)
    "spf", "dmarc", "dkim", "bimi", "mx", "mta-sts", "tls-rpt", "dns", "dnssec", "rfc", "ipv", "ip", "https", "http",
    "url", "uri", "csv", "json", "jsonl", "parquet", "xlsx", "html", "png", "md", "txt", "cname", "aaaa", "ptr",
    "soa", "ns", "tls", "smtp", "utf", "shift_jis", "excel", "unicode", "idn", "punycode", "svg", "vmc", "pem",
    "ttl", "psl", "mailto", "postfix", "dovecot", "toml", "mailposture", "sqlite", "postgresql", "dask", "gzip",
    "whois", "bcp", "ascii", "ldh", "ra", "ad", "ok", "id", "iptocc", "maxmind", "english",
    # values and keywords defined by the RFCs (shown as written in records)
    "none", "quarantine", "reject", "pass", "fail", "softfail", "neutral", "permerror", "temperror", "all",
    "include", "redirect", "exp", "exists", "ip4", "ip6", "rua", "ruf", "pct", "adkim", "aspf", "sp", "np",
    "fo", "rf", "ri", "psd", "testing", "enforce", "v", "p", "t", "d", "s", "r", "null", "mailbox",
    "void", "lookup", "email", "mode", "max_age", "a",  # RFC 7208 §4.6.4 "void lookup", DKIM s=email, MTA-STS mode
    # proper names of specifications and their syntax (SVG Tiny PS, the DKIM key type)
    "domainkeys", "identified", "tiny", "viewbox", "rsa", "ed25519", "sha256",
    # units
    "ms", "kib", "mib", "gib",
    # header fields and terms of messages (RFC 5322, RFC 8617 "oldest-pass"), the mailbox file format
    "from", "received", "mbox", "oldest-pass",
}

# records, names, paths, options, codes, numbers, identifiers like draft-brand-indicators-for-…
CODE_CHUNK = re.compile(r"[=:/@_%<>{}\\#~+|$]|\.\w|\d|^-|--\w|\w-\w+-\w")
WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")


def english_left(text: str) -> list[str]:
    """English words in a Japanese text, other than names, codes, record text and ALLOWED words."""
    hits: list[str] = []
    text = re.sub(r"\bmailposture [^\n]*", " ", text)     # a command line to type is not prose
    for chunk in text.split():
        if CODE_CHUNK.search(chunk):
            continue
        for w in WORD.findall(chunk):
            if len(w) < 2 or w.isupper() or w.lower() in ALLOWED:
                continue
            hits.append(w)
    return hits


DOUBLED = re.compile(r"(?<!\S)(\S*[\u3040-\u30ff\u4e00-\u9fff%]\S*) \1(?!\S)")


def doubled_words(text: str) -> list[str]:
    """A word written twice in a row (「ドメイン数 数」 was 「ドメイン数」 plus 「数」, 「(%) (%)」)."""
    return [m.group(0) for line in text.splitlines() for m in DOUBLED.finditer(line)]


def test_the_detector():
    assert doubled_words("ドメイン数 (%) (%)\nSPF 率") == ["(%) (%)"]
    assert english_left("判定 sending / 状態 ok / 取得元 domain") == ["sending", "domain"]
    assert english_left("SPF レコード v=spf1 -all は正しい。p=reject、example.jp、SPF_INCLUDE_LOOP") == []
    assert english_left("MX ホストが receives") == ["receives"]
    assert english_left("重大度 warning") == ["warning"]


# ---------------------------------------------------------------------------------------------------------------
# the outputs

WORLD = {
    "good.test": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all"), ("MX", (10, "mx10.good.test")),
                  ("MX", (10, "mx2.good.test"))],
    "mx10.good.test": [("A", "192.0.2.25")],
    "mx2.good.test": [("A", "192.0.2.26")],
    "_dmarc.good.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:d@good.test")],
    "weak.test": [("TXT", "v=spf1 +all"), ("MX", (10, "mx.weak.test"))],
    "mx.weak.test": [("A", "192.0.2.27")],
    "_dmarc.weak.test": [("TXT", "v=DMARC1; p=none; pct=50")],
    "broken.test": [("TIMEOUT", None)],
    "_dmarc.broken.test": [("TXT", "v=DMARC1; p=reject")],
    "parked.test": [("TXT", "v=spf1 -all"), ("MX", (0, "."))],
    "_dmarc.parked.test": [("TXT", "v=DMARC1; p=reject")],
    "sub.org.test": [("MX", (10, "mx.weak.test"))],
    "_dmarc.org.test": [("TXT", "v=DMARC1; p=quarantine")],
}
DOMAINS = ("good.test", "weak.test", "broken.test", "parked.test", "sub.org.test", "absent.test")


def check_results(sections=None) -> list[dict]:
    from mailposture.checks.domain import CheckOptions, check_domain
    from mailposture.dns.fake import FakeResolver

    opts = CheckOptions.everything() if sections is None else CheckOptions(sections=sections, mx_resolve_hosts=True)

    async def go() -> list[dict]:
        r = FakeResolver(WORLD)
        return [await check_domain(d, r, lang="ja", options=opts) for d in DOMAINS]

    return asyncio.run(go())


@output("check text")
def check_text() -> str:
    from rich.console import Console

    from mailposture.checks.text import render

    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None)
    for res in check_results():
        render(res, "ja", console)
    return buf.getvalue()


@output("finding messages and fixes")
def finding_texts() -> str:
    from mailposture.findings import CATALOG

    # placeholders ({name}) are filled with data: their names are not text
    return "\n".join(re.sub(r"\{[a-z_0-9]+\}", "{}", f"{d.ja}\n{d.fix_ja or ''}") for d in CATALOG.values())


@output("findings command")
def findings_cmd() -> str:
    from mailposture.cli import app

    r = CliRunner().invoke(app, ["findings", "--lang", "ja", "--format", "md"], env={"COLUMNS": "200"})
    head = r.output.splitlines()[0]
    r2 = CliRunner().invoke(app, ["findings", "SPF_", "--lang", "ja"], env={"COLUMNS": "200"})
    return head + "\n" + r2.output.splitlines()[1]


@output("spf parse and dmarc parse")
def record_parsers() -> str:
    from mailposture.cli import app

    runner = CliRunner(env={"COLUMNS": "120"})
    out = []
    for args in (["spf", "parse", "v=spf1 ip4:192.0.2.0/24 include:_spf.example.jp ?all", "v=spf1 +all mx"],
                 ["dmarc", "parse", "v=DMARC1; p=none; pct=50; rua=mailto:d@example.jp", "v=DMARC1; p=9",
                  "v=DMARC1; sp=reject"]):
        r = runner.invoke(app, [*args, "--lang", "ja"])
        out.append(r.output)
    return "\n".join(out)


@output("spf eval trace")
def spf_eval_trace(monkeypatch) -> str:
    from mailposture.cli import app
    from test_spf_cli import TRACE_CASES, TRACE_WORLD, _Engine

    monkeypatch.setattr("mailposture.cliopts.DnsOptions.engine", lambda self: _Engine(TRACE_WORLD))
    runner = CliRunner(env={"COLUMNS": "200"})
    out = []
    for domain, ip in TRACE_CASES:
        r = runner.invoke(app, ["spf", "eval", domain, "--ip", ip, "--lang", "ja"])
        assert r.exit_code == 0 and "評価手順:" in r.output, r.output
        out.append(r.output.replace("is not permitted", ""))   # the domain's own exp= text (RFC 7208 §6.2: ASCII)
    return "\n".join(out)


def test_spf_syntax_reasons_in_japanese():
    from mailposture.cli import app

    for rec in ("v=spf1 +all x9", "v=spf1 ip4:300.1.1.1 ip6:1::/200 a/33 include ptr/2 all:x =x ~redirect=a.jp",
                "v=spf1 exists:%{z}.jp exists:%{ir.jp exists:%a exists:%{i0}.jp redirect=x redirect=y",
                "v=spf1 mx:example.123 include:%{l}\x01.jp"):
        r = CliRunner().invoke(app, ["spf", "parse", rec, "--lang", "ja"])
        assert not english_left(r.output), (rec, english_left(r.output), r.output)


@output("check CLI errors")
def check_cli_errors(tmp_path: Path) -> str:
    from mailposture.cli import app

    runner = CliRunner()
    out = []
    for bad in ("exa mple.jp", "-x-.jp", "192.0.2.1", "a..b.jp", "a_b.jp"):
        r = runner.invoke(app, ["check", "--lang", "ja", "--", bad])
        assert r.exit_code == 2, r.output
        out.append(r.output.replace(bad, ""))
    for args in (["check", "-n", "300.1.2.3", "example.jp"], ["check", "--dkim-selectors", str(tmp_path / "x"),
                                                               "example.jp"], ["findings", "ZZZ_"]):
        r = runner.invoke(app, [*args, "--lang", "ja"])
        assert r.exit_code == 2, r.output
        out.append(r.output.replace(str(tmp_path), ""))
    return "\n".join(out)


@output("scan messages")
def scan_messages(tmp_path: Path) -> str:
    from mailposture.cli import app
    from mailposture.scan.runner import ScanSummary

    runner = CliRunner()
    out = []
    src = tmp_path / "in.txt"
    for content, args in ((None, []), ("a.example\n", ["-o", str(tmp_path / "o.xlsx")]),
                          (b"a.example\n\xff\xfe\n", []), ("a.example\n", ["--column", "名称"])):
        if content is not None:
            src.write_bytes(content if isinstance(content, bytes) else content.encode())
        r = runner.invoke(app, ["scan", str(src), "--lang", "ja", "-n", "127.0.0.1:9", *args])
        assert r.exit_code == 2, r.output
        out.append(r.output.replace(str(tmp_path), ""))
    for args in (["--checks", "spf,nope"], ["--resume", "--overwrite", "-o", str(tmp_path / "r.jsonl")],
                 ["--ca-file", str(tmp_path / "none.pem")]):
        r = runner.invoke(app, ["scan", str(src), "--lang", "ja", *args])
        assert r.exit_code == 2, r.output
        out.append(r.output.replace(str(tmp_path), "").replace("nope", ""))
    s = ScanSummary()
    s.written, s.errors, s.invalid, s.elapsed = 10, 1, 2, 3.0
    out.append(s.to_text("ja"))
    return "\n".join(out)


@pytest.fixture(scope="module")
def demo_round(tmp_path_factory):
    from mailposture.survey.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    res = run_demo(out, n_bodies=40, seed=3, lang="ja")
    return out, res


DATA_NAMES = ("demo-fictitious", "demo")   # the demo's list and round names: identifiers, not text


def _report(demo_round, fmt: str, by: str | None = "region") -> bytes:
    from mailposture.survey.catalog import Catalog
    from mailposture.survey.reporting import build_report, render, report_meta

    out, _ = demo_round
    cat = Catalog(out / "data")
    info, rep = build_report(cat, None, by, "any", "ja", with_bodies=fmt == "xlsx")
    data = render(rep, report_meta(info, None), fmt, "ja")
    if fmt == "xlsx":
        return data
    text = data.decode("utf-8-sig")
    for name in DATA_NAMES:
        text = text.replace(name, "")
    return text.encode()


def _html_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r'(?s)<[^>]+\b(title|alt|aria-label|placeholder)="([^"]*)"[^>]*>', r" \2 ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    import html as h

    return h.unescape(text)


@output("demo summary")
def demo_summary(demo_round) -> str:
    return demo_round[1]["summary"]


@output("survey report md")
def report_md(demo_round) -> str:
    return _report(demo_round, "md").decode() + _report(demo_round, "md", None).decode()


@output("survey report csv")
def report_csv(demo_round) -> str:
    # the header row holds the stable machine column names (spf_rate …) a spreadsheet or script reads: data keys
    return "\n".join(_report(demo_round, "csv").decode().replace(",", " ").splitlines()[1:])


@output("survey report html")
def report_html(demo_round) -> str:
    return _html_text(_report(demo_round, "html").decode())


@output("survey report xlsx: sheet names and cells")
def report_xlsx(demo_round) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(_report(demo_round, "xlsx")))
    lines = []
    for ws in wb.worksheets:
        lines.append(ws.title)
        for row in ws.iter_rows(values_only=True):
            lines.extend(str(v) for v in row if isinstance(v, str))
    text = "\n".join(lines)
    for name in DATA_NAMES:
        text = text.replace(name, "")
    return text


JA_LOCALE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "ja_JP.UTF-8", "COLUMNS": "200"}


def _ja_run(args: list[str], code: int, env: dict[str, str] | None = None, strip: tuple[str, ...] = ()) -> str:
    """Run a command in Japanese (``--lang ja`` in args, or the ja locale); the exit code is checked, and no
    English prefix is left (the detector skips words ending in ':', so "error:" is checked here). The CSV column
    name ``domain`` and the bundled list's name are identifiers the user types: they are left out."""
    from mailposture.cli import app

    r = CliRunner().invoke(app, args, env={**JA_LOCALE, **(env or {})})
    assert r.exit_code == code, (args, r.output)
    for english in ("error:", "warning:", "wrote ", "report:", "interrupted", "more rows"):
        assert english not in r.output, (args, r.output)
    text = r.output
    for s in strip:
        text = text.replace(s, "")
    return re.sub(r"\b(domain|jp-localgov)\b", "", text)   # the column users must write; the bundled list name


def _bad_list(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


@output("lists and survey errors")
def survey_errors(tmp_path: Path) -> str:
    empty = str(tmp_path / "nothing")
    out = []
    bad_rows = "domain,mail_domains\nhttps://a.example/,b.example\n192.0.2.1,\nok.example,x..y\n"
    for spec in (_bad_list(tmp_path, "nodomain.csv", "名称,地域\nA,B\n"),
                 _bad_list(tmp_path, "dup.csv", "domain,Domain\na.example,b.example\n"),
                 _bad_list(tmp_path, "rows.csv", bad_rows),
                 _bad_list(tmp_path, "header.csv", "domain\n"),
                 _bad_list(tmp_path, "empty.csv", ""),
                 str(tmp_path / "missing.csv"), str(tmp_path)):
        out.append(_ja_run(["survey", "run", spec, "--round", "r1", "--lang", "ja", "--data-dir", empty, "-q"], 2,
                           strip=(str(tmp_path),)))
    ok = _bad_list(tmp_path, "ok.csv", "domain\na.example\n")
    for args in (["survey", "run", ok, "--round", "a b!", "--lang", "ja", "--data-dir", empty],
                 ["survey", "run", ok, "--round", "r1", "--lang", "ja", "-n", "300.1.2.3", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--format", "doc", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--count", "some", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--table", "nope", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--table", "bodies", "--by", "region", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--table", "bodies", "--format", "md", "--data-dir", empty],
                 ["survey", "report", "--lang", "ja", "--size", "big", "--data-dir", empty],
                 ["survey", "recompute", "--round", "r1", "--lang", "ja", "--data-dir", empty],
                 ["survey", "trend", "--lang", "ja", "--metric", "nope", "--data-dir", empty],
                 ["survey", "trend", "--lang", "ja", "--format", "doc", "--data-dir", empty],
                 ["survey", "trend", "--lang", "ja", "--data-dir", empty],
                 ["survey", "diff", "a", "b", "--lang", "ja", "--format", "doc", "--data-dir", empty],
                 ["survey", "diff", "a", "b", "--lang", "ja", "--count", "some", "--data-dir", empty],
                 ["survey", "diff", "a", "b", "--lang", "ja", "--data-dir", empty],
                 ["survey", "rounds", "--data-dir", empty],                              # the ja locale
                 ["lists", "show", str(tmp_path / "missing.csv")],
                 ["lists", "show", ok, "--format", "doc"]):
        text = _ja_run(args, 2, strip=(str(tmp_path),))
        assert text.strip().startswith("エラー: "), (args, text)
        out.append(text)
    return "\n".join(out)


@output("survey and lists messages")
def survey_messages(demo_round, tmp_path: Path) -> str:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_round[0] / "data", data)
    d = str(data)
    strip = (str(tmp_path), *DATA_NAMES)
    from mailposture.survey.catalog import Catalog
    from mailposture.survey.lists import load_list
    from mailposture.survey.rounds import load_round_list

    cat = Catalog(data)
    columns = ", ".join(load_round_list(cat, cat.latest()).columns)
    out = [
        _ja_run(["survey", "recompute", "--round", "demo", "--lang", "ja", "--data-dir", d, "-q"], 0, strip=strip),
        _ja_run(["survey", "report", "--lang", "ja", "-f", "html", "-o", str(tmp_path / "r.html"),
                 "--data-dir", d], 0, strip=strip),
        _ja_run(["survey", "report", "--lang", "ja", "-f", "html", "-o", str(tmp_path / "no" / "r.html"),
                 "--data-dir", d], 2, strip=strip),
        _ja_run(["survey", "run", "jp-localgov", "--round", "demo", "--lang", "ja", "--data-dir", d], 2,
                strip=strip),
        _ja_run(["survey", "trend", "--by", "区分", "--lang", "ja", "--data-dir", d], 2,
                strip=(*strip, columns)),                                       # the list's column names: data
        _ja_run(["survey", "trend", "--format", "doc", "--lang", "ja", "--data-dir", d], 2, strip=strip),
        _ja_run(["survey", "report", "--by", "区分", "--lang", "ja", "--data-dir", d], 2, strip=(*strip, columns)),
        _ja_run(["survey", "report", "--by", "区分", "-t", "spf-all", "--lang", "ja", "--data-dir", d], 2,
                strip=(*strip, columns)),
        _ja_run(["survey", "diff", "demo", "r2", "--lang", "ja", "--data-dir", d], 2, strip=strip),
        _ja_run(["survey", "rounds", "--data-dir", d], 0, strip=strip),                  # the ja locale
        _ja_run(["lists"], 0, strip=(" ".join(load_list("jp-localgov").columns),)),   # column names: data
        _ja_run(["lists", "show", "jp-localgov", "--limit", "2"], 0).splitlines()[-1],  # rows are data
    ]
    assert "書き出しました" in out[1] and "完了" in out[-3] and "ほか" in out[-1], out
    return "\n".join(out)


@output("web pages")
def web_pages(tmp_path: Path) -> str:
    from test_web_common import ADMIN, ADMIN_PW, OWNER, OWNER_PW, login, make_cfg, make_client

    cfg = make_cfg(tmp_path, 9)
    client, _store, _clock = make_client(cfg)
    pages = []
    with client:
        pages.append(client.get("/abroad/login").text)
        pages.append(client.get("/nope").text)
        login(client, OWNER, OWNER_PW)
        pages.append(client.get("/abroad").text)
        login(client, ADMIN, ADMIN_PW, realm="admin")
        pages.append(client.get("/admin").text)
        pages.append(client.get(f"/admin/user/{OWNER}").text)
    return "\n".join(_html_text(p).replace(ADMIN, "") for p in pages)


# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_no_english_left_in_japanese_output(name, request, tmp_path):
    fn = OUTPUTS[name]
    kwargs = {}
    for arg in fn.__code__.co_varnames[:fn.__code__.co_argcount]:
        kwargs[arg] = tmp_path if arg == "tmp_path" else request.getfixturevalue(arg)
    text = fn(**kwargs)
    assert text.strip(), f"{name}: rendered nothing"
    left = english_left(text)
    assert not left, f"{name}: English left in the Japanese output: {sorted(set(left))}"
    if "html" not in name:          # an HTML table's adjacent cells may hold the same value
        assert not doubled_words(text), f"{name}: words written twice: {doubled_words(text)}"
