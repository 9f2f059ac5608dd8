"""`mailposture scan --checks/--mx-hosts/--fetch/--dkim-selectors/--validating-resolver` (issue 3 sections)."""

from __future__ import annotations

import contextlib

import typer

from mailposture.checks.domain import ALL_SECTIONS, CORE_SECTIONS
from mailposture.dns.fake import FakeResolver
from mailposture.scan.checking import check_options, parse_checks
from mailposture.scan.cli import register
from mailposture.scan.inputs import InputSpec
from mailposture.scan.outputs import OutputSpec
from mailposture.scan.runner import ScanSettings
from test_scan_cli import invoke, lines_of
from test_scan_support import RICH_WORLD, rich_world_resolver

SEEN_OPTS: list = []


@contextlib.asynccontextmanager
async def recording_resolver(opts):
    SEEN_OPTS.append(opts)
    yield FakeResolver(RICH_WORLD)


def _app(resolver_factory=rich_world_resolver):
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app, resolver_factory=resolver_factory)
    return app


def _scan(tmp_path, *args, names=("good.example",), resolver_factory=rich_world_resolver):
    src = tmp_path / "d.txt"
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    r = invoke(_app(resolver_factory), src, "-o", out, "--lang", "en", "--overwrite", *args)
    return r, ({x["domain"]: x for x in lines_of(out)} if out.exists() else {})


def test_parse_checks():
    assert parse_checks("spf,dmarc,mx") == CORE_SECTIONS
    assert parse_checks("MX, spf") == ("spf", "mx")                  # canonical order, case-insensitive
    assert parse_checks("mta-sts,tls_rpt") == ("mta_sts", "tls_rpt")
    assert parse_checks("all") == ALL_SECTIONS
    for bad in ("", "spf,dkmi", "ptr"):
        try:
            parse_checks(bad)
        except ValueError as exc:
            assert "check" in str(exc)
        else:
            raise AssertionError(f"{bad!r} accepted")


def test_default_is_the_survey_core(tmp_path):
    r, rows = _scan(tmp_path)
    assert r.exit_code == 0, r.output
    good = rows["good.example"]
    assert {"spf", "dmarc", "mx"} <= good.keys()
    assert not good.keys() & {"dkim", "bimi", "mta_sts", "tls_rpt", "dnssec"}
    assert good["mx"]["hosts"][0]["addresses"] == []                  # MX hosts not resolved by default


def test_selected_sections_only(tmp_path):
    r, rows = _scan(tmp_path, "--checks", "tls_rpt,spf")
    assert r.exit_code == 0, r.output
    good = rows["good.example"]
    assert good["tls_rpt"]["present"] is True and good["tls_rpt"]["rua"] == ["mailto:tls@good.example"]
    assert "spf" in good and "dmarc" not in good and "mx" not in good
    assert {a["name"] for a in good["dns"]["answers"]} == {"good.example", "_smtp._tls.good.example"}


def test_all_sections_with_mx_hosts_and_selectors(tmp_path):
    sel = tmp_path / "selectors.txt"
    sel.write_text("# ours\nsel1\nother\n")
    r, rows = _scan(tmp_path, "--checks", "all", "--mx-hosts", "--dkim-selectors", sel)
    assert r.exit_code == 0, r.output
    good = rows["good.example"]
    assert set(ALL_SECTIONS) <= good.keys()
    assert good["mx"]["hosts"][0]["addresses"] == ["192.0.2.25"]
    assert good["dkim"]["selectors"] == ["sel1"] and good["dkim"]["probed"] == 2


def test_bad_options_exit_2_with_a_message(tmp_path):
    r, _ = _scan(tmp_path, "--checks", "spf,dkmi")
    assert r.exit_code == 2 and "dkmi" in r.stderr
    r, _ = _scan(tmp_path, "--checks", "dkim", "--dkim-selectors", tmp_path / "missing.txt")
    assert r.exit_code == 2 and "missing.txt" in r.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("good\nnot a selector!\n")
    r, _ = _scan(tmp_path, "--checks", "dkim", "--dkim-selectors", bad)
    assert r.exit_code == 2 and "bad.txt" in r.stderr
    r, _ = _scan(tmp_path, "--fetch", "--ca-file", tmp_path / "nope.pem")
    assert r.exit_code == 2 and "nope.pem" in r.stderr


def test_validating_resolver_reaches_dns_and_check_options(tmp_path):
    SEEN_OPTS.clear()
    r, rows = _scan(tmp_path, "--checks", "dnssec", "--validating-resolver", resolver_factory=recording_resolver)
    assert r.exit_code == 0, r.output
    assert SEEN_OPTS and SEEN_OPTS[-1].want_ad is True
    assert "dnssec" in rows["good.example"]
    SEEN_OPTS.clear()
    _scan(tmp_path, "--checks", "dnssec", resolver_factory=recording_resolver)
    assert SEEN_OPTS[-1].want_ad is False


def test_check_options_from_settings():
    s = ScanSettings(InputSpec("x"), OutputSpec("-"), sections=("spf", "bimi"), mx_hosts=True, fetch=True,
                     ca_file="/ca.pem", validating_resolver=True, dkim_selectors=("a", "b"), keep_answers=False)
    o = check_options(s)
    assert (o.sections, o.mx_resolve_hosts, o.fetch, o.ca_file, o.validating_resolver, o.dkim_selectors,
            o.keep_answers) == (("spf", "bimi"), True, True, "/ca.pem", True, ("a", "b"), False)
    assert check_options(ScanSettings(InputSpec("x"), OutputSpec("-"))).sections == CORE_SECTIONS


def test_sections_cross_into_worker_processes(tmp_path):
    sel = tmp_path / "selectors.txt"
    sel.write_text("sel1\n")
    r, rows = _scan(tmp_path, "--workers", "2", "--checks", "dkim,tls_rpt", "--dkim-selectors", sel,
                    names=("good.example", "weak.example"))
    assert r.exit_code == 0, r.output
    good = rows["good.example"]
    assert good["tls_rpt"]["present"] is True and good["dkim"]["selectors"] == ["sel1"]
    assert "spf" not in good and rows["weak.example"]["tls_rpt"]["present"] is False
