"""`guard dnsbl`: a local DNS world plays the block lists (listed, not listed, 127.255.255.254, rewritten
NXDOMAIN, a dead list), queried through the project's DNS engine."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.engine import Engine
from mailposture.dns.fake import FakeResolver
from mailposture.dns.server import LocalDnsServer
from mailposture.guard.dnsbl import (
    ERROR,
    LISTED,
    NOT_LISTED,
    UNKNOWN_CODE,
    UNUSABLE,
    Checker,
    expand_targets,
    parse_list,
)
from mailposture.guard.facts_store import FactsStore
from mailposture.guard.store import open_store

WORLD = {
    # a healthy list: test entries right, one address listed with a reason, one answered with a policy code
    "2.0.0.127.good.bl.test": [("A", "127.0.0.2"), ("TXT", "test entry")],
    "10.113.0.203.good.bl.test": [("A", "127.0.0.2"), ("TXT", "Listed: spam seen from 203.0.113.10")],
    "11.113.0.203.good.bl.test": [("A", "127.255.255.254")],
    "12.113.0.203.good.bl.test": [("A", "127.0.0.99")],
    "ns.good.bl.test": [("A", "192.0.2.1")],
    # Spamhaus-style refusal of a public resolver: every answer 127.255.255.254
    "*.policy.bl.test": [("A", "127.255.255.254")],
    # a resolver that rewrites NXDOMAIN to an advertising server
    "*.rewrite.bl.test": [("A", "192.0.2.53")],
    # a list that lists everything, test entry 127.0.0.1 included
    "*.all.bl.test": [("A", "127.0.0.2")],
}
ORIGINS = ["good.bl.test", "policy.bl.test", "rewrite.bl.test", "all.bl.test"]  # dead.bl.test is not served


class ServerThread:
    def __init__(self) -> None:
        self.server = LocalDnsServer(WORLD, origins=ORIGINS, ttl=300)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LocalDnsServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def dns():
    with ServerThread() as srv:
        yield srv


LISTS = [parse_list(z) for z in ("good.bl.test", "policy.bl.test", "rewrite.bl.test", "all.bl.test",
                                 "dead.bl.test")]


def _check(server, ips, clock=None, between=None, lists=LISTS):
    async def go():
        async with Engine([server.address], timeout=0.5, retries=0) as eng:
            ch = Checker(eng, lists, **({"clock": clock} if clock else {}))
            first = await ch.check(ips)
            q1 = ch.queries
            if between:
                between()
            again = await ch.check(ips)
            return first, again, q1, ch.queries
    return asyncio.run(go())


def test_query_rules_against_the_world(dns) -> None:
    first, again, q1, q2 = _check(dns, ["203.0.113.10", "203.0.113.20", "203.0.113.11", "203.0.113.12"])
    by = {(r.ip, r.zone): r for r in first}
    good = by[("203.0.113.10", "good.bl.test")]
    assert good.status == LISTED and good.codes == ["127.0.0.2"]
    assert good.reason == "Listed: spam seen from 203.0.113.10"
    assert by[("203.0.113.20", "good.bl.test")].status == NOT_LISTED
    policy_answer = by[("203.0.113.11", "good.bl.test")]
    assert policy_answer.status == UNUSABLE and "refuses this resolver" in policy_answer.detail
    assert by[("203.0.113.12", "good.bl.test")].status == UNKNOWN_CODE
    for ip in ("203.0.113.10", "203.0.113.20"):
        assert by[(ip, "policy.bl.test")].status == UNUSABLE
        assert "127.255.255.254" in by[(ip, "policy.bl.test")].detail
        assert by[(ip, "rewrite.bl.test")].status == UNUSABLE
        assert "outside 127.0.0.0/8" in by[(ip, "rewrite.bl.test")].detail
        assert by[(ip, "all.bl.test")].status == UNUSABLE  # 127.0.0.1 listed: fails the RFC 5782 §5 check
        assert by[(ip, "dead.bl.test")].status == UNUSABLE
        assert "dead or unreachable" in by[(ip, "dead.bl.test")].detail
    assert not any(r.status == LISTED for r in first if r.zone != "good.bl.test")
    # one query per address per list per TTL: the second round asked nothing
    assert q2 == q1
    assert [(r.ip, r.zone, r.status, r.codes) for r in again] == [(r.ip, r.zone, r.status, r.codes) for r in first]


def test_ttl_expiry_asks_again(dns) -> None:
    now = [1000.0]
    good = [parse_list("good.bl.test")]
    _first, _again, q1, q2 = _check(dns, ["203.0.113.10"], clock=lambda: now[0],
                                    between=lambda: now.__setitem__(0, 1000.0 + 299), lists=good)
    assert q1 == q2 == 4  # health (2), A, TXT; still within the 300 s TTL
    first, _again, q1, q2 = _check(dns, ["203.0.113.10"], clock=lambda: now[0],
                                   between=lambda: now.__setitem__(0, now[0] + 301), lists=good)
    assert first[0].ttl == 300
    assert q2 == 2 * q1  # after the TTL: health and the address asked again


def test_error_is_never_not_listed() -> None:
    fake = FakeResolver({"2.0.0.127.x.test": [("A", "127.0.0.2")], "10.113.0.203.x.test": [("TIMEOUT", None)]})
    res = asyncio.run(Checker(fake, [parse_list("x.test")]).check(["203.0.113.10"]))
    assert res[0].status == ERROR


def test_history_and_changes_in_the_store(tmp_path) -> None:
    st = open_store(f"sqlite:///{tmp_path}/g.db")
    fs = FactsStore(st)
    zone = {"2.0.0.127.x.test": [("A", "127.0.0.2")], "10.113.0.203.x.test": [("A", "127.0.0.2"),
                                                                              ("TXT", "why")]}
    now = [0.0]
    listed = asyncio.run(Checker(FakeResolver(zone), [parse_list("x.test")], clock=lambda: now[0])
                         .check(["203.0.113.10"]))
    ch = fs.record_dnsbl(listed)
    assert ch == [{"ip": "203.0.113.10", "list": "x.test", "from": None, "to": "listed", "reason": "why",
                   "codes": ["127.0.0.2"]}]
    assert fs.record_dnsbl(listed) == []  # same status: no change
    assert [x["ip"] for x in fs.listings()] == ["203.0.113.10"]
    del zone["10.113.0.203.x.test"]
    now[0] = 10_000.0
    gone = asyncio.run(Checker(FakeResolver(zone), [parse_list("x.test")], clock=lambda: now[0])
                       .check(["203.0.113.10"]))
    assert gone[0].status == NOT_LISTED
    ch = fs.record_dnsbl(gone)
    assert ch and ch[0]["from"] == "listed" and ch[0]["to"] == NOT_LISTED
    assert fs.listings() == []
    assert [h["to"] for h in fs.dnsbl_history()] == [NOT_LISTED, LISTED]


def test_targets_and_list_specs() -> None:
    assert expand_targets(["192.0.2.0/30", "192.0.2.1"]) == ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"]
    with pytest.raises(ValueError, match="not an IP"):
        expand_targets(["mail.example"])
    with pytest.raises(ValueError, match="too many"):
        expand_targets(["10.0.0.0/8"])
    bl = parse_list("x.test=127.0.0.2,127.0.0.4-127.0.0.6;v6")
    assert bl.listed == {"127.0.0.2", "127.0.0.4", "127.0.0.5", "127.0.0.6"} and bl.v6
    assert parse_list("zen.spamhaus.org").listed >= {"127.0.0.2", "127.0.0.4", "127.0.0.10"}
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        parse_list("x.test=10.0.0.2")


def test_cli_check_and_status(dns, tmp_path) -> None:
    runner = CliRunner()
    store = f"sqlite:///{tmp_path}/g.db"
    base = ["guard", "dnsbl", "check", "-n", dns.address, "--timeout", "0.5", "--store", store, "--lang", "en",
            "-L", "good.bl.test", "-L", "rewrite.bl.test"]
    r = runner.invoke(app, [*base, "203.0.113.20"])
    assert r.exit_code == 0, r.output
    assert "not-listed" in r.output and "unusable" in r.output
    r = runner.invoke(app, [*base, "203.0.113.10", "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["changes"][0]["to"] == "listed"
    r = runner.invoke(app, ["guard", "dnsbl", "status", "--store", store, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["listings"][0]["ip"] == "203.0.113.10"
    r = runner.invoke(app, ["guard", "dnsbl", "check", "not-an-ip"])
    assert r.exit_code == 2 and "not an IP" in r.output


def test_guard_status_shows_listings(dns, tmp_path) -> None:
    runner = CliRunner()
    store = f"sqlite:///{tmp_path}/g.db"
    r = runner.invoke(app, ["guard", "dnsbl", "check", "-n", dns.address, "--store", store, "-L", "good.bl.test",
                            "203.0.113.10"])
    assert r.exit_code == 1, r.output
    r = runner.invoke(app, ["guard", "status", "--store", store])
    assert r.exit_code == 0, r.output
    assert "DNSBL listings:   1" in r.output and "203.0.113.10 good.bl.test" in r.output
    r = runner.invoke(app, ["guard", "status", "--store", store, "--json"])
    assert json.loads(r.stdout)["dnsbl_listings"][0]["list"] == "good.bl.test"


def test_cli_watch_rounds_and_notice(dns, tmp_path) -> None:
    from test_web_common import SmtpSink

    with SmtpSink() as sink:
        cfg = tmp_path / "guard.toml"
        cfg.write_text(f'store_url = "sqlite:///{tmp_path}/g.db"\nsmtp_relay = "127.0.0.1:{sink.port}"\n'
                       f'[dnsbl]\nips = ["203.0.113.10", "203.0.113.20"]\nlists = ["good.bl.test", "policy.bl.test"]\n'
                       f'nameservers = ["{dns.address}"]\nnotify = "noc@example.jp"\n')
        r = CliRunner().invoke(app, ["guard", "dnsbl", "watch", "--config", str(cfg), "--rounds", "2", "--interval",
                                     "1", "--lang", "en"])
        assert r.exit_code == 0, r.output
        assert "round 1: 1 listing(s), 1 change(s), unusable: policy.bl.test" in r.output
        assert "round 2: 1 listing(s), 0 change(s)" in r.output  # no change, no second notice
        assert len(sink.messages) == 1
        _frm, rcpts, msg = sink.messages[0]
        assert rcpts == ["noc@example.jp"] and "203.0.113.10" in msg.get_content()
