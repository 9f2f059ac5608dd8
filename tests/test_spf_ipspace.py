"""Address-space counting for SPF analysis: unions without double counting, first-match order, IPv6 /64s."""

from __future__ import annotations

import ipaddress
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks.spf.ipspace import V4_SIZE, V6_64_SIZE, Space, first_match, merge, size


def nets(*texts):
    return [ipaddress.ip_network(t, strict=False) for t in texts]


def test_overlaps_are_counted_once():
    s = Space.of_networks(nets("192.0.2.0/24", "192.0.2.128/25", "192.0.2.7/32", "192.0.3.0/24", "10.0.0.0/8"))
    assert s.ipv4 == 512 + 2**24
    assert s.v4 == merge(s.v4) and len(s.v4) == 2  # adjacent /24s merged


def test_slash_zero_and_everything():
    assert Space.of_networks(nets("0.0.0.0/0", "192.0.2.0/24")).ipv4 == V4_SIZE
    assert Space.of_networks(nets("::/0")).ipv6_64 == V6_64_SIZE
    assert Space.everything().to_json() == {"ipv4": V4_SIZE, "ipv6_64": V6_64_SIZE}


def test_ipv6_in_64s():
    s = Space.of_networks(nets("2001:db8::/32", "2001:db8:1::1/128", "2001:db9::1/128", "2001:db9::2/128",
                               "2001:dba::/63"))
    assert s.ipv6_64 == 2**32 + 1 + 2
    # an exclusion narrower than a /64 excludes nothing (rounded inward)
    assert Space.of_networks(nets("2001:db9::1/128"), outward=False).ipv6_64 == 0


def test_first_match_order():
    a = [(0, 100)]
    b = [(50, 150)]
    assert first_match([(True, a), (False, b)]) == [(0, 100)]
    assert first_match([(False, b), (True, a)]) == [(0, 50)]
    assert first_match([(False, [(10, 20)]), (True, [(0, 100)]), (True, [(90, 200)])]) == [(0, 10), (20, 200)]
    assert first_match([]) == [] and first_match([(True, [])]) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=4)),
                max_size=8))
def test_first_match_equals_brute_force(entries):
    entries = [(ok, [(min(a, b), max(a, b)) for a, b in ivs]) for ok, ivs in entries]
    want = set()
    for p in range(0, 61):
        for ok, ivs in entries:
            if any(s <= p < e for s, e in ivs):
                if ok:
                    want.add(p)
                break
    got = first_match(entries)
    assert {p for s, e in got for p in range(s, e)} == want
    assert size(got) == len(want)


def test_many_ranges_fast():
    rnd = random.Random(7)
    entries = [(rnd.random() < 0.7, [(x := rnd.randrange(2**32), x + rnd.randrange(1, 2**16))])
               for _ in range(20000)]
    got = first_match(entries)
    assert got == merge(got) and 0 < size(got) < 2**32
