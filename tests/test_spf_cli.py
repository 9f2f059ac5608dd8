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
