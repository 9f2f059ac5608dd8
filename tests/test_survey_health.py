"""A survey that cannot reach DNS says so (issue 10): a dead resolver, one that answers NXDOMAIN to everything and
one that answers SERVFAIL to everything make the round fail (exit 1, status failed, not counted), name the resolver,
and a report of that round says so on its first line; ``scan`` prints the same warning in its summary.
A healthy world with its few broken zones stays complete."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.dns.types import Answer
from mailposture.scan.health import DnsHealth
from mailposture.survey.catalog import Catalog, CatalogError
from mailposture.survey.lists import parse_list
from mailposture.survey.rounds import round_failure, run_round
from mailposture.survey.world import build_world

runner = CliRunner()


class DeadResolver:
    async def query(self, name: str, rdtype: str) -> Answer:
        return Answer(name, rdtype, "error", rcode="", error="timeout")


class NxResolver:
    async def query(self, name: str, rdtype: str) -> Answer:
        return Answer(name, rdtype, "nxdomain", rcode="NXDOMAIN")


def _res(*, failed: bool = False, nx: bool = False) -> dict:
    return {"status": "error" if failed else "ok",
            "dns": {"errors": [{"name": "x", "type": "TXT", "error": "timeout"}] if failed else []},
            "findings": [{"code": "DOMAIN_NXDOMAIN"}] if nx else []}


def test_health_counts_and_limit() -> None:
    # 100 domains: 30 failed + 1 NXDOMAIN = 31% > 30%
    h = DnsHealth.of([_res(failed=True)] * 30 + [_res(nx=True)] + [_res()] * 69)
    assert (h.domains, h.failed, h.nxdomain) == (100, 30, 1)
    assert h.suspect() and h.kinds == {"timeout": 30}
    # 29 + 1 = exactly 30%: not beyond the limit
    assert not DnsHealth.of([_res(failed=True)] * 29 + [_res(nx=True)] + [_res()] * 70).suspect()
    # a tiny list: 3 of 4 failing is not enough to blame the resolver, all 4 is
    assert not DnsHealth.of([_res(failed=True)] * 3 + [_res()]).suspect()
    assert DnsHealth.of([_res(failed=True)] * 4).suspect()
    for lang, word in (("ja", "リゾルバ (10.0.0.1:53)"), ("en", "the resolver (10.0.0.1:53)")):
        w = h.warning(lang, ["10.0.0.1:53"])
        assert w and w.startswith("RESOLVER_SUSPECT") and word in w and "30/100" in w.replace(",", "")


@pytest.mark.parametrize("resolver,kind", [(DeadResolver(), "failed"), (NxResolver(), "nxdomain")])
async def test_round_with_a_broken_resolver_fails(tmp_path: Path, resolver, kind: str) -> None:
    world = build_world(60, seed=5)
    lst = parse_list(world.csv_text().encode(), "synthetic")
    cat = Catalog(tmp_path)
    info = await run_round(cat, lst, "r", resolver, resolvers=["192.0.2.53:53"], concurrency=20)
    assert info.status == "failed"
    health = json.loads(info.notes)["dns_health"]
    assert health[kind] == len(lst.all_domains()) and health["reason"] == "RESOLVER_SUSPECT"
    assert "192.0.2.53:53" in (round_failure(info, "en") or "")
    with pytest.raises(CatalogError, match="no complete round"):
        cat.latest()  # never counted as the latest round
    with pytest.raises(CatalogError, match="--replace"):
        await run_round(cat, lst, "r", resolver, resolvers=["x"])


async def test_healthy_world_stays_complete(tmp_path: Path) -> None:
    world = build_world(150, seed=5)
    lst = parse_list(world.csv_text().encode(), "synthetic")
    broken = sum(1 for t in world.truth.values() if t.broken or t.nxdomain)
    assert broken > 0  # the world has its few bad zones, like a real list
    info = await run_round(Catalog(tmp_path), lst, "r", FakeResolver(world.zone), resolvers=["fake"],
                           concurrency=20)
    assert info.status == "complete"
    h = json.loads(info.notes)["dns_health"]
    assert h["failed"] + h["nxdomain"] == broken and h["suspect"] is False


def _silent_udp() -> tuple[socket.socket, str]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, f"127.0.0.1:{s.getsockname()[1]}"


def _list_file(tmp_path: Path, n: int = 30) -> Path:
    world = build_world(n, seed=11)
    p = tmp_path / "fict.csv"
    p.write_text(world.csv_text(), encoding="utf-8")
    return p


def _run(tmp_path: Path, ns: str, *extra: str):
    return runner.invoke(app, ["survey", "run", str(_list_file(tmp_path)), "--round", "r", "--data-dir",
                               str(tmp_path / "data"), "-n", ns, "--timeout", "0.2", "--retries", "0",
                               "--retry-delay", "0", "-q", *extra])


def test_cli_dead_resolver_fails_the_round_and_the_report_says_so(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sock, ns = _silent_udp()  # bound, never answers: every query times out
    try:
        r = _run(tmp_path, ns, "--lang", "en")
    finally:
        sock.close()
    assert r.exit_code == 1, r.output
    assert "FAILED" in r.output and "RESOLVER_SUSPECT" in r.output and ns in r.output and "timeout" in r.output
    data = ["--data-dir", str(tmp_path / "data")]
    r = runner.invoke(app, ["survey", "rounds", *data])
    assert "failed" in r.stdout
    r = runner.invoke(app, ["survey", "report", "--round", "r", "--format", "md", "--lang", "ja", *data])
    assert r.exit_code == 0
    first = r.stdout.splitlines()[0]
    assert "この調査回は失敗しています" in first and ns in first
    r = runner.invoke(app, ["survey", "report", "--round", "r", "--format", "json", "--lang", "en", *data])
    assert json.loads(r.stdout)["failed"].startswith("THIS ROUND FAILED")
    html = tmp_path / "r.html"
    r = runner.invoke(app, ["survey", "report", "--round", "r", "--format", "html", "--lang", "en", "-o",
                            str(html), *data])
    body = html.read_text(encoding="utf-8")
    assert body.index("failed-notice") < body.index("<h1>")
    from mailposture.report import charts

    titles = []
    monkeypatch.setattr(charts, "bars_png", lambda rep, lang, title=None, **kw: titles.append(title) or b"\x89PNG")
    r = runner.invoke(app, ["survey", "report", "--round", "r", "--format", "png", "--lang", "en", "-o",
                            str(tmp_path / "r.png"), *data])
    assert r.exit_code == 0 and titles[0].startswith("[FAILED ROUND")
    r = runner.invoke(app, ["survey", "report", *data])  # the latest COMPLETE round: there is none
    assert r.exit_code == 2 and "no complete round" in r.output
    r = runner.invoke(app, ["survey", "trend", "--format", "json", *data])
    assert r.exit_code == 2


def _serve(zone, origins, fn):
    from mailposture.dns.server import FaultyProxy, LocalDnsServer

    async def go():
        async with LocalDnsServer(zone, origins=origins) as server:
            async with FaultyProxy(server.address, servfail=lambda n, t: True) as proxy:
                return await asyncio.to_thread(fn, server.address, proxy.address)

    return asyncio.run(go())


def test_cli_nxdomain_and_servfail_resolvers(tmp_path: Path) -> None:
    def both(nx_addr: str, servfail_addr: str):
        return (_run(tmp_path / "nx", nx_addr, "--lang", "ja"), _run(tmp_path / "sf", servfail_addr, "--lang", "en"))

    (tmp_path / "nx").mkdir()
    (tmp_path / "sf").mkdir()
    # a server authoritative for the TLDs that knows none of the names: NXDOMAIN for everything
    nx, sf = _serve({}, ["example", "test"], both)
    assert nx.exit_code == 1 and "失敗しました" in nx.output and "NXDOMAIN" in nx.output
    from ja_check import english_leftovers

    for line in nx.output.splitlines():  # the round's summary and the failure, all in Japanese
        assert english_leftovers(line, {"r"}) == [], line  # r: the round's name
    assert "調査回 r: 30 団体" in nx.output
    assert sf.exit_code == 1 and "RESOLVER_SUSPECT" in sf.output and "servfail" in sf.output


def test_cli_scan_summary_warns(tmp_path: Path) -> None:
    inp = tmp_path / "d.txt"
    inp.write_text("".join(f"d{i}.example\n" for i in range(8)), encoding="utf-8")
    sock, ns = _silent_udp()
    try:
        r = runner.invoke(app, ["scan", str(inp), "-o", str(tmp_path / "o.jsonl"), "-n", ns, "--timeout", "0.2",
                                "--retries", "0", "--lang", "en", "--summary-json", str(tmp_path / "s.json")])
    finally:
        sock.close()
    assert "warning: RESOLVER_SUSPECT" in r.output and ns in r.output
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["dns_health"]["failed"] == 8 and s["dns_health"]["suspect"] is True
