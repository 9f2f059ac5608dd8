"""Async DNS: answer types, the network engine and a fake resolver for tests."""

from mailposture.dns.types import Answer, QueryStats, Resolver, TrackingResolver

__all__ = ["Answer", "QueryStats", "Resolver", "TrackingResolver"]
