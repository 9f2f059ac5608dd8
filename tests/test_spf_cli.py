"""`mailposture spf parse` and `spf eval` through typer's CliRunner on an app built from register()."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from mailposture.checks.spf import cli as spf_cli
from mailposture.dns.fake import FakeResolver


@pytest.fixture
def app():
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """test root"""

    spf_cli.register(root)
    return root


runner = CliRunner()


def test_parse_json_lines_in_order(app):
    r = runner.invoke(app, ["spf", "parse", "--format", "json", "--lang", "en", "v=spf1 -all",
                            "v=spf1 ip4:1.2.3.4/33 a:foo ~all"])
    assert r.exit_code == 1, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["record"] for row in rows] == ["v=spf1 -all", "v=spf1 ip4:1.2.3.4/33 a:foo ~all"]
    assert [row["valid"] for row in rows] == [True, False]
    syntax = [f for f in rows[1]["findings"] if f["code"] == "SPF_SYNTAX"]
    assert [f["params"]["term"] for f in syntax] == ["ip4:1.2.3.4/33", "a:foo"]
    assert set(syntax[0]) >= {"code", "severity", "message", "rfc", "params"}
    assert "SPF_SOFTFAIL_ALL" in {f["code"] for f in rows[1]["findings"]}


def test_parse_all_valid_exit_zero_and_japanese(app):
    r = runner.invoke(app, ["spf", "parse", "--lang", "ja", "v=spf1 ptr -all"])
    assert r.exit_code == 0
    assert "有効" in r.stdout and "SPF_PTR" in r.stdout and "使用すべきではありません" in r.stdout


def test_parse_stdin_and_file(app, tmp_path):
    f = tmp_path / "records.txt"
    f.write_text('v=spf1 mx -all\n\n"v=spf1 ip4:192.0.2.1 " "-all"\nv=spf1 =bad\n', encoding="utf-8")
    r = runner.invoke(app, ["spf", "parse", "-", "--file", str(f), "--format", "json"], input="v=spf1 a -all\n\n")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["record"] for row in rows] == ["v=spf1 a -all", "v=spf1 mx -all", "v=spf1 ip4:192.0.2.1 -all",
                                               "v=spf1 =bad"]
    assert r.exit_code == 1


@pytest.mark.parametrize("args", [["spf", "parse"], ["spf", "parse", "--format", "xml", "v=spf1"],
                                  ["spf", "parse", "--file", "/nonexistent/x"],
                                  ["spf", "parse", "--lang", "fr", "v=spf1"]])
def test_parse_usage_errors(app, args):
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "Traceback" not in r.output


class _Engine(FakeResolver):
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None


@pytest.fixture
def fake_engine(monkeypatch):
    zone = {"example.com": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all exp=why.example.com")],
            "why.example.com": [("TXT", "%{i} is not allowed (%{s})")]}
    monkeypatch.setattr("mailposture.cliopts.DnsOptions.engine", lambda self: _Engine(zone))


def test_eval_json(app, fake_engine):
    r = runner.invoke(app, ["spf", "eval", "example.com", "--ip", "203.0.113.5", "--sender", "a@example.com",
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["result"] == "fail" and out["explanation"] == "203.0.113.5 is not allowed (a@example.com)"
    assert out["trace"] and out["dns_lookups"] == 0


def test_eval_text(app, fake_engine):
    r = runner.invoke(app, ["spf", "eval", "example.com", "--ip", "192.0.2.8", "--lang", "en"])
    assert r.exit_code == 0
    assert "Result: pass" in r.stdout and "Trace:" in r.stdout


@pytest.mark.parametrize("args", [["--ip", "1.2.3.999"], ["--ip", "bogus"]])
def test_eval_invalid_ip(app, fake_engine, args):
    r = runner.invoke(app, ["spf", "eval", "example.com", *args])
    assert r.exit_code == 2 and "not a valid IPv4 or IPv6 address" in r.output


def test_eval_invalid_domain(app, fake_engine):
    r = runner.invoke(app, ["spf", "eval", "a..b", "--ip", "192.0.2.1"])
    assert r.exit_code == 2 and "not a valid domain" in r.output


def test_eval_empty_sender_uses_helo_identity(app, fake_engine):
    r = runner.invoke(app, ["spf", "eval", "example.com", "--ip", "203.0.113.5", "--sender", "",
                            "--helo", "mx.example.org", "--format", "json"])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["result"] == "fail" and out["domain"] == "example.com"
    assert out["explanation"] == "203.0.113.5 is not allowed (postmaster@mx.example.org)"


# A world whose evaluations pass through every kind of trace step (issue 10: the trace said in Japanese).
TRACE_WORLD = {
    "voids.example.jp": [("TXT", "v=spf1 a:nohost.example.jp mx ptr:voids.example.jp -all")],
    "walk.example.jp": [("TXT", "v=spf1 a:%{d}..x include:inc.example.jp ip4:198.51.100.0/24 -all "
                                "exp=why.example.jp")],
    "inc.example.jp": [("TXT", "v=spf1 redirect=r.example.jp")],
    "r.example.jp": [("TXT", "v=spf1 ip4:192.0.2.0/24")],
    "why.example.jp": [("TXT", "%{i} is not permitted")],   # ASCII only (RFC 7208 §6.2)
    "badexp.example.jp": [("TXT", "v=spf1 -all exp=two.example.jp")],
    "two.example.jp": [("TXT", "one"), ("TXT", "two")],
    "slow.example.jp": [("TXT", "v=spf1 include:timeout.example.jp -all")],
    "timeout.example.jp": [("TIMEOUT", None)],
    "bad.example.jp": [("TXT", "v=spf1 ip4:300.1.1.1 -all")],
    "many.example.jp": [("TXT", "v=spf1 -all"), ("TXT", "v=spf1 +all")],
}
TRACE_CASES = [("voids.example.jp", "203.0.113.9"), ("walk.example.jp", "192.0.2.7"),
               ("walk.example.jp", "203.0.113.9"), ("badexp.example.jp", "203.0.113.9"),
               ("slow.example.jp", "203.0.113.9"), ("bad.example.jp", "203.0.113.9"),
               ("many.example.jp", "203.0.113.9"), ("nothing.example.jp", "203.0.113.9"),
               ("r.example.jp", "203.0.113.9")]


async def _traces():
    from mailposture.checks.spf.evaluate import check_host

    res = FakeResolver(TRACE_WORLD)
    return [await check_host(ip, d, f"a@{d}", resolver=res) for d, ip in TRACE_CASES]


def test_every_trace_step_has_a_japanese_form():
    import asyncio

    from mailposture.checks.spf.reasons import ACTIONS_JA, step_ja

    steps = [s for r in asyncio.run(_traces()) for s in r.trace]
    seen = {s.action for s in steps}
    # the world reaches every kind of step the evaluator writes (a new kind needs a translation and a case here)
    assert seen == set(ACTIONS_JA) - {"error"}, seen ^ (set(ACTIONS_JA) - {"error"})
    for s in steps:
        action, detail = step_ja(s.action, s.detail)
        assert action == ACTIONS_JA[s.action]
        if s.action in ("record", "redirect", "include"):     # a record text or a domain: shown as it is
            assert detail == s.detail
        else:
            assert detail != s.detail, (s.action, s.detail)   # a shape step_ja does not know stays English


def test_eval_text_trace_in_japanese(app, monkeypatch):
    monkeypatch.setattr("mailposture.cliopts.DnsOptions.engine", lambda self: _Engine(TRACE_WORLD))
    r = runner.invoke(app, ["spf", "eval", "walk.example.jp", "--ip", "203.0.113.9", "--lang", "ja"])
    assert r.exit_code == 0, r.output
    assert "評価手順:" in r.stdout and "Trace:" not in r.stdout
    assert "結果: fail" in r.stdout and "説明文: '203.0.113.9 is not permitted'" in r.stdout
    assert "'ip4:198.51.100.0/24' に一致しません" in r.stdout
    assert "include の結果: inc.example.jp → neutral" in r.stdout
    en = runner.invoke(app, ["spf", "eval", "walk.example.jp", "--ip", "203.0.113.9", "--lang", "en"])
    assert "'ip4:198.51.100.0/24' did not match" in en.stdout and "include-result: inc.example.jp -> neutral" \
        in en.stdout
