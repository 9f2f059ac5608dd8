"""`domains abuse`: RDAP (nested abuse entity and variants), WHOIS fallback (JPRS, IANA referral), hosting,
drafts — against a local RDAP server (an ASGI app) and a local WHOIS responder on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
from typer.testing import CliRunner

from mailposture.cli import app as cli_app
from mailposture.domains.rdap import AbuseClient, bootstrap_map, parse_domain, parse_whois

VERISIGN_STYLE = {
    "objectClassName": "domain", "ldhName": "SPAMWILD.TEST", "status": ["client transfer prohibited"],
    "events": [{"eventAction": "registration", "eventDate": "2026-10-30T01:02:03Z"},
               {"eventAction": "expiration", "eventDate": "2027-10-30T01:02:03Z"}],
    "nameservers": [{"objectClassName": "nameserver", "ldhName": "NS1.SPAMWILD.TEST"}],
    "entities": [{
        "objectClassName": "entity", "handle": "9999", "roles": ["registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar, Inc."]]],
        "entities": [{"objectClassName": "entity", "roles": ["abuse"],
                      "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", ""],
                                               ["tel", {"type": "voice"}, "uri", "tel:+1.5555550100"],
                                               ["email", {}, "text", "abuse@registrar.example"]]]}],
    }],
}
ODD_VARIANT = {   # abuse entity at the top level, roles in capitals, mailto: address, registrar named by handle
    "objectClassName": "domain", "ldhName": "spamdeep.test",
    "entities": [{"roles": ["REGISTRAR"], "handle": "Odd Registrar Ltd"},
                 {"roles": ["Abuse"], "vcardArray": ["vcard", [["email", {}, "uri", "mailto:abuse@odd.example"]]]}],
}
IP_NETWORK = {"objectClassName": "ip network", "handle": "NET-192-0-2-0-1", "name": "TEST-NET-1", "country": "ZZ",
              "startAddress": "192.0.2.0", "endAddress": "192.0.2.255",
              "entities": [{"roles": ["registrant"], "entities": [
                  {"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", "abuse@hoster.example"]]]}]}]}
JPRS = """[ JPRS database provides information on network administration. ]
Domain Information:
a. [Domain Name]                SPAMJP.JP
g. [Organization]               Example K.K.
p. [Name Server]                ns1.spamjp.jp
[Created on]                    2026/10/01
[Expires on]                    2027/10/31
[Status]                        Active
[Last Updated]                  2026/10/01 01:05:09 (JST)
"""
THIN = """Domain Name: SPAMOLD.OLDTLD
Registrar: Old Registrar LLC
Registrar IANA ID: 1234
Registrar Abuse Contact Email: abuse@old.example
Registrar Abuse Contact Phone: +81.300000000
Creation Date: 2026-09-09T00:00:00Z
Registry Expiry Date: 2027-09-09T00:00:00Z
Domain Status: ok https://icann.org/epp#ok
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rdap_server():
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    hits: list[str] = []
    api = FastAPI()

    @api.get("/rdap/domain/{name}")
    def domain(name: str):
        hits.append(name)
        docs = {"spamwild.test": VERISIGN_STYLE, "spamdeep.test": ODD_VARIANT}
        if name.lower() not in docs:
            return JSONResponse({"errorCode": 404, "title": "Not Found"}, status_code=404)
        return JSONResponse(docs[name.lower()], media_type="application/rdap+json")

    @api.get("/ip/ip/{addr}")
    def ip(addr: str):
        return JSONResponse(IP_NETWORK, media_type="application/rdap+json")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", hits
    server.should_exit = True
    th.join(10)


@pytest.fixture(scope="module")
def whois_server():
    """One WHOIS responder on 127.0.0.1 playing JPRS, IANA (referral) and a thin gTLD registry."""
    from tests.worlds.relays import LoopThread

    queries: list[str] = []

    async def handle(reader, writer):
        q = (await reader.readline()).decode().strip()
        queries.append(q)
        if q.lower().endswith(".jp/e"):
            text = JPRS
        elif q.lower() == "oldtld":
            text = "% IANA WHOIS server\ndomain:       OLDTLD\nrefer:        127.0.0.1:" + str(port) + "\n"
        elif q.lower().endswith(".oldtld"):
            text = THIN
        else:
            text = "No match\n"
        writer.write(text.encode())
        await writer.drain()
        writer.close()

    port = _free_port()
    with LoopThread() as lt:
        srv = lt.run(asyncio.start_server(handle, "127.0.0.1", port))
        yield f"127.0.0.1:{port}", queries
        srv.close()


def _bootstrap(tmp_path, base: str):
    doc = {"version": "1.0", "publication": "2026-11-30T00:00:00Z",
           "services": [[["test"], [base + "/rdap/", "http://unused.invalid/"]]]}
    path = tmp_path / "dns.json"
    path.write_text(json.dumps(doc))
    return path


def test_parse_registrar_nested_abuse_and_variant() -> None:
    got = parse_domain(VERISIGN_STYLE)
    assert got["registrar"] == {"name": "Example Registrar, Inc.", "iana_id": "9999", "handle": "9999"}
    assert got["abuse"]["email"] == "abuse@registrar.example" and got["abuse"]["phone"] == "+1.5555550100"
    assert got["registered"] == "2026-10-30T01:02:03Z" and got["nameservers"] == ["ns1.spamwild.test"]
    odd = parse_domain(ODD_VARIANT)
    assert odd["registrar"]["name"] == "Odd Registrar Ltd" and odd["abuse"]["email"] == "abuse@odd.example"
    assert parse_domain({})["registrar"] is None


def test_parse_whois_shapes() -> None:
    jp = parse_whois(JPRS)
    assert jp["registered"] == "2026/10/01" and jp["expires"] == "2027/10/31" and jp["status"] == ["Active"]
    thin = parse_whois(THIN)
    assert thin["registrar"]["name"] == "Old Registrar LLC" and thin["registrar"]["iana_id"] == "1234"
    assert thin["abuse"]["email"] == "abuse@old.example"


def test_bundled_bootstrap_is_dated_and_prefers_https() -> None:
    from mailposture.domains.rdap import load_bootstrap

    doc = load_bootstrap()
    assert doc["publication"][:4].isdigit()
    m = bootstrap_map(doc)
    assert m["com"].startswith("https://") and m["com"].endswith("/") and len(m) > 500
    assert bootstrap_map({"services": [[["x"], ["http://a/", "https://b"]]]}) == {"x": "https://b/"}


async def test_client_rdap_whois_and_politeness(rdap_server, whois_server, tmp_path) -> None:
    base, hits = rdap_server
    whois, queries = whois_server
    client = AbuseClient({"test": base + "/rdap/"}, ip_rdap=base + "/ip/", min_interval=0.2,
                         whois_servers={"jp": whois, "iana": whois}, cache_dir=tmp_path / "cache")
    t0 = time.monotonic()
    a = await client.domain("spamwild.test")
    b = await client.domain("spamdeep.test")
    assert time.monotonic() - t0 >= 0.2            # two requests to one host: one interval apart
    assert a["source"] == "rdap" and a["abuse"]["email"] == "abuse@registrar.example"
    assert b["abuse"]["email"] == "abuse@odd.example"
    again = await client.domain("spamwild.test")
    assert again == a and hits.count("spamwild.test") == 1       # cached
    jp = await client.domain("spamjp.jp")
    assert jp["source"] == "whois" and jp["registered"] == "2026/10/01" and "spamjp.jp/e" in queries
    old = await client.domain("spamold.oldtld")                  # no RDAP: IANA's refer: then the registry
    assert old["registrar"]["name"] == "Old Registrar LLC" and old["abuse"]["email"] == "abuse@old.example"
    net = await client.ip_network("192.0.2.10")
    assert net["abuse"]["email"] == "abuse@hoster.example" and net["name"] == "TEST-NET-1"
    fresh = AbuseClient({"test": base + "/rdap/"}, cache_dir=tmp_path / "cache")
    n = len(hits)
    assert (await fresh.domain("spamwild.test"))["registrar"] == a["registrar"] and len(hits) == n   # disk cache
    from mailposture.domains.rdap import AbuseLookupError

    with pytest.raises(AbuseLookupError, match="404"):
        await client.domain("unknown.test")


def test_cli_abuse_json_and_drafts(rdap_server, whois_server, tmp_path) -> None:
    base, _ = rdap_server
    whois, _ = whois_server
    boot = _bootstrap(tmp_path, base)
    evidence = tmp_path / "hunt.jsonl"
    evidence.write_text(json.dumps({
        "domain": "spamwild.test", "verdict": "random-subdomain-spf", "score": 0.95,
        "labels": {"distinct": 40, "examples": ["k3pz9a", "x7fk2q"]},
        "spf": {"wildcard": True, "record": "v=spf1 ip4:192.0.2.0/24 -all", "probe": "mp-1.spamwild.test"},
        "first_seen": "2026-11-01T00:00:00+00:00", "last_seen": "2026-11-02T00:00:00+00:00"}) + "\n")
    common = ["--rdap-bootstrap", str(boot), "--ip-rdap", base + "/ip", "--whois-server", f"jp={whois}",
              "--min-interval", "0", "-n", "127.0.0.1:9", "--timeout", "0.3"]
    res = CliRunner().invoke(cli_app, ["domains", "abuse", "spamwild.test", "spamjp.jp", "--format", "json", *common])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert rows[0]["registration"]["registrar"]["name"] == "Example Registrar, Inc."
    assert rows[0]["bootstrap_publication"] == "2026-11-30T00:00:00Z"
    assert rows[1]["registration"]["source"] == "whois"
    res = CliRunner().invoke(cli_app, ["domains", "abuse", "spamwild.test", "--draft", "ja", "--evidence",
                                       str(evidence), "--reporter", "WG <wg@example.jp>", *common])
    assert res.exit_code == 0, res.output
    assert "To: abuse@registrar.example" in res.output and "mp-1.spamwild.test IN TXT" in res.output
    assert "不正利用" in res.output and "k3pz9a" in res.output and "WG <wg@example.jp>" in res.output
    res = CliRunner().invoke(cli_app, ["domains", "abuse", "spamwild.test", "--draft", "en", "--evidence",
                                       str(evidence), *common])
    assert "Dear Example Registrar, Inc. abuse team" in res.output and "RAA" in res.output


def test_cli_abuse_bad_input(tmp_path) -> None:
    res = CliRunner().invoke(cli_app, ["domains", "abuse", "not a domain"])
    assert res.exit_code == 2 and "not a valid domain name" in res.output
    res = CliRunner().invoke(cli_app, ["domains", "abuse", "a.test", "--whois-server", "nohost"])
    assert res.exit_code == 2 and "TLD=HOST" in res.output
    res = CliRunner().invoke(cli_app, ["domains", "abuse", "a.test", "--rdap-bootstrap", str(tmp_path / "no.json")])
    assert res.exit_code == 2 and "bootstrap" in res.output


def test_cli_abuse_names_dns_operator_and_hosting(rdap_server, tmp_path) -> None:
    """NS → the DNS operator's registrable domain; A → ASN (origin.asn.cymru.com TXT through --nameserver) and
    the network's abuse contact (RIR RDAP)."""
    from tests.worlds.relays import LoopThread

    from mailposture.dns.server import LocalDnsServer

    base, _ = rdap_server
    zone = {"spamwild.test": [("NS", "ns1.dnsop.test"), ("NS", "ns2.dnsop.test"), ("A", "192.0.2.10")],
            "10.2.0.192.origin.asn.cymru.com": [("TXT", "64500 | 192.0.2.0/24 | ZZ | test | 2026-01-01")]}
    with LoopThread() as lt:
        server = LocalDnsServer(zone, origins=["spamwild.test", "asn.cymru.com"])
        lt.run(server.start())
        try:
            res = CliRunner().invoke(cli_app, ["domains", "abuse", "spamwild.test", "--format", "json",
                                               "--rdap-bootstrap", str(_bootstrap(tmp_path, base)), "--ip-rdap",
                                               base + "/ip/", "--min-interval", "0", "-n", server.address])
        finally:
            lt.run(server.stop())
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert row["dns_operators"] == ["dnsop.test"]
    assert row["hosting"] == [{"ip": "192.0.2.10", "asn": {"asn": "64500", "prefix": "192.0.2.0/24", "country": "ZZ"},
                               "network": {"ip": "192.0.2.10", "network": "NET-192-0-2-0-1", "name": "TEST-NET-1",
                                           "country": "ZZ", "start": "192.0.2.0", "end": "192.0.2.255",
                                           "abuse": {"name": None, "email": "abuse@hoster.example",
                                                     "emails": ["abuse@hoster.example"], "phone": None,
                                                     "handle": None}}}]


def test_hunt_abuse_fills_registrar_of_flagged_domains_only(rdap_server, tmp_path) -> None:
    from tests.worlds import spam_domains as world
    from tests.worlds.relays import LoopThread

    from mailposture.dns.server import LocalDnsServer

    base, _ = rdap_server
    obs = world.observations()
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{n}\n" for n, _, _ in obs))
    with LoopThread() as lt:
        server = LocalDnsServer(world.zone([n for n, _, _ in obs]), origins=list(world.TRUTH))
        lt.run(server.start())
        try:
            res = CliRunner().invoke(cli_app, ["domains", "hunt", str(names), "--format", "json", "--abuse",
                                               "--rdap-bootstrap", str(_bootstrap(tmp_path, base)),
                                               "-n", server.address])
        finally:
            lt.run(server.stop())
    assert res.exit_code == 0, res.output
    rows = {r["domain"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["spamwild.test"]["registrar"]["registrar"]["name"] == "Example Registrar, Inc."
    assert rows["spamseen.test"]["registrar"] == {"error": rows["spamseen.test"]["registrar"]["error"]}
    assert "404" in rows["spamseen.test"]["registrar"]["error"]
    assert rows["cdnhash.test"]["registrar"] is None            # benign: nothing asked


def test_cli_abuse_dns_failure_is_unknown_not_none(rdap_server, tmp_path) -> None:
    """An unreachable --nameserver: DNS operators and hosting are unknown (null, the error said), never an empty
    list that reads as "no DNS operator"."""
    base, _ = rdap_server
    common = ["spamwild.test", "--rdap-bootstrap", str(_bootstrap(tmp_path, base)), "--ip-rdap", base + "/ip/",
              "--min-interval", "0", "-n", "127.0.0.1:9", "--timeout", "0.3"]
    res = CliRunner().invoke(cli_app, ["domains", "abuse", *common, "--format", "json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert row["dns_operators"] is None and row["hosting"] is None
    assert any(e.startswith("DNS spamwild.test NS:") for e in row["errors"])
    res = CliRunner().invoke(cli_app, ["domains", "abuse", *common, "--lang", "ja"])
    assert res.exit_code == 0 and "DNS 事業者: 不明 (DNS エラー)" in res.output
