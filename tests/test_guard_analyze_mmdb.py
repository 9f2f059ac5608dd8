"""`guard analyze` with operator .mmdb files: city coordinates for impossible travel, ASN of submissions from
abroad. The files are written by the minimal MaxMind DB writer below (IPv4 tree, 24-bit records); the reader
is the real ``maxminddb``."""

from __future__ import annotations

import ipaddress
import json
import struct
from pathlib import Path

from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.guard.detect import centroid_locator, km_between


def _ctrl(type_: int, size: int) -> bytes:
    assert size < 285
    extra = b""
    if size >= 29:  # sizes 29..284: one more byte holds size - 29 (MaxMind DB spec, "Data Field Format")
        size, extra = 29, bytes([size - 29])
    head = bytes([(type_ << 5) | size]) if type_ <= 7 else bytes([size, type_ - 7])
    return head + extra


def _enc(v) -> bytes:
    if isinstance(v, str):
        b = v.encode()
        return _ctrl(2, len(b)) + b
    if isinstance(v, float):
        return _ctrl(3, 8) + struct.pack(">d", v)
    if isinstance(v, dict):
        return _ctrl(7, len(v)) + b"".join(_enc(k) + _enc(x) for k, x in v.items())
    if isinstance(v, list):
        return _ctrl(11, len(v)) + b"".join(_enc(x) for x in v)
    if isinstance(v, tuple):  # (type, int): 5 uint16, 6 uint32, 9 uint64
        t, n = v
        b = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
        return _ctrl(t, len(b)) + b
    raise TypeError(v)


def write_mmdb(path: Path, networks: dict[str, dict], kind: str) -> None:
    data = b""
    offsets: list[int] = []
    keys = list(networks)
    for net in keys:
        offsets.append(len(data))
        data += _enc(networks[net])
    root: dict = {}
    for i, net in enumerate(keys):
        n = ipaddress.ip_network(net)
        bits, node = int(n.network_address), root
        for k in range(n.prefixlen):
            b = (bits >> (31 - k)) & 1
            if k == n.prefixlen - 1:
                node[b] = ("data", i)
            else:
                node = node.setdefault(b, {})
    nodes: list[list] = []

    def build(node: dict) -> int:
        idx = len(nodes)
        nodes.append([None, None])
        for b in (0, 1):
            c = node.get(b)
            nodes[idx][b] = c if isinstance(c, tuple) or c is None else build(c)
        return idx

    build(root)
    count = len(nodes)

    def rec(v) -> int:
        if v is None:
            return count
        return count + 16 + offsets[v[1]] if isinstance(v, tuple) else v

    tree = b"".join(rec(a).to_bytes(3, "big") + rec(b).to_bytes(3, "big") for a, b in nodes)
    meta = {"binary_format_major_version": (5, 2), "binary_format_minor_version": (5, 0),
            "build_epoch": (9, 1_790_000_000), "database_type": kind, "description": {"en": "test"},
            "ip_version": (5, 4), "languages": ["en"], "node_count": (6, count), "record_size": (5, 24)}
    path.write_bytes(tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + _enc(meta))


TOKYO, OSAKA_KR = (35.69, 139.69), (35.18, 129.08)  # Tokyo and Busan


def _log(path: Path) -> None:
    lines = []
    for d in range(1, 5):  # history at home
        lines.append(f"2026-11-0{d}T10:00:00+09:00 mx postfix/submission/smtpd[1]: A{d:05X}: "
                     "client=unknown[10.0.0.5], sasl_method=PLAIN, sasl_username=taro@example.jp")
    lines += ["2026-11-05T10:00:00+09:00 mx dovecot: imap-login: Login: user=<taro@example.jp>, method=PLAIN, "
              "rip=60.10.0.1, lip=192.0.2.1, mpid=1, TLS, session=<a>",
              "2026-11-05T10:20:00+09:00 mx dovecot: imap-login: Login: user=<taro@example.jp>, method=PLAIN, "
              "rip=60.20.0.1, lip=192.0.2.1, mpid=2, TLS, session=<b>",
              "2026-11-05T10:21:00+09:00 mx postfix/submission/smtpd[1]: B00001: client=unknown[60.20.0.1], "
              "sasl_method=PLAIN, sasl_username=taro@example.jp"]
    path.write_text("".join(x + "\n" for x in lines))


def test_city_coordinates_and_asn(tmp_path: Path) -> None:
    city = tmp_path / "city.mmdb"
    write_mmdb(city, {"60.10.0.0/16": {"country": {"iso_code": "JP"},
                                       "location": {"latitude": TOKYO[0], "longitude": TOKYO[1]}},
                      "60.20.0.0/16": {"country": {"iso_code": "KR"},
                                       "location": {"latitude": OSAKA_KR[0], "longitude": OSAKA_KR[1]}}},
               "Test-City")
    asn = tmp_path / "asn.mmdb"
    write_mmdb(asn, {"60.20.0.0/16": {"autonomous_system_number": (6, 64500),
                                      "autonomous_system_organization": "Example Hosting"}}, "Test-ASN")
    log = tmp_path / "maillog"
    _log(log)
    r = CliRunner().invoke(app, ["guard", "analyze", str(log), "--geo", str(city), "--asn-mmdb", str(asn),
                                 "-f", "json", "--no-progress", "--lang", "en"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout[r.stdout.index("{"):])
    assert rep["geo"]["kind"] == "Test-City"
    assert rep["by_asn_abroad"] == [{"asn": 64500, "org": "Example Hosting", "messages": 1}]
    assert rep["acceptance"]["users_refused"] == 1 and rep["users"]["submitted_abroad"] == 1
    # no account flagged (one access signal is not enough), but the travel signal used the city coordinates
    from mailposture.guard.cli_facts import locator_for
    from mailposture.guard.geo import open_geo

    loc = locator_for(open_geo(str(city)))
    assert loc("60.20.0.1", "KR") == OSAKA_KR
    city_km = km_between(TOKYO, OSAKA_KR)
    centroid_km = km_between(centroid_locator("", "JP"), centroid_locator("", "KR"))
    assert abs(city_km - centroid_km) > 50  # the two sources differ, so the test tells them apart
    from mailposture.guard.config import GuardConfig
    from mailposture.guard.facts import Analyzer
    from mailposture.logs.reader import LogReader

    an = Analyzer(GuardConfig(), open_geo(str(city)), locate=loc)
    an.feed(LogReader([str(log)]).events())
    sig = an.det.accts["taro@example.jp"].sig
    assert sig and sig["GD_IMPOSSIBLE_TRAVEL"][1]["km"] == int(city_km)


def test_bad_asn_file(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    _log(log)
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    r = CliRunner().invoke(app, ["guard", "analyze", str(log), "--asn-mmdb", str(bad)])
    assert r.exit_code == 2 and "not a valid .mmdb" in r.output
