"""Space-level first match (the shortcuts of first_match_space) against a point-by-point brute force."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks.spf.ipspace import Space, first_match_space, merge

intervals = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=3).map(
    lambda ivs: merge((min(a, b), max(a, b)) for a, b in ivs))
spaces = st.builds(Space, intervals, intervals)


def brute(entries: list[tuple[bool, Space]], family: str) -> set[int]:
    out = set()
    for p in range(41):
        for ok, space in entries:
            if any(s <= p < e for s, e in getattr(space, family)):
                if ok:
                    out.add(p)
                break
    return out


def points(ivs: list[tuple[int, int]]) -> set[int]:
    return {p for s, e in ivs for p in range(s, e)}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), spaces), max_size=6))
def test_first_match_space_equals_brute_force(entries):
    got = first_match_space(entries)
    assert points(got.v4) == brute(entries, "v4") and points(got.v6) == brute(entries, "v6")
    assert got.v4 == merge(got.v4) and got.v6 == merge(got.v6)  # still merged: ipv4/ipv6_64 sum them as they are
    assert got.ipv4 == len(brute(entries, "v4")) and got.ipv6_64 == len(brute(entries, "v6"))


def test_typical_record_shapes():
    net = Space([(10, 20)], [])
    everything = Space([(0, 100)], [(0, 100)])
    assert first_match_space([(True, net), (False, everything)]) is net  # "ip4:… -all": no copy, no sweep
    assert first_match_space([(False, net), (True, everything)]).v4 == [(0, 10), (20, 100)]  # "-ip4:… +all"
    assert first_match_space([]).ipv4 == 0
