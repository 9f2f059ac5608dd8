"""Geo sources: iptocc (default, data inside the wheel) and an operator's .mmdb file, reloaded when it changes.

The .mmdb files are written here by a minimal writer of the MaxMind DB format (IPv4 tree, 24-bit records),
enough for country lookups; the reader under test is the real ``maxminddb``.
"""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

import pytest

from mailposture.guard.geo import GeoError, IptoccGeo, MmdbGeo, open_geo


# -- a tiny MaxMind DB writer (https://maxmind.github.io/MaxMind-DB/) -------------------------------------------
def _ctrl(type_: int, size: int) -> bytes:
    assert size < 29
    if type_ <= 7:
        return bytes([(type_ << 5) | size])
    return bytes([size, type_ - 7])  # extended type


def _enc(v) -> bytes:
    if isinstance(v, str):
        b = v.encode()
        return _ctrl(2, len(b)) + b
    if isinstance(v, dict):
        return _ctrl(7, len(v)) + b"".join(_enc(k) + _enc(x) for k, x in v.items())
    if isinstance(v, list):
        return _ctrl(11, len(v)) + b"".join(_enc(x) for x in v)
    if isinstance(v, tuple):  # (type, int): 5 uint16, 6 uint32, 9 uint64
        t, n = v
        b = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
        return _ctrl(t, len(b)) + b
    raise TypeError(v)


def write_mmdb(path: Path, networks: dict[str, str], build_epoch: int) -> None:
    data = b""
    offsets: dict[str, int] = {}
    for cc in sorted(set(networks.values())):
        offsets[cc] = len(data)
        data += _enc({"country": {"iso_code": cc}})
    # Binary trie over the 32 address bits; leaves hold data offsets.
    root: dict = {}
    for net, cc in networks.items():
        n = ipaddress.ip_network(net)
        bits = int(n.network_address)
        node = root
        for i in range(n.prefixlen):
            b = (bits >> (31 - i)) & 1
            node = node.setdefault(b, {}) if i < n.prefixlen - 1 else node
            if i == n.prefixlen - 1:
                node[b] = ("data", cc)
    nodes: list[list] = []

    def build(node: dict) -> int:
        idx = len(nodes)
        nodes.append([None, None])
        for b in (0, 1):
            child = node.get(b)
            nodes[idx][b] = child if isinstance(child, tuple) or child is None else build(child)
        return idx

    build(root)
    count = len(nodes)

    def rec(v) -> int:
        if v is None:
            return count
        if isinstance(v, tuple):
            return count + 16 + offsets[v[1]]
        return v

    tree = b"".join(rec(a).to_bytes(3, "big") + rec(b).to_bytes(3, "big") for a, b in nodes)
    meta = {"binary_format_major_version": (5, 2), "binary_format_minor_version": (5, 0),
            "build_epoch": (9, build_epoch), "database_type": "Test-Country", "description": {"en": "test"},
            "ip_version": (5, 4), "languages": ["en"], "node_count": (6, count), "record_size": (5, 24)}
    path.write_bytes(tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + _enc(meta))


def test_iptocc_default() -> None:
    g = open_geo("iptocc")
    assert isinstance(g, IptoccGeo)
    assert g.lookup("133.1.1.1") == "JP" and g.lookup("8.8.8.8") == "US"
    assert g.lookup("2400:4050::1") == "JP"
    assert g.lookup("not an address") is None
    d = g.describe()
    assert d["source"] == "iptocc" and d["version"] and len(d["data_date"]) == 10


def test_mmdb_lookup_describe_and_reload(tmp_path: Path) -> None:
    p = tmp_path / "c.mmdb"
    write_mmdb(p, {"133.0.0.0/8": "JP", "8.0.0.0/8": "US"}, build_epoch=1_700_000_000)
    g = open_geo(str(p))
    assert isinstance(g, MmdbGeo)
    assert g.lookup("133.1.1.1") == "JP" and g.lookup("8.8.8.8") == "US"
    assert g.lookup("9.9.9.9") is None and g.lookup("garbage") is None
    d = g.describe()
    assert d == {"source": "mmdb", "kind": "Test-Country", "version": "2.0", "data_date": "2023-11-14",
                 "path": str(p)}
    assert g.maybe_reload() is False
    # The operator drops in new data atomically (as geoipupdate does): 8/8 is now placed in Japan.
    new = tmp_path / "c.mmdb.new"
    write_mmdb(new, {"133.0.0.0/8": "JP", "8.0.0.0/8": "JP", "81.0.0.0/8": "GB"}, build_epoch=1_760_000_000)
    os.utime(new, (time.time() + 5, time.time() + 5))
    os.replace(new, p)
    assert g.maybe_reload() is True
    assert g.lookup("8.8.8.8") == "JP" and g.lookup("81.2.69.142") == "GB"
    assert g.describe()["data_date"] == "2025-10-09"
    # A broken new file is ignored: the previous data stays in use.
    new.write_bytes(b"garbage" * 10)
    os.replace(new, p)
    assert g.maybe_reload() is False
    assert g.lookup("8.8.8.8") == "JP"


def test_mmdb_errors(tmp_path: Path) -> None:
    with pytest.raises(GeoError, match="not found"):
        open_geo(str(tmp_path / "missing.mmdb"))
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(GeoError, match="not a valid"):
        open_geo(str(bad))

