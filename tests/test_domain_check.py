"""The per-domain result contract shared by check, scan, survey and the web."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import typer
from typer.testing import CliRunner

from mailposture.checks.domain import ALL_SECTIONS, CheckOptions, check_domain
from mailposture.dns.fake import FakeResolver
from mailposture.dns.types import Answer
from mailposture.findings import CATALOG

WORLD = {
    "good.test": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all"), ("MX", (10, "mx.good.test"))],
    "mx.good.test": [("A", "192.0.2.25")],
    "_dmarc.good.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:d@good.test")],
    "weak.test": [("TXT", "v=spf1 +all"), ("TXT", "unrelated=1")],
    "_dmarc.weak.test": [("TXT", "v=DMARC1; p=none")],
    "broken.test": [("TIMEOUT", None)],
    "_dmarc.broken.test": [("TXT", "v=DMARC1; p=reject")],
    "parked.test": [("TXT", "v=spf1 -all"), ("MX", (0, "."))],
    "_dmarc.parked.test": [("TXT", "v=DMARC1; p=reject")],
    "nomail.test": [("A", "192.0.2.9")],
    "ctl.test": [("TXT", "v=spf1 a:x\x01.ctl.test -all")],
}


def run(domain: str, **kw) -> dict:
    return asyncio.run(check_domain(domain, FakeResolver(WORLD), **kw))


def test_contract_keys_and_protected_verdict() -> None:
    res = run("good.test")
    for key in ("domain", "status", "attrs", "spf", "dmarc", "mx", "dns", "findings"):
        assert key in res
    assert res["status"] == "ok"
    for key in ("present", "valid", "record", "records", "all", "dns_lookups", "void_lookups", "authorized_ipv4",
                "findings"):
        assert key in res["spf"]
    for key in ("present", "valid", "record", "source", "policy", "subdomain_policy", "rua", "findings"):
        assert key in res["dmarc"]
    assert res["spf"]["authorized_ipv4"] == 256
    assert res["dmarc"]["policy"] == "reject" and res["dmarc"]["source"] == "domain"
    assert [f["code"] for f in res["findings"]] == ["POSTURE_PROTECTED"]
    json.dumps(res)  # JSON-ready all the way down


def test_findings_are_catalogued_json_with_rfc() -> None:
    res = run("weak.test")
    codes = {f["code"] for f in res["spf"]["findings"]} | {f["code"] for f in res["dmarc"]["findings"]}
    assert {"SPF_PASS_ALL", "DMARC_POLICY_NONE"} <= codes
    for sec in ("spf", "dmarc", "mx"):
        for f in res[sec]["findings"]:
            assert f["code"] in CATALOG and f["rfc"] and f["severity"] in ("error", "warning", "info")
    assert res["findings"][0]["code"] == "POSTURE_SPOOFABLE"


def test_dns_failure_is_error_never_absent() -> None:
    res = run("broken.test")
    assert res["status"] == "error"
    assert res["spf"]["present"] is None and res["spf"]["status"] == "error"
    assert res["dmarc"]["present"] is True  # what could be determined is still reported
    assert any(e["name"] == "broken.test" and e["error"] == "timeout" for e in res["dns"]["errors"])


def test_nxdomain_domain_is_reported_as_such() -> None:
    res = run("missing.test")
    assert res["spf"]["present"] is False
    assert "DOMAIN_NXDOMAIN" in [f["code"] for f in res["findings"]]


def test_raw_answers_kept_and_replayable() -> None:
    res = run("good.test")
    answers = [Answer.from_json(a) for a in res["dns"]["answers"]]
    assert ("good.test", "TXT") in {(a.name, a.rdtype) for a in answers}
    # a resolver answering only from the stored answers gives the same result (survey recompute relies on this)

    class Replay:
        def __init__(self) -> None:
            self.by = {(a.name, a.rdtype): a for a in answers}

        async def query(self, name: str, rdtype: str) -> Answer:
            return self.by[(name.lower().rstrip("."), rdtype)]

    again = asyncio.run(check_domain("good.test", Replay()))
    for sec in ("spf", "dmarc", "mx"):
        assert again[sec] == res[sec]
    assert again["dns"]["queries"] == res["dns"]["queries"]


def test_every_section_and_languages() -> None:
    res_en = run("parked.test", options=CheckOptions.everything())
    res_ja = run("parked.test", options=CheckOptions.everything(), lang="ja")
    assert set(ALL_SECTIONS) <= res_en.keys()
    assert res_en["posture"]["verdict"] == "parked-protected"
    msgs_en = [f["message"] for f in res_en["spf"]["findings"] + res_en["findings"]]
    msgs_ja = [f["message"] for f in res_ja["spf"]["findings"] + res_ja["findings"]]
    assert msgs_en != msgs_ja and any("保護" in m for m in msgs_ja)


def test_section_crash_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailposture.checks import mx

    async def boom(*a, **k):
        raise RuntimeError("bug in mx")

    monkeypatch.setattr(mx, "analyze", boom)
    res = run("good.test")
    assert res["mx"]["status"] == "error" and "bug in mx" in res["mx"]["error"]
    assert res["spf"]["present"] is True and res["status"] == "error"


@pytest.fixture()
def local_dns():
    """The in-process authoritative server on 127.0.0.1, in a thread with its own loop."""
    from mailposture.dns.server import LocalDnsServer

    loop = asyncio.new_event_loop()
    srv = LocalDnsServer(WORLD | {"broken.test": []}, origins=["test"])
    loop.run_until_complete(srv.start())
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    yield srv
    loop.call_soon_threadsafe(loop.stop)
    t.join(5)
    loop.run_until_complete(srv.stop())
    loop.close()


def _cli() -> typer.Typer:
    from mailposture.checks import cli

    app = typer.Typer()
    cli.register(app)
    return app


@pytest.fixture()
def dns_server(local_dns) -> str:
    return local_dns.address


def test_check_command_text_and_json(dns_server: str) -> None:
    runner = CliRunner()
    r = runner.invoke(_cli(), ["check", "GOOD.test.", "-n", dns_server, "--lang", "ja", "--timeout", "1"])
    assert r.exit_code == 0, r.output
    assert "good.test" in r.output and "保護されています" in r.output
    r = runner.invoke(_cli(), ["check", "weak.test", "-n", dns_server, "--format", "json", "--core"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["spf"]["all"] == "+all" and "dkim" not in res


def test_check_command_bad_input_is_a_clear_error(dns_server: str) -> None:
    runner = CliRunner()
    r = runner.invoke(_cli(), ["check", "bad..name", "-n", dns_server])
    assert r.exit_code == 2 and "not a valid domain name" in r.output
    r = runner.invoke(_cli(), ["check", "good.test", "-n", "not-an-ip"])
    assert r.exit_code == 2 and "Traceback" not in r.output and "error" in r.output.lower()


def test_unreachable_resolver_reports_unknown_not_absent() -> None:
    from conftest import free_port

    runner = CliRunner()
    r = runner.invoke(_cli(), ["check", "good.test", "-n", f"127.0.0.1:{free_port()}", "--timeout", "0.2",
                               "--retries", "0", "--format", "json", "--core"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["status"] == "error" and res["spf"]["present"] is None and res["dmarc"]["present"] is None


def test_validating_resolver_asks_for_ad_and_selector_file_errors(local_dns, tmp_path) -> None:
    srv, dns_server = local_dns, local_dns.address
    runner = CliRunner()
    before = len(srv.log)
    r = runner.invoke(_cli(), ["check", "good.test", "-n", dns_server, "--format", "json"])
    assert r.exit_code == 0 and not any(flags & 0x0020 for _, _, flags in list(srv.log)[before:])
    before = len(srv.log)
    r = runner.invoke(_cli(), ["check", "good.test", "-n", dns_server, "--format", "json", "--validating-resolver"])
    assert r.exit_code == 0, r.output
    assert all(flags & 0x0020 for _, _, flags in list(srv.log)[before:])  # AD set in every query (RFC 6840 §5.7)
    bad = tmp_path / "sel.txt"
    bad.write_text("google\nnot a selector!\n")
    r = runner.invoke(_cli(), ["check", "good.test", "-n", dns_server, "--dkim-selectors", str(bad)])
    assert r.exit_code == 2 and "sel.txt" in r.output and "Traceback" not in r.output
    r = runner.invoke(_cli(), ["check", "good.test", "-n", dns_server, "--dkim-selectors", str(tmp_path / "none")])
    assert r.exit_code == 2 and "none" in r.output


@pytest.mark.parametrize("lang, absent, unknown", [("en", "no record", "unknown"), ("ja", "レコードなし", "不明")])
def test_absent_record_is_shown_as_absent_not_unknown(dns_server: str, lang: str, absent: str, unknown: str) -> None:
    # nomail.test publishes neither SPF nor DMARC (DNS errors: 0): the syntax row says "no record", not "unknown"
    runner = CliRunner()
    r = runner.invoke(_cli(), ["check", "nomail.test", "-n", dns_server, "--lang", lang, "--core", "--timeout", "1"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    syntax = [line for line in r.output.splitlines() if line.startswith(("Syntax", "構文"))]
    assert len(syntax) == 2 and all(absent in line and unknown not in line for line in syntax), r.output
    r = runner.invoke(_cli(), ["check", "nomail.test", "-n", dns_server, "--format", "json", "--core"])
    res = json.loads(r.output)
    assert res["spf"]["present"] is False and res["spf"]["status"] == "none"
    assert res["dmarc"]["present"] is False and res["dmarc"]["status"] == "none"
    assert res["dns"]["errors"] == []
    # a DNS error still shows as unknown
    from conftest import free_port

    r = runner.invoke(_cli(), ["check", "nomail.test", "-n", f"127.0.0.1:{free_port()}", "--lang", lang, "--core",
                               "--timeout", "0.2", "--retries", "0"], env={"COLUMNS": "200"})
    spf_syntax = next(line for line in r.output.splitlines() if line.startswith(("Syntax", "構文")))
    assert unknown in spf_syntax


@pytest.mark.parametrize("name", ["jp", "localhost", "localhost.", "com"])
def test_single_label_name_stops_with_exit_2_and_no_query(local_dns, name: str) -> None:
    before = len(local_dns.log)
    r = CliRunner().invoke(_cli(), ["check", name, "-n", local_dns.address, "--lang", "en"])
    assert r.exit_code == 2 and "not a valid domain name" in r.output and "single label" in r.output
    assert len(local_dns.log) == before  # nothing was queried, nothing advised
    assert "_dmarc" not in r.output
    r = CliRunner().invoke(_cli(), ["check", name, "-n", local_dns.address, "--lang", "ja"])
    assert r.exit_code == 2 and "ドメイン名として正しくありません" in r.output


def test_control_character_in_a_record_is_named_not_echoed(dns_server: str) -> None:
    r = CliRunner().invoke(_cli(), ["check", "ctl.test", "-n", dns_server, "--lang", "en", "--core", "--timeout", "1"],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "\x01" not in r.output and "a:x<U+0001>.ctl.test" in r.output and "U+0001" in r.output
