"""`mailposture scan` through typer's CliRunner (and a subprocess for Ctrl-C/SIGTERM): exit codes and messages."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from conftest import sigint_default
from mailposture.dns.fake import FakeResolver
from mailposture.scan.cli import register
from test_scan_support import WORLD


async def fake_check_factory_check(domain, attrs):
    await asyncio.sleep(0)
    if domain == "crash.example":
        raise RuntimeError("simulated bug")
    return {"domain": domain, "status": "ok", "attrs": attrs,
            "spf": {"present": True, "valid": True, "all": "-all", "dns_lookups": 1},
            "dns": {"queries": 4, "errors": []}, "findings": []}


def make_app(*, check=True, zone=None):
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    @contextlib.asynccontextmanager
    async def fake_resolver(_opts):
        yield FakeResolver(zone or {})

    register(app, resolver_factory=fake_resolver,
             check_factory=(lambda res, settings: fake_check_factory_check) if check else None)
    return app


def invoke(app, *args, input=None):
    # messages in English unless a test asks for --lang ja, whatever the locale of the machine running the tests
    r = CliRunner(env={"LC_ALL": "C.UTF-8"}).invoke(app, ["scan", *map(str, args)], input=input)
    assert "Traceback" not in r.output, r.output
    return r


def lines_of(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_text_to_jsonl_with_summary(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\nA.EXAMPLE.\n# skip\n\nbad..x\ncrash.example\nb.example\n")
    out = tmp_path / "r.jsonl"
    r = invoke(make_app(), src, "-o", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    rows = {x["domain"]: x for x in lines_of(out)}
    assert sorted(rows) == ["a.example", "b.example", "bad..x", "crash.example"]
    assert rows["crash.example"]["status"] == "error" and "simulated bug" in rows["crash.example"]["error"]
    assert rows["bad..x"]["input_error"] == "empty label"
    assert "4 domains" in r.stderr and "duplicates skipped 1" in r.stderr and "invalid 1" in r.stderr
    assert "4.0 queries/domain" in r.stderr
    assert r.stdout == ""                               # nothing but results ever goes to stdout


def test_stdout_output_and_stdin_input(tmp_path):
    r = invoke(make_app(), "-", "--lang", "ja", input="domain,org\nx.example,ACME\n")
    assert r.exit_code == 0
    (row,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert row["domain"] == "x.example" and row["attrs"] == {"org": "ACME"}
    assert "1 ドメイン" in r.stderr


def test_csv_with_attrs_and_gzip_to_csv(tmp_path):
    src = tmp_path / "in.csv.gz"
    src.write_bytes(gzip.compress("rank,domain,sector\n1,a.example,bank\n2,bücher.example,retail\n".encode()))
    out = tmp_path / "r.csv"
    r = invoke(make_app(), src, "-o", out)
    assert r.exit_code == 0, r.output
    rows = sorted(csv.DictReader(out.read_text(encoding="utf-8").splitlines()), key=lambda x: x["domain"])
    assert [(x["domain"], x["input"], x["attrs.rank"], x["attrs.sector"], x["spf_all"], x["dns_queries"])
            for x in rows] == [("a.example", "", "1", "bank", "-all", "4"),
                               ("xn--bcher-kva.example", "bücher.example", "2", "retail", "-all", "4")]


def test_parquet_output(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("".join(f"d{i}.example\n" for i in range(25)))
    out = tmp_path / "r.parquet"
    r = invoke(make_app(), src, "-o", out)
    assert r.exit_code == 0, r.output
    t = pq.read_table(out, columns=["domain", "spf_dns_lookups", "dns_queries"]).to_pylist()
    assert sorted(x["domain"] for x in t) == sorted(f"d{i}.example" for i in range(25))
    assert {x["spf_dns_lookups"] for x in t} == {1} and {x["dns_queries"] for x in t} == {4}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_limit_then_resume_gives_each_domain_once(tmp_path, fmt):
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(40)]
    src.write_text("\n".join(names) + "\nbad..x\n")
    out = tmp_path / f"r.{fmt}"
    r = invoke(make_app(), src, "-o", out, "--limit", "15")
    assert r.exit_code == 0 and "stopped at --limit" in r.stderr
    r = invoke(make_app(), src, "-o", out)
    assert r.exit_code == 2 and "--resume" in r.stderr      # no accidental clobbering
    r = invoke(make_app(), src, "-o", out, "--resume")
    assert r.exit_code == 0, r.output
    assert "already done 15" in r.stderr and "26 domains" in r.stderr
    if fmt == "jsonl":
        doms = [x["domain"] for x in lines_of(out)]
    elif fmt == "csv":
        doms = [x["domain"] for x in csv.DictReader(out.read_text().splitlines())]
    else:
        doms = pq.read_table(out, columns=["domain"]).column(0).to_pylist()
    assert Counter(doms) == Counter([*names, "bad..x"])


def test_resume_repairs_torn_line(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\nb.example\nc.example\n")
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"domain": "a.example", "status": "ok"}) + "\n" + '{"domain": "b.exa')
    r = invoke(make_app(), src, "-o", out, "--resume")
    assert r.exit_code == 0
    assert r.stderr.count("torn last line") == 1
    assert sorted(x["domain"] for x in lines_of(out)) == ["a.example", "b.example", "c.example"]


@pytest.mark.parametrize("setup, args, message", [
    (lambda p: None, [], "no such file"),
    (lambda p: p.write_text("name,rank\nexample.com,1\n"), ["--input-format", "csv"],
     "line 1: the CSV header has no 'domain' column"),
    (lambda p: p.write_bytes(b"a.example\n\xff\xfeb\n"), [], "line 2 is neither UTF-8 nor Shift_JIS"),
    (lambda p: p.write_bytes(b"a.example\n\xff\xfeb\n"), ["--encoding", "utf-8"], "line 2 is not UTF-8"),
    (lambda p: p.write_text("a.example\n"), ["-o", "-", "--format", "csv"], "JSON Lines only"),
    (lambda p: p.write_text("a.example\n"), ["-o", "-", "--resume"], "--resume needs an output file"),
    (lambda p: p.write_text("a.example\n"), ["--resume", "--overwrite", "-o", "x.jsonl"], "exclude each other"),
])
def test_bad_input_exit_2(tmp_path, setup, args, message):
    src = tmp_path / "in.txt"
    setup(src)
    r = invoke(make_app(), src, *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_bad_nameserver_is_exit_2(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app)                                    # the real engine factory
    r = invoke(app, src, "--nameserver", "not-an-ip", "-o", tmp_path / "r.jsonl")
    assert r.exit_code == 2 and "not-an-ip" in r.stderr
    assert not (tmp_path / "r.jsonl").exists()       # nothing was created before the options were checked


def test_invalid_options_rejected_by_typer(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    r = invoke(make_app(), src, "--domains-concurrency", "0")
    assert r.exit_code == 2
    r = invoke(make_app(), src, "--format", "xml")
    assert r.exit_code == 2


# ---------------------------------------------------------------------------------------------------------------
# Ctrl-C and SIGTERM in a real process

SCRIPT = textwrap.dedent(f"""
    import sys, typer
    sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
    from test_scan_support import no_resolver, slow_check_factory
    from mailposture.scan.cli import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        "root"

    register(app, resolver_factory=no_resolver, check_factory=slow_check_factory)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
""")



@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_keeps_results_and_resume_finishes(tmp_path, sig, code):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(1000)]
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, str(script), "scan", str(src), "-o", str(out), "--domains-concurrency", "20",
           "--lang", "en"]
    slow = {**os.environ, "SCAN_TEST_DELAY": "0.05"}            # interrupted long before it could finish
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slow,
                            preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if out.exists() and out.stat().st_size > 2000:
                break
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "--resume" in err
    first = lines_of(out)                                   # every line is complete JSON
    assert 0 < len(first) < len(names)
    fast = {**os.environ, "SCAN_TEST_DELAY": "0.001"}
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=60, env=fast)
    assert done.returncode == 0, done.stderr
    assert Counter(x["domain"] for x in lines_of(out)) == Counter(names)


# ---------------------------------------------------------------------------------------------------------------
# End to end with the real per-domain check



def _real_app(zone=None):
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    if zone is None:
        register(app)
    else:
        @contextlib.asynccontextmanager
        async def fake_resolver(_opts):
            yield FakeResolver(zone)

        register(app, resolver_factory=fake_resolver)
    return app


def _check_world_rows(rows):
    by = {x["domain"]: x for x in rows}
    assert sorted(by) == ["bad_name.example", "gone.example", "good.example", "slow.example", "weak.example"]
    good, weak, slow, gone = by["good.example"], by["weak.example"], by["slow.example"], by["gone.example"]
    assert good["status"] == "ok" and good["attrs"] == {"owner": "Good Co."}
    assert good["spf"]["all"] == "-all" and good["dmarc"]["policy"] == "reject"
    assert good["dns"]["queries"] > 0 and good["dns"]["errors"] == []
    assert "SPF_PASS_ALL" in {f["code"] for f in weak["spf"]["findings"]}
    assert slow["status"] == "error" and slow["dns"]["errors"]      # DNS failure: unknown, not absent
    assert gone["status"] == "ok" and "DOMAIN_NXDOMAIN" in {f["code"] for f in gone["findings"]}
    assert by["bad_name.example"]["input_error"].startswith("bad character")


def _world_csv(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("domain,owner\ngood.example,Good Co.\nweak.example,Weak\nslow.example,Slow\n"
                   "gone.example,Gone\nbad_name.example,Typo\nGOOD.example.,dup\n")
    return src


def test_end_to_end_check_domain_with_fake_resolver(tmp_path):
    out = tmp_path / "r.jsonl"
    r = invoke(_real_app(WORLD), _world_csv(tmp_path), "-o", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    _check_world_rows(lines_of(out))
    assert "5 domains" in r.stderr and "invalid 1" in r.stderr and "duplicates skipped 1" in r.stderr


def test_end_to_end_csv_columns_from_real_results(tmp_path):
    out = tmp_path / "r.csv"
    r = invoke(_real_app(WORLD), _world_csv(tmp_path), "-o", out, "--no-answers")
    assert r.exit_code == 0, r.output
    by = {x["domain"]: x for x in csv.DictReader(out.read_text(encoding="utf-8").splitlines())}
    good = by["good.example"]
    assert (good["spf_present"], good["spf_valid"], good["spf_all"], good["spf_authorized_ipv4"]) == \
        ("true", "true", "-all", "256")
    assert (good["dmarc_present"], good["dmarc_policy"], good["dmarc_rua"]) == ("true", "reject",
                                                                                "mailto:d@good.example")
    assert (good["dmarc_valid"], good["dmarc_valid_rfc7489"]) == ("true", "true")
    assert good["mx_hosts"] == "mx.good.example" and good["attrs.owner"] == "Good Co."
    assert int(good["dns_queries"]) > 0 and good["dns_errors"] == "0"
    assert by["slow.example"]["status"] == "error" and int(by["slow.example"]["dns_errors"]) > 0
    assert "SPF_PASS_ALL" in by["weak.example"]["finding_codes"].split()


def test_end_to_end_real_engine_against_loopback_server(tmp_path):
    """The default resolver factory (the DNS Engine from the --nameserver options) against a local server."""
    import threading

    from mailposture.dns.server import LocalDnsServer

    zone = {k: v for k, v in WORLD.items() if k != "slow.example"}
    loop = asyncio.new_event_loop()
    server = LocalDnsServer(zone, origins=["example"])
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert started.wait(10)
        src = tmp_path / "d.txt"
        src.write_text("good.example\nweak.example\ngone.example\n")
        out = tmp_path / "r.jsonl"
        r = invoke(_real_app(), src, "-o", out, "--nameserver", server.address, "--timeout", "1", "--retries", "0")
        assert r.exit_code == 0, r.output
        by = {x["domain"]: x for x in lines_of(out)}
        assert by["good.example"]["status"] == "ok" and by["good.example"]["spf"]["all"] == "-all"
        assert by["good.example"]["dmarc"]["policy"] == "reject"
        assert "DOMAIN_NXDOMAIN" in {f["code"] for f in by["gone.example"]["findings"]}
        assert server.queries > 0 and "packets sent" in r.stderr
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()


def test_broken_pipe_on_stdout_is_quiet(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    src = tmp_path / "d.txt"
    src.write_text("".join(f"d{i}.example\n" for i in range(3000)))
    env = {**os.environ, "SCAN_TEST_DELAY": "0.001"}
    proc = subprocess.Popen([sys.executable, str(script), "scan", str(src), "-o", "-"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert json.loads(proc.stdout.readline())["status"] == "ok"
    proc.stdout.close()                                      # like `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_stdin_is_scanned_as_it_arrives_and_ctrl_c_does_not_wait_for_eof(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    out = tmp_path / "r.jsonl"
    env = {**os.environ, "SCAN_TEST_DELAY": "0.001"}
    proc = subprocess.Popen([sys.executable, str(script), "scan", "-", "-o", str(out)], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=sigint_default)
    try:
        proc.stdin.write(b"a.example\nb.example\n")
        proc.stdin.flush()                                   # ... and the producer stays silent, stdin open
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") == 2):
            time.sleep(0.02)
        assert sorted(x["domain"] for x in lines_of(out)) == ["a.example", "b.example"]
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=10)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err and "Fatal" not in err


def test_output_same_as_input_is_refused(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    r = invoke(make_app(), src, "-o", src, "--overwrite")
    assert r.exit_code == 2 and "is the input file too" in r.stderr
    assert src.read_text() == "a.example\n"


def test_zone_file_input(tmp_path):
    src = tmp_path / "jp.db"
    src.write_text("a IN NS ns.example.net.\nb IN NS ns.example.net.\na IN NS ns2.example.net.\n")
    out = tmp_path / "r.jsonl"
    r = invoke(make_app(), src, "-o", out, "--input-format", "zone", "--zone-origin", "jp", "--lang", "en")
    assert r.exit_code == 0, r.output
    assert sorted(x["domain"] for x in lines_of(out)) == ["a.jp", "b.jp"] and "duplicates skipped 1" in r.stderr
    r = invoke(make_app(), src, "-o", tmp_path / "r2.jsonl", "--input-format", "zone")
    assert r.exit_code == 2 and "line 1: relative name 'a' before $ORIGIN" in r.stderr


def test_resume_command_hint(monkeypatch):
    from mailposture.scan.cli import _resume_command

    monkeypatch.setattr(sys, "argv", ["/usr/bin/mailposture", "scan", "my list.txt", "-o", "r.csv", "--overwrite"])
    assert _resume_command() == "mailposture scan 'my list.txt' -o r.csv --resume"
    monkeypatch.setattr(sys, "argv", ["pytest", "scan"])
    assert _resume_command() is None


def test_headerless_shift_jis_list_with_options(tmp_path):
    src = tmp_path / "top.txt"
    src.write_bytes("1\t例え.jp\n2\tExample.jp\n".encode("cp932"))
    out = tmp_path / "r.csv"
    r = invoke(make_app(), src, "-o", out, "--column", "2", "--delimiter", "tab", "--encoding", "cp932")
    assert r.exit_code == 0, r.output
    rows = sorted(csv.DictReader(out.read_text(encoding="utf-8").splitlines()), key=lambda x: x["attrs.column_1"])
    assert [(x["domain"], x["input"], x["attrs.column_1"]) for x in rows] == [
        ("xn--r8jz45g.jp", "例え.jp", "1"), ("example.jp", "Example.jp", "2")]
    r = invoke(make_app(), src, "-o", tmp_path / "x.jsonl", "--delimiter", "ab")
    assert r.exit_code == 2 and "one character" in r.output


def test_invalid_multiline_cell_resumes_without_duplicates(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('domain,n\n"bad\nname.example",1\nok.example,2\n')
    out = tmp_path / "r.csv"
    assert invoke(make_app(), src, "-o", out).exit_code == 0
    r = invoke(make_app(), src, "-o", out, "--resume", "--lang", "en")
    assert r.exit_code == 0 and "already done 2" in r.stderr
    doms = [x["domain"] for x in csv.DictReader(out.read_text().splitlines())]
    assert sorted(doms) == ["bad name.example", "ok.example"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_sigkill_loses_nothing_written(tmp_path, fmt):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(1000)]
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / f"r.{fmt}"
    written = out if fmt != "parquet" else tmp_path / f"r.{fmt}.journal.jsonl"
    cmd = [sys.executable, str(script), "scan", str(src), "-o", str(out), "--domains-concurrency", "20"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, env={**os.environ, "SCAN_TEST_DELAY": "0.05"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (written.exists() and written.stat().st_size > 3000):
            time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = subprocess.run([*cmd, "--resume", "--lang", "en"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SCAN_TEST_DELAY": "0.001"})
    assert done.returncode == 0, done.stderr
    m = re.search(r"already done (\d+)", done.stderr)
    assert m and int(m.group(1)) > 0                     # what the killed run had written was kept
    if fmt == "jsonl":
        doms = [x["domain"] for x in lines_of(out)]
    elif fmt == "csv":
        doms = [x["domain"] for x in csv.DictReader(out.read_text().splitlines())]
    else:
        doms = pq.read_table(out, columns=["domain"]).column(0).to_pylist()
    assert Counter(doms) == Counter(names)


def test_summary_json(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\na.example\nbad..x\ncrash.example\n")
    summ = tmp_path / "s.json"
    r = invoke(make_app(), src, "-o", tmp_path / "r.jsonl", "--summary-json", summ)
    assert r.exit_code == 0
    data = json.loads(summ.read_text())
    assert (data["domains"], data["ok"], data["errors"], data["crashed"], data["invalid"],
            data["duplicates_skipped"], data["exit_code"]) == (3, 1, 1, 1, 1, 1, 0)
    assert data["queries_per_domain"] == 4.0 and data["interrupted"] is False


def test_single_label_names_count_as_invalid_and_are_not_checked(tmp_path):
    # "jp" and "localhost" are not mail domains (RFC 5321 §2.3.5): invalid inputs, never queried or advised
    src = tmp_path / "d.txt"
    src.write_text("a.example\njp\nlocalhost\n")
    out = tmp_path / "r.jsonl"
    r = invoke(make_app(), src, "-o", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    rows = {x["domain"]: x for x in lines_of(out)}
    assert "single label" in rows["jp"]["input_error"] and "single label" in rows["localhost"]["input_error"]
    assert "spf" not in rows["jp"] and rows["jp"]["status"] == "error" and rows["a.example"]["status"] == "ok"
    assert "invalid 2" in r.stderr
