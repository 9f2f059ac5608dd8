"""Async DNS: answer types, the network engine and a fake resolver for tests.

The loopback worlds (:mod:`mailposture.dns.server`, :mod:`mailposture.dns.nsd`, :mod:`mailposture.dns.zonefile`)
are imported from their modules so that importing this package stays cheap.
"""

from mailposture.dns.engine import (
    DnsConfigError,
    Engine,
    EngineStats,
    parse_nameserver,
    run,
    system_nameservers,
)
from mailposture.dns.types import Answer, QueryStats, Resolver, TrackingResolver
from mailposture.dns.wire import WireError

__all__ = ["Answer", "DnsConfigError", "Engine", "EngineStats", "QueryStats", "Resolver", "TrackingResolver",
           "WireError", "parse_nameserver", "run", "system_nameservers"]
