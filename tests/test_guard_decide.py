"""Every branch of the guard's decision order (decide.py), with a fixed geo map and injected user states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.guard.config import GuardConfig
from mailposture.guard.decide import AllowList, Policy, normalise_allow_entry, parse_client_address
from mailposture.guard.geo import StaticGeo
from mailposture.guard.store import UserRecord, UserState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GEO = StaticGeo({"8.8.8.8": "US", "133.1.1.1": "JP", "2001:4860:4860::8888": "US", "2400:4050::1": "JP",
                 "1.2.3.4": None, "81.2.69.142": "GB"})


def policy(**kw) -> Policy:
    allow = kw.pop("allow", None)
    return Policy(GuardConfig(**kw), GEO, AllowList.from_entries(allow or []))


def states(records: dict[str, UserRecord] | None = None, fresh: bool = True):
    records = records or {}
    return lambda u: (records.get(u, UserRecord(u, UserState.RESTRICTED)), fresh)


def req(ip: str, user: str = "alice@example.test", **extra: str) -> dict[str, str]:
    return {"request": "smtpd_access_policy", "protocol_state": "RCPT", "sasl_username": user,
            "client_address": ip, "client_name": extra.pop("client_name", "unknown"), **extra}


def test_unauthenticated_is_dunno() -> None:
    d = policy().decide(req("8.8.8.8", user=""), states(), NOW)
    assert (d.action, d.verdict, d.reason, d.audit) == ("DUNNO", "ignored", "unauthenticated", False)
    d = policy().decide({"request": "smtpd_access_policy", "client_address": "8.8.8.8"}, states(), NOW)
    assert d.reason == "unauthenticated"


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.5.5", "100.64.1.1",
                                "169.254.1.1", "192.0.2.1", "198.51.100.7", "203.0.113.5", "::1",
                                "fd00::1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0", "224.0.0.5"])
def test_non_global_addresses_are_internal_and_never_geolocated(ip: str) -> None:
    class NoGeo(StaticGeo):
        def lookup(self, ip: str) -> str | None:
            raise AssertionError(f"geolocated {ip}")
    p = Policy(GuardConfig(), NoGeo({}))
    d = p.decide(req(ip), states(), NOW)
    assert (d.action, d.verdict, d.reason) == ("DUNNO", "allowed", "internal")


def test_configured_internal_network() -> None:
    d = policy(internal_networks=["8.8.8.0/24"]).decide(req("8.8.8.8"), states(), NOW)
    assert d.reason == "internal"
    assert policy().decide(req("8.8.8.8"), states(), NOW).reason == "restricted"


def test_allowlist_cidr_and_verified_hostname_suffix() -> None:
    p = policy(allow=["8.8.8.0/24", "google.com"])
    assert p.decide(req("8.8.8.8"), states(), NOW).reason == "allowlist"
    d = p.decide(req("81.2.69.142", client_name="mail-yw1-f170.google.com"), states(), NOW)
    assert (d.action, d.reason) == ("DUNNO", "allowlist")
    assert p.decide(req("81.2.69.142", client_name="google.com"), states(), NOW).reason == "allowlist"
    # Not verified by Postfix ("unknown"), a look-alike, or only the unverified reverse name: no match.
    assert p.decide(req("81.2.69.142", client_name="unknown",
                        reverse_client_name="mail.google.com"), states(), NOW).reason == "restricted"
    assert p.decide(req("81.2.69.142", client_name="evilgoogle.com"), states(), NOW).reason == "restricted"
    assert p.decide(req("81.2.69.142", client_name="google.com.evil.example"), states(), NOW).reason == "restricted"


def test_home_country_v4_and_v6_and_other_home_sets() -> None:
    d = policy().decide(req("133.1.1.1"), states(), NOW)
    assert (d.action, d.reason, d.country, d.audit) == ("DUNNO", "home", "JP", False)
    assert policy().decide(req("IPV6:2400:4050::1"), states(), NOW).reason == "home"
    assert policy(home_countries={"JP", "US"}).decide(req("8.8.8.8"), states(), NOW).reason == "home"


def test_abroad_restricted_is_rejected_with_bilingual_text() -> None:
    d = policy(owner_page_url="https://mail.example.jp/x").decide(req("8.8.8.8"), states(), NOW)
    assert d.verdict == "refused" and d.reason == "restricted" and d.country == "US" and d.audit
    assert d.action.startswith("REJECT ")
    assert "outside Japan" in d.action and "海外からの送信" in d.action and "https://mail.example.jp/x" in d.action
    assert "\n" not in d.action
    assert policy().decide(req("2001:4860:4860::8888"), states(), NOW).verdict == "refused"


def test_unknown_user_is_restricted_and_username_is_normalised() -> None:
    recs = {"bob@example.test": UserRecord("bob@example.test", UserState.ABROAD_ALWAYS)}
    d = policy().decide(req("8.8.8.8", user="  Bob@Example.TEST "), states(recs), NOW)
    assert d.verdict == "allowed" and d.username == "bob@example.test"
    assert policy().decide(req("8.8.8.8", user="nobody@x"), states(recs), NOW).verdict == "refused"


def test_abroad_until_future_allowed_with_prepend_and_past_refused() -> None:
    future = {"alice@example.test": UserRecord("alice@example.test", UserState.ABROAD_UNTIL, NOW + timedelta(days=1))}
    d = policy().decide(req("8.8.8.8", recipient_count="0"), states(future), NOW)
    assert (d.verdict, d.reason) == ("allowed", "abroad-until") and d.audit
    assert d.action == "PREPEND X-Submission-Country: US (abroad-until)"
    # Later recipients of the same message: no second header.
    assert policy().decide(req("8.8.8.8", recipient_count="1"), states(future), NOW).action == "DUNNO"
    # Header disabled.
    assert policy(prepend_header=None).decide(req("8.8.8.8"), states(future), NOW).action == "DUNNO"
    past = {"alice@example.test": UserRecord("alice@example.test", UserState.ABROAD_UNTIL, NOW - timedelta(seconds=1))}
    d = policy().decide(req("8.8.8.8"), states(past), NOW)
    assert (d.verdict, d.reason) == ("refused", "restricted")


def test_abroad_always() -> None:
    recs = {"alice@example.test": UserRecord("alice@example.test", UserState.ABROAD_ALWAYS)}
    d = policy().decide(req("8.8.8.8"), states(recs), NOW)
    assert (d.verdict, d.reason) == ("allowed", "abroad-always")


@pytest.mark.parametrize("ip, cc", [("133.1.1.1", "JP"), ("10.0.0.1", None), ("8.8.8.8", "US")])
def test_locked_is_refused_everywhere_even_at_home_internal_and_allowlisted(ip: str, cc: str | None) -> None:
    recs = {"alice@example.test": UserRecord("alice@example.test", UserState.LOCKED)}
    p = policy(allow=["8.8.8.0/24"])
    d = p.decide(req(ip), states(recs), NOW)
    assert (d.verdict, d.reason, d.country) == ("refused", "locked", cc)
    assert d.action.startswith("REJECT ") and "locked" in d.action and d.audit
    # Even when the store is unreachable, a known lock stays in force.
    assert p.decide(req(ip), states(recs, fresh=False), NOW).reason == "locked"


def test_unknown_country_default_refuse_but_opt_in_still_counts() -> None:
    d = policy().decide(req("1.2.3.4"), states(), NOW)
    assert (d.verdict, d.reason, d.country) == ("refused", "unknown-country", None)
    recs = {"alice@example.test": UserRecord("alice@example.test", UserState.ABROAD_ALWAYS)}
    assert policy().decide(req("1.2.3.4"), states(recs), NOW).verdict == "allowed"
    d = policy(unknown_country_action="allow").decide(req("1.2.3.4"), states(), NOW)
    assert (d.action, d.reason) == ("DUNNO", "unknown-country-allowed")


@pytest.mark.parametrize("bad", ["", "not-an-ip", "999.1.1.1", "unknown"])
def test_unusable_client_address_is_never_internal(bad: str) -> None:
    d = policy().decide(req(bad), states(), NOW)
    assert d.verdict == "refused" and d.reason == "unknown-country"


def test_store_unavailable_fail_closed_and_fail_open() -> None:
    d = policy().decide(req("8.8.8.8"), states(fresh=False), NOW)
    assert (d.verdict, d.reason) == ("tempfail", "store-unavailable")
    assert d.action.startswith("451 4.3.0 ")
    d = policy(on_store_error="fail-open").decide(req("8.8.8.8"), states(fresh=False), NOW)
    assert (d.action, d.verdict) == ("DUNNO", "allowed")
    # Domestic mail does not depend on the store at all.
    assert policy().decide(req("133.1.1.1"), states(fresh=False), NOW).reason == "home"


def test_parse_client_address() -> None:
    assert str(parse_client_address("IPV6:2001:db8::1")) == "2001:db8::1"
    assert str(parse_client_address("::ffff:8.8.8.8")) == "8.8.8.8"
    assert parse_client_address("8.8.8.8/32") is None


@pytest.mark.parametrize("entry, norm", [("192.0.2.0/24", "192.0.2.0/24"), ("192.0.2.7/24", "192.0.2.0/24"),
                                         ("8.8.8.8", "8.8.8.8/32"), (".Google.COM.", "google.com"),
                                         ("2001:db8::/32", "2001:db8::/32"), ("1e100.net", "1e100.net")])
def test_allow_entry_normalisation(entry: str, norm: str) -> None:
    assert normalise_allow_entry(entry) == norm


@pytest.mark.parametrize("entry, msg", [("0.0.0.0/0", "too broad"), ("::/0", "too broad"), ("com", "two labels"),
                                        ("bad_host.example", "host-name"), ("300.1.1.1", "not a CIDR"), ("", "empty")])
def test_allow_entry_errors(entry: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        normalise_allow_entry(entry)


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=400, deadline=None)
@given(user=_text, ip=st.one_of(_text, st.ip_addresses().map(str)), name=_text, rc=_text)
def test_fuzz_decide_never_raises_and_never_allows_a_restricted_user_abroad(user: str, ip: str, name: str,
                                                                            rc: str) -> None:
    p = policy()
    d = p.decide(req(ip, user=user, client_name=name, recipient_count=rc), states(), NOW)
    assert d.action.split(" ", 1)[0] in ("DUNNO", "REJECT", "PREPEND", "451")
    assert "\n" not in d.action
    if user.strip() and d.verdict == "allowed":
        # A restricted user is only let through from home or internal addresses (nothing is allow-listed here).
        assert d.reason in ("home", "internal"), d


def test_allow_list_bounds_are_one_rule_for_store_and_server() -> None:
    """What the store refuses to add, the policy server also ignores when it finds it stored (legacy rows)."""
    from mailposture.guard.decide import AllowList, normalise_allow_entry
    from mailposture.guard.store import check_allow_entry

    for broad in ("10.0.0.0/8", "133.0.0.0/15", "2001:db8::/31", "co.jp", "com.cn"):
        with pytest.raises(ValueError):
            normalise_allow_entry(broad)
        with pytest.raises(ValueError):
            check_allow_entry(broad)
    allow = AllowList.from_entries(["133.0.0.0/8", "co.jp", "192.0.2.0/24", "google.com"])
    assert len(allow) == 2 and allow.match_name("mail.example.co.jp") is None
    assert check_allow_entry("133.1.0.0/16") == normalise_allow_entry("133.1.0.0/16") == "133.1.0.0/16"


# -- IPv6 transition and special-purpose addresses (issue 17): internal means the operator's own networks ----
@pytest.mark.parametrize("ip, embedded", [
    ("64:ff9b::808:808", "8.8.8.8"),                          # NAT64 well-known prefix, RFC 6052 §2.1
    ("64:ff9b:1::808:808", "8.8.8.8"),                        # NAT64 local-use prefix, RFC 8215
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "8.8.8.8"),      # Teredo, RFC 4380 §4 (client address inverted)
    ("2002:808:808::1", "8.8.8.8"),                           # 6to4, RFC 3056 §2
    ("64:ff9b::8501:101", "133.1.1.1"),
])
def test_translation_addresses_take_the_embedded_ipv4_country(ip: str, embedded: str) -> None:
    d = policy().decide(req(ip), states(), NOW)
    want = GEO.lookup(embedded)
    if want == "JP":
        assert (d.verdict, d.reason, d.country) == ("allowed", "home", "JP")
    else:  # the attack: before, Teredo and NAT64 were "internal", allowed for every user and not audited
        assert (d.verdict, d.reason, d.country, d.audit) == ("refused", "restricted", want, True)


@pytest.mark.parametrize("ip", ["2001:2::1", "2001:db8::5", "100::1", "2001:20::1", "64:ff9b::a00:1",
                                "2001:0:4136:e378:8000:63bf:f5ff:fffe"])
def test_special_purpose_ipv6_is_not_internal(ip: str) -> None:
    # benchmarking, documentation, discard-only, ORCHIDv2; NAT64 and Teredo of a private IPv4 address
    d = policy().decide(req(ip), states(), NOW)
    assert d.verdict == "refused" and d.reason in ("restricted", "unknown-country") and d.audit


def test_operator_networks_stay_internal_and_configurable() -> None:
    for ip in ("10.1.1.1", "100.64.0.1", "127.0.0.1", "169.254.0.1", "::1", "fe80::1", "fd12:3456::1"):
        assert policy().decide(req(ip), states(), NOW).reason == "internal", ip
    p = policy(internal_networks=["2001:db8:100::/48"])
    assert p.decide(req("2001:db8:100::7"), states(), NOW).reason == "internal"
    assert p.decide(req("2001:db8:200::7"), states(), NOW).reason != "internal"


def test_home_reason_is_the_policy_servers_answer_for_a_restricted_user() -> None:
    p = policy(allow=["81.2.69.0/24"])
    assert p.home_reason("133.1.1.1") == ("home", "JP")
    assert p.home_reason("10.0.0.1") == ("internal", None)
    assert p.home_reason("81.2.69.142")[0] == "allowlist"
    assert p.home_reason("8.8.8.8") == (None, "US")
    assert p.home_reason("not an address") == (None, None)
    assert policy(unknown_country_action="allow").home_reason("1.2.3.4")[0] == "unknown-country-allowed"


# -- the IPv4 fast path (integer tables) gives the answers of the ipaddress-based path --------------------------

def _slow_classify(p: Policy, ip: str):
    """Policy.classify's general path, spelled out with the ipaddress-based helpers."""
    from mailposture.guard.addresses import geo_address, is_internal

    addr = parse_client_address(ip)
    if addr is None:
        return None
    if is_internal(addr, p.internal):
        return (str(addr), True, False, None)
    if p.allow.match_ip(addr):
        return (str(addr), False, True, None)
    where = geo_address(addr)
    return (str(addr), False, False, GEO.lookup(where) if where else None)


def test_v4_non_global_table_equals_ipaddress() -> None:
    import ipaddress
    import random

    from mailposture.guard.addresses import _V4_CUTS, is_non_global, is_non_global_v4

    rnd = random.Random(4)
    probes = {c + d for c in _V4_CUTS for d in (-1, 0, 1) if 0 <= c + d <= 0xFFFFFFFF}
    probes |= {rnd.getrandbits(32) for _ in range(50_000)} | {0, 0xFFFFFFFF}
    wrong = [n for n in probes if is_non_global_v4(n) != is_non_global(ipaddress.IPv4Address(n))]
    assert not wrong, [str(ipaddress.IPv4Address(n)) for n in wrong[:5]]
    assert is_non_global_v4(int(ipaddress.IPv4Address("100.64.0.1")))  # RFC 6598
    assert not is_non_global_v4(int(ipaddress.IPv4Address("8.8.8.8")))


def test_v4_int_takes_canonical_text_only() -> None:
    from mailposture.guard.addresses import v4_int

    assert v4_int("192.0.2.1") == 0xC0000201 and v4_int("0.0.0.0") == 0 and v4_int("255.255.255.255") == 2**32 - 1
    for odd in ("01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1.2.3.4 ", "١.2.3.4", "", "::1",
                "1.2.3.0x1", "+1.2.3.4"):
        assert v4_int(odd) is None, odd


def test_fast_classify_equals_general_path_with_allowlist_and_internal_networks() -> None:
    import random

    rnd = random.Random(9)
    p = policy(internal_networks=["203.0.113.0/24", "198.51.100.128/25", "2001:db8:1::/48"],
               allow=["8.8.8.0/24", "81.2.64.0/20", "81.2.69.0/24", "2001:4860::/32", "mail.example.com"])
    ips = ["8.8.8.8", "133.1.1.1", "1.2.3.4", "81.2.69.142", "203.0.113.7", "198.51.100.127", "198.51.100.128",
           "100.64.0.1", "127.0.0.1", "192.168.1.1", "224.0.0.1", "240.0.0.1", "0.0.0.0", "81.2.63.255",
           "81.2.80.0", "01.2.3.4", "IPV6:2001:4860:4860::8888", "::ffff:8.8.8.8", "2400:4050::1"]
    ips += [f"{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
            for _ in range(5000)]
    for ip in ips:
        assert p.classify(ip) == _slow_classify(p, ip), ip
