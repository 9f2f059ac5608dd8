"""`domains hunt`: grouping by registrable domain, label rotation, the DNS proof and the verdicts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from tests.worlds import spam_domains as world
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.dns.server import LocalDnsServer
from mailposture.domains.aggregate import Aggregator, max_in_window, registrable
from mailposture.domains.hunt import verdicts
from mailposture.domains.observe import Observation, ReadStats, read_inputs
from mailposture.domains.proof import authorizes_something, serial_date
from mailposture.domains.verdict import REASONS


def _agg() -> Aggregator:
    agg = Aggregator()
    for name, t, ip in world.observations():
        agg.add(Observation(name, t, ip=ip))
    return agg


async def _verdicts(resolver, lang: str = "en") -> dict[str, dict]:
    return {r["domain"]: r async for r in verdicts(_agg(), resolver, lang=lang)}


def _resolver() -> FakeResolver:
    return FakeResolver(world.zone([n for n, _, _ in world.observations()]))


async def test_every_domain_gets_its_verdict() -> None:
    got = await _verdicts(_resolver())
    assert {d: r["verdict"] for d, r in got.items() if d in world.TRUTH} == world.TRUTH


async def test_no_object_for_a_public_suffix_and_private_suffix_names_are_owners() -> None:
    got = await _verdicts(_resolver())
    assert "co.jp" not in got and "jp" not in got
    # blogspot.com is a private-section suffix: each blog is its own registrable domain, not a rotating label
    assert "blogspot.com" not in got
    assert {"abc123xyz.blogspot.com", "qq9zt7.blogspot.com"} <= set(got)
    assert registrable("x.y.abc.blogspot.com") == "abc.blogspot.com"


def test_registrable_from_the_parent_name_equals_the_library_on_every_rule() -> None:
    """registrable() answers from the parent name when no PSL rule can tell them apart: around every rule of the
    bundled list (the rule itself, one and two labels under it, under its parent, odd names) it must say what
    the library says for the whole name."""
    from mailposture.domains.aggregate import _psl, _rule_parents

    psl = _psl()
    parents = _rule_parents()
    assert parents is not None and "kawasaki.jp" in parents and "amazonaws.com" in parents
    names = ["aa.crm.dev", "us-east-1.rds.amazonaws.com", "S3.AMAZONAWS.COM", "s3.amazonaws.com.", "x.com",
             "a.b.c.example.co.jp", ".x.com", "x..com", "x.com.", "com", "", "city.kawasaki.jp",
             "a.city.kawasaki.jp", "a.b.kawasaki.jp", "s3.amazonaws.com", "x.s3.amazonaws.com"]
    for rule in psl._publicsuffix:
        base = rule.lstrip("!").replace("*", "wc")
        up = base.partition(".")[2]
        names += [base, f"lbl.{base}", f"x9.lbl.{base}", f"lbl.{up}", up, f"lbl.{up}.", f"LBL.{up.upper()}"]
    for name in names:
        assert registrable(name) == psl.privatesuffix(name), name


async def test_wildcard_proof_is_reported_with_its_record_and_probe() -> None:
    got = await _verdicts(_resolver())
    wild = got["spamwild.test"]
    codes = [r["code"] for r in wild["reasons"]]
    assert {"DOM_ROTATING_LABELS", "DOM_RANDOM_LABELS", "DOM_SINGLE_USE_LABELS", "DOM_WILDCARD_SPF",
            "DOM_SPF_PASS", "DOM_WILDCARD_A", "DOM_SOA_SERIAL_DATE"} <= set(codes)
    assert wild["spf"]["wildcard"] is True and wild["spf"]["record"] == "v=spf1 ip4:192.0.2.0/24 -all"
    assert wild["spf"]["probe"].endswith(".spamwild.test") and wild["spf"]["probe"].startswith("mp-")
    assert wild["labels"]["distinct"] == 40 and wild["labels"]["parent"] == "spamwild.test"
    assert wild["first_seen"] < wild["last_seen"] and wild["registrar"] is None
    assert wild["score"] > got["spamseen.test"]["score"] > got["cdnhash.test"]["score"]
    deep = got["spamdeep.test"]
    assert deep["labels"]["parent"] == "mta.spamdeep.test" and deep["spf"]["wildcard"] is True
    parked = got["parkedall.test"]
    assert "DOM_WILDCARD_SPF_NOTHING" in [r["code"] for r in parked["reasons"]]


async def test_benign_lookalikes_keep_their_reasons() -> None:
    got = await _verdicts(_resolver())
    cdn = {r["code"] for r in got["cdnhash.test"]["reasons"]}
    assert "DOM_WILDCARD_A" in cdn and "DOM_WILDCARD_SPF" not in cdn and got["cdnhash.test"]["score"] < 0.5
    assert got["mailprov.test"]["labels"]["random_share"] < 0.3
    assert {r["code"] for r in got["small.test"]["reasons"]} == {"DOM_FEW_LABELS"}


async def test_dns_failure_is_unknown_not_benign_proof() -> None:
    zone = world.zone([n for n, _, _ in world.observations()])
    resolver = FakeResolver(zone)
    orig = resolver.query

    async def query(name: str, rdtype: str):
        if name.endswith("spamwild.test"):
            return await FakeResolver({name: [("TIMEOUT", None)]}).query(name, rdtype)
        return await orig(name, rdtype)

    resolver.query = query  # type: ignore[method-assign]
    got = await _verdicts(resolver)
    wild = got["spamwild.test"]
    assert wild["spf"]["wildcard"] is None           # unknown, never "no wildcard"
    assert "DOM_DNS_UNKNOWN" in [r["code"] for r in wild["reasons"]]
    assert wild["verdict"] == "benign"


async def test_reasons_in_japanese() -> None:
    got = await _verdicts(_resolver(), lang="ja")
    details = " ".join(r["detail"] for r in got["spamwild.test"]["reasons"])
    assert "使われたことのないラベル" in details and "種類のラベル" in details
    for code, (en, ja) in REASONS.items():
        assert en and ja and code.startswith("DOM_")


def test_window_and_helpers() -> None:
    t = world.T0
    times = [t, t + timedelta(hours=1), t + timedelta(days=3), t + timedelta(days=3, hours=2)]
    assert max_in_window(times, timedelta(hours=2)) == 2
    assert max_in_window(times, timedelta(days=4)) == 4
    assert authorizes_something("v=spf1 ip4:192.0.2.1 -all")
    assert not authorizes_something("v=spf1 -all") and not authorizes_something("v=spf1 ~all")
    assert authorizes_something("v=spf1 redirect=_spf.example.com")
    assert serial_date(2026110101) == "2026-11-01" and serial_date(1) is None and serial_date(2026133101) is None


def test_inputs_text_csv_postfix_and_messages(tmp_path) -> None:
    (tmp_path / "names.txt").write_text("a.example.com\n# comment\n\nnot a name\nB.Example.COM.\n")
    (tmp_path / "obs.csv").write_text("name,time,count\nx1.example.org,2026-11-01T00:00:00Z,3\n"
                                      "bad,2026-11-01T00:00:00Z,1\nx2.example.org,yesterday,1\n"
                                      "x3.example.org,,0\n")
    (tmp_path / "maillog").write_text(
        "Nov  1 10:00:00 mx postfix/smtpd[1]: 4ABC123DEF: client=k3pz9a.spam.example[192.0.2.9]\n"
        "Nov  1 10:00:01 mx postfix/qmgr[2]: 4ABC123DEF: from=<x@q7x.spam.example>, size=1, nrcpt=1\n"
        "Nov  1 10:00:02 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[198.51.100.1]: 554; "
        "from=<a@zz1.other.example> to=<b@c> proto=ESMTP helo=<helo.other.example>\n"
        "Nov  1 10:00:03 mx kernel: something else\n")
    (tmp_path / "m.eml").write_bytes(
        b"Return-Path: <bounce@r1.mailer.example>\r\nFrom: Shop <news@shop.example>\r\n"
        b"DKIM-Signature: v=1; a=rsa-sha256; d=sign.example; s=s1; b=abc\r\n"
        b"Received: from helo1.sender.example (unknown [192.0.2.1]) by mx\r\nSubject: x\r\n\r\nbody\r\n")
    stats = ReadStats()
    obs = list(read_inputs([str(tmp_path / f) for f in ("names.txt", "obs.csv", "maillog", "m.eml")], stats))
    names = [(o.name, o.source) for o in obs]
    assert ("a.example.com", "text") in names and ("b.example.com", "text") in names
    x1 = next(o for o in obs if o.name == "x1.example.org")
    assert x1.count == 3 and x1.time.isoformat() == "2026-11-01T00:00:00+00:00"
    assert not any(o.name.startswith(("x2.", "x3.")) for o in obs)       # bad time, bad count: skipped
    q7 = next(o for o in obs if o.name == "q7x.spam.example")
    assert q7.ip == "192.0.2.9" and q7.source == "mail-from"              # the queue id links the client
    assert ("k3pz9a.spam.example", "client") in names and ("helo.other.example", "helo") in names
    assert ("zz1.other.example", "mail-from") in names
    assert {("r1.mailer.example", "return-path"), ("shop.example", "from"), ("sign.example", "dkim"),
            ("helo1.sender.example", "helo")} <= set(names)
    assert stats.skipped >= 5 and any("not a domain name" in p for p in stats.problems)


def test_cli_json_lines_through_the_engine(tmp_path) -> None:
    """End to end: a CSV of observations, the DNS served on 127.0.0.1, JSON Lines out, exit 0."""
    from tests.worlds.relays import LoopThread

    obs = world.observations()
    path = tmp_path / "obs.csv"
    path.write_text("name,time,count\n" + "".join(f"{n},{t.isoformat()},1\n" for n, t, _ in obs))
    zone = world.zone([n for n, _, _ in obs])
    origins = [d for d in world.TRUTH]
    with LoopThread() as lt:
        server = LocalDnsServer(zone, origins=origins)
        lt.run(server.start())
        try:
            res = CliRunner().invoke(app, ["domains", "hunt", str(path), "--format", "json", "-n", server.address,
                                           "--timeout", "2", "--only-flagged"])
        finally:
            lt.run(server.stop())
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {r["domain"]: r["verdict"] for r in rows} == {d: v for d, v in world.TRUTH.items() if v != "benign"}
    for r in rows:
        assert set(r) >= {"domain", "verdict", "score", "reasons", "labels", "spf", "first_seen", "last_seen",
                          "registrar"}
        assert set(r["labels"]) >= {"distinct", "random_share", "examples"}


@pytest.mark.parametrize("args,needle", [
    (["--format", "xml"], "--format"),
    (["--input-format", "pdf"], "--input-format"),
    (["--window", "soon"], "duration"),
])
def test_cli_bad_options(tmp_path, args, needle) -> None:
    path = tmp_path / "n.txt"
    path.write_text("a.example.com\n")
    res = CliRunner().invoke(app, ["domains", "hunt", str(path), "--no-dns", *args])
    assert res.exit_code == 2 and needle in res.output


def test_cli_missing_file_and_csv_without_name(tmp_path) -> None:
    res = CliRunner().invoke(app, ["domains", "hunt", str(tmp_path / "nope.txt"), "--no-dns"])
    assert res.exit_code == 2 and "no such file" in res.output and "Traceback" not in res.output
    bad = tmp_path / "x.csv"
    bad.write_text("host,time\na.example.com,\n")
    res = CliRunner().invoke(app, ["domains", "hunt", str(bad), "--no-dns"])
    assert res.exit_code == 2 and "'name' column" in res.output


def _spam_run_log(n: int) -> str:
    """A Postfix log of ``n`` accepted messages of a random-label spam run: each message is logged by smtpd
    (client=) and qmgr (from=) under its queue id, with the same random name as client host and sender domain."""
    import random

    rnd = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    lines = []
    for i in range(n):
        label = "".join(rnd.choice(alphabet) for _ in range(9))
        qid = f"{0x4A0000 + i:X}B1"
        ts = f"Dec  1 10:{i // 60 % 60:02d}:{i % 60:02d}"
        lines.append(f"{ts} mx postfix/smtpd[9]: {qid}: client={label}.spamrun.example[192.0.2.{i % 250 + 1}]")
        lines.append(f"{ts} mx postfix/qmgr[8]: {qid}: from=<b@{label}.spamrun.example>, size=900, nrcpt=1")
        lines.append(f"{ts} mx postfix/smtpd[9]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1; "
                     f"from=<x@{label}.mta.other.example> to=<u@city.example.jp> proto=ESMTP "
                     f"helo=<{label}.mta.other.example>")
    return "\n".join(lines) + "\n"


def test_postfix_counts_a_name_once_per_message(tmp_path) -> None:
    """One message = one observation of its name, however many lines log it: otherwise every label of a spam
    run looks seen twice and the run is never recognised as rotating single-use labels."""
    from mailposture.domains.verdict import Thresholds, rotation

    log = tmp_path / "maillog"
    log.write_text(_spam_run_log(3000))
    stats = ReadStats()
    agg = Aggregator()
    agg.add_all(read_inputs([str(log)], stats))
    assert stats.lines == 9000 and stats.used == 9000 and stats.skipped == 0
    for dom in ("spamrun.example", "other.example"):
        d = agg.domains[dom]
        assert d.observations == 3000
        rot = rotation(d, Thresholds())
        assert rot.distinct == 3000 and rot.once_share == 1.0 and rot.rotating, (dom, rot)
    assert next(iter(agg.domains["spamrun.example"].parents.values())).labels   # labels kept with their ip
    # the same sender rejected again (a second line, no queue id) is a second observation
    log.write_text(_spam_run_log(1).splitlines()[2] + "\n" + _spam_run_log(1).splitlines()[2] + "\n")
    obs = list(read_inputs([str(log)], ReadStats()))
    assert [o.source for o in obs] == ["mail-from", "mail-from"]


def test_input_broken_off_keeps_what_was_read_and_exits_2(tmp_path) -> None:
    import gzip

    names = "".join(f"host{i}.example.net\n" for i in range(2000)).encode()
    whole = gzip.compress(names)
    (tmp_path / "cut.txt.gz").write_bytes(whole[: len(whole) // 2])
    res = CliRunner().invoke(app, ["domains", "hunt", str(tmp_path / "cut.txt.gz"), "--no-dns", "--format", "json",
                                   "--lang", "en"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "cut.txt.gz" in res.stderr and "read only in part" in res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows and rows[0]["domain"] == "example.net" and 0 < rows[0]["observations"] < 2000
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    res = CliRunner().invoke(app, ["domains", "hunt", str(tmp_path / "junk.gz"), "--no-dns", "--lang", "ja"])
    assert res.exit_code == 2 and "junk.gz" in res.stderr and "途中までしか読めません" in res.stderr


def test_csv_row_over_the_field_limit_is_skipped_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("name,time,count\nok1.example.com,,1\n" + "a" * 200_000 + ".example.com,,1\n"
                    "ok2.example.com,,1\n")
    stats = ReadStats()
    names = [o.name for o in read_inputs([str(path)], stats)]
    assert names == ["ok1.example.com", "ok2.example.com"]
    assert stats.skipped == 1 and "field limit" in stats.problems[0]
    res = CliRunner().invoke(app, ["domains", "hunt", str(path), "--no-dns", "--lang", "ja"])
    assert res.exit_code == 0 and "Traceback" not in res.output and "スキップ: row" in res.stderr


def test_cli_unreachable_dns_keeps_rotating_domains_in_view(tmp_path) -> None:
    """With --only-flagged and a resolver that does not answer, the spam domains' proof is unknown: they are
    still listed (not hidden as benign) and a warning names them and the likely cause."""
    obs = world.observations()
    path = tmp_path / "obs.csv"
    path.write_text("name,time,count\n" + "".join(f"{n},{t.isoformat()},1\n" for n, t, _ in obs))
    res = CliRunner().invoke(app, ["domains", "hunt", str(path), "--format", "json", "-n", "127.0.0.1:9",
                                   "--timeout", "0.3", "--retries", "0", "--only-flagged", "--lang", "en"])
    assert res.exit_code == 0, res.output
    rows = {r["domain"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert {"spamwild.test", "spamdeep.test", "spamseen.test"} <= set(rows)
    for r in rows.values():
        assert r["spf"]["wildcard"] is None and "DOM_DNS_UNKNOWN" in [x["code"] for x in r["reasons"]]
    assert f"{len(rows)} domain(s) with rotating labels could not be proven because DNS failed" in res.stderr


def test_mbox_counts_a_name_once_per_message(tmp_path) -> None:
    """Return-Path, From and the Received HELO of one spam message usually carry the same random name: one
    sighting, so a run of such messages shows single-use labels (and is probed), not labels seen three times."""
    import random

    from mailposture.domains.verdict import Thresholds, judge, rotation

    rnd = random.Random(9)
    parts = []
    for i in range(200):
        lab = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(9))
        parts.append(f"From bounce@{lab}.spamx.example Mon Dec  7 10:00:00 2026\n"
                     f"Return-Path: <bounce@{lab}.spamx.example>\n"
                     f"Received: from {lab}.spamx.example (unknown [192.0.2.{i % 250 + 1}])\n\tby mx.example.jp\n"
                     f"From: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= <info@{lab}.spamx.example>\n"
                     f"Subject: x\nDate: not a date\n\nbody {i}\n\n")
    (tmp_path / "spam.mbox").write_text("".join(parts))
    agg = Aggregator()
    agg.add_all(read_inputs([str(tmp_path / "spam.mbox")], ReadStats()))
    d = agg.domains["spamx.example"]
    rot = rotation(d, Thresholds())
    assert d.observations == 200 and rot.once_share == 1.0 and rot.rotating
    # a domain with many labels that are not single-use says which share kept it from counting as rotation
    (tmp_path / "names.txt").write_text("".join(f"{lab}.spamx.example\n" * 2 for lab in
                                                ("".join(rnd.choice("abcdefghij0123456789") for _ in range(9))
                                                 for _ in range(30))))
    agg = Aggregator()
    agg.add_all(read_inputs([str(tmp_path / "names.txt")], ReadStats()))
    d = agg.domains["spamx.example"]
    res = judge(d, rotation(d, Thresholds()), None, Thresholds(), "en")
    detail = next(r["detail"] for r in res["reasons"] if r["code"] == "DOM_NOT_PROBED")
    assert "only 0% were seen once, under 50%" in detail and "do not rotate" not in detail
    res = judge(d, rotation(d, Thresholds()), None, Thresholds(), "ja")
    assert "1 回だけのラベルが 0% で 50% 未満" in next(r["detail"] for r in res["reasons"] if r["code"] == "DOM_NOT_PROBED")


def test_internationalised_names_are_observed_as_a_labels(tmp_path) -> None:
    from mailposture.domains.observe import clean_name

    assert clean_name("info@メール.例え.jp") == "xn--4dkua4c.xn--r8jz45g.jp"
    assert clean_name("ＡＢＣ.example.jp") == "abc.example.jp"        # full-width letters: IDNA maps them
    assert clean_name("bad\udcff.example.jp") is None
    (tmp_path / "names.txt").write_text("メール.例え.jp\n", encoding="utf-8")
    stats = ReadStats()
    assert [o.name for o in read_inputs([str(tmp_path / "names.txt")], stats)] == ["xn--4dkua4c.xn--r8jz45g.jp"]
    assert stats.skipped == 0


async def test_dictionary_word_labels_flag_only_with_the_wildcard_proof() -> None:
    """Two-word labels do not look random one by one; many letters-only labels nearly all seen once under a
    wildcard SPF that authorizes something are flagged (DOM_SINGLE_USE_WORDS). The same labels with SPF on the
    seen names only, or customer words seen several times under a wildcard SPF, stay benign."""
    got = await _verdicts(_resolver())
    words = got["spamwords.test"]
    codes = [r["code"] for r in words["reasons"]]
    assert words["verdict"] == "random-subdomain-spf" and "DOM_SINGLE_USE_WORDS" in codes
    assert "DOM_RANDOM_LABELS" not in codes and words["labels"]["random_share"] < 0.3   # the model alone misses
    assert "DOM_WILDCARD_SPF" in codes and words["score"] >= 0.5
    seen = got["wordsseen.test"]
    assert seen["verdict"] == "benign" and "DOM_SINGLE_USE_WORDS" in [r["code"] for r in seen["reasons"]]
    assert seen["spf"]["wildcard"] is False
    cust = got["custwild.test"]
    assert cust["verdict"] == "benign" and cust["spf"]["wildcard"] is None            # not probed: not single-use
    assert "DOM_NOT_PROBED" in [r["code"] for r in cust["reasons"]]
    ja = (await _verdicts(_resolver(), lang="ja"))["spamwords.test"]
    assert any("英字のみのラベルが 40 種類" in r["detail"] for r in ja["reasons"])


def test_dictionary_word_path_respects_min_labels_and_digits() -> None:
    from mailposture.domains.verdict import Thresholds, rotation

    d = _agg().domains["spamwords.test"]
    assert rotation(d, Thresholds()).single_use_words and rotation(d, Thresholds()).probe
    assert not rotation(d, Thresholds(min_labels=50)).single_use_words        # 40 labels: under --min-labels
    agg = Aggregator()
    for i in range(40):                                                       # ISP-style names: digits
        agg.add(Observation(f"p{1000 + i}-ipngn{200 + i}tokyo.isp.example"))
    assert not rotation(agg.domains["isp.example"], Thresholds()).single_use_words
