"""Names the engine must match whatever octets their labels hold (issue 10, "Names the DNS engine cannot match").

An answer's owner name is decoded in escaped presentation form (RFC 1035 §5.1); the query name may come raw (an
SPF macro expansion: ``user@example.com``, ``dollar$``) or escaped. Both are compared in one canonical form, so
every octet value 0-255 in a label comes back as the record it names — end to end through the engine, UDP and
the local authoritative server (dnspython decodes and answers on its side: an independent name codec).
"""

from __future__ import annotations

import pytest

from mailposture.checks.spf.evaluate import check_host
from mailposture.dns.engine import Engine
from mailposture.dns.server import LocalDnsServer
from mailposture.dns.wire import canonical_name, encode_name


def owner(o: int) -> str:
    return f"x\\{o:03d}y.oct.test"  # master-file escape of the octet (RFC 1035 §5.1)


def spellings(o: int) -> list[str]:
    """Every way a caller may write the name with octet ``o`` in its first label."""
    ch = chr(o)
    names = [owner(o), owner(o).upper()]  # escaped; in upper case (RFC 4343 §3)
    if ch == "\\":
        names.append("x\\\\y.oct.test")
    elif ch == ".":
        names.append("x\\.y.oct.test")
    elif o < 0x80:
        names.append(f"x{ch}y.oct.test")  # raw: '@', '$', '(', ')', ';', '"', ' ', control characters…
        if ch in '@$();" ':
            names.append(f"x\\{ch}y.oct.test")
    return names


WORLD = {owner(o): [("TXT", f"octet={o}")] for o in range(256)}
WORLD["alias.oct.test"] = [("CNAME", "x\\064y.oct.test")]  # a CNAME to "x@y"
WORLD["sender.test"] = [("TXT", "v=spf1 exists:%{s}.s.oct.test exists:%{l}.l.oct.test -all")]
WORLD["user\\@sender.test.s.oct.test"] = [("A", "127.0.0.2")]
WORLD["dollar\\$.l.oct.test"] = [("A", "127.0.0.2")]
WORLD["back\\\\slash.l.oct.test"] = [("A", "127.0.0.2")]


@pytest.fixture(scope="module")
def names_server():
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    srv = LocalDnsServer(WORLD, origins=["oct.test", "sender.test"])
    loop.run_until_complete(srv.start())
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    yield srv
    loop.call_soon_threadsafe(loop.stop)
    t.join(5)
    loop.run_until_complete(srv.stop())
    loop.close()


async def test_every_octet_in_a_label_matches_its_record(names_server) -> None:
    wrong = []
    async with Engine([names_server.address], timeout=1, retries=2) as e:
        for o in range(256):
            for name in spellings(o):
                a = await e.query(name, "TXT")
                # "xAy" and "xay" are one name (RFC 4343 §3): that RRset holds both records
                same = {o, o ^ 0x20} if chr(o).isascii() and chr(o).isalpha() else {o}
                if a.status != "ok" or sorted(a.txt_strings()) != sorted(f"octet={v}" for v in same):
                    wrong.append((o, name, a.status, a.error, a.records))
        assert e.stats.malformed == 0
    assert wrong == []


async def test_cname_to_an_escaped_owner(names_server) -> None:
    async with Engine([names_server.address], timeout=1) as e:
        a = await e.query("alias.oct.test", "TXT")
    assert a.status == "ok" and a.txt_strings() == ["octet=64"] and a.cname_chain == ("x\\@y.oct.test",)


@pytest.mark.parametrize("sender, result", [
    ("user@sender.test", "pass"),        # exists:%{s}: the sender always contains "@"
    ("dollar$@sender.test", "pass"),     # exists:%{l} with "$" in the local part
    ("back\\slash@sender.test", "pass"),  # a backslash in the local part
    ("nobody@sender.test", "fail"),
])
async def test_spf_exists_with_odd_local_parts(names_server, sender: str, result: str) -> None:
    async with Engine([names_server.address], timeout=1) as e:
        r = await check_host("192.0.2.1", "sender.test", sender, resolver=e)
    assert r.result == result, r.to_json()
    if result == "pass":
        assert r.void_lookups == 0 or sender.startswith("dollar") or sender.startswith("back")


def test_canonical_form_is_the_decoded_form() -> None:
    from mailposture.dns.wire import decode_name

    for o in range(256):
        for name in spellings(o):
            wire = encode_name(name)
            decoded, _ = decode_name(wire, 0)
            assert canonical_name(name) == decoded, (o, name)
            assert encode_name(decoded) == wire.lower()  # the canonical text encodes back to the same octets
