"""DKIM/ARC public keys: fetched through the project's DNS engine, handed to dkimpy through its ``dnsfunc`` hook.

The engine is asynchronous and dkimpy is not, so the bridge works by pre-fetching: the verifier reads every
``s=``/``d=`` pair of the message's DKIM-Signature, ARC-Message-Signature and ARC-Seal fields, queries all the
key names at once (concurrently, through whatever resolver the caller gave: ``--nameserver``, a recorded
cache, a fake world), and then runs dkimpy with :meth:`KeyBook.dnsfunc`, which answers from those results. A
name dkimpy asks for that was not fetched raises :class:`KeyNotFetched` (not a dkimpy exception, so it is not
swallowed); the caller fetches it and runs again. No event loop is ever blocked and no thread is needed
(bench/message_bench.py measures this against a worker thread calling back into the loop: 1.44x faster).

ARC validation reads its keys through ``dnsfunc``. DKIM signatures use the same pre-fetched answers, but the key
record is parsed here (:func:`parse_key`) so that the rules dkimpy does not apply (h=, t=s, empty p=, k= vs a=)
can be checked and named before dkimpy's canonicalisation and crypto run.

A DNS failure is never "no key": ``dnsfunc`` raises dkimpy's ``DnsTimeoutError`` for it and the name is kept
in :attr:`KeyBook.errors`, so results say ``temperror`` rather than ``fail`` (RFC 6376 §6.1.2).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from mailposture.dns.types import Answer, Resolver


class KeyNotFetched(Exception):
    """dkimpy asked for a key name that was not pre-fetched (the caller fetches it and retries)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def key_name(selector: bytes | str, domain: bytes | str) -> str:
    """RFC 6376 §3.6.2.1: ``<selector>._domainkey.<domain>``, lower-cased, no trailing dot."""
    s = selector.decode("utf-8", "replace") if isinstance(selector, bytes) else selector
    d = domain.decode("utf-8", "replace") if isinstance(domain, bytes) else domain
    return f"{s}._domainkey.{d}".rstrip(".").lower()


def _norm(name: bytes | str) -> str:
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
    return text.rstrip(".").lower()


class KeyBook:
    """TXT answers of key names, looked up through ``resolver`` (answers kept for the result)."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.answers: dict[str, Answer] = {}
        self.errors: set[str] = set()
        self.asked: list[str] = []

    async def fetch(self, names: list[str]) -> None:
        todo = [n for n in dict.fromkeys(names) if n and n not in self.answers]
        if not todo:
            return
        got = await asyncio.gather(*(self._one(n) for n in todo))
        for name, ans in zip(todo, got, strict=True):
            self.answers[name] = ans

    async def _one(self, name: str) -> Answer:
        try:
            return await self.resolver.query(name, "TXT")
        except Exception as exc:  # a name the engine refuses (too long, bad label): an error, not "no key"
            return Answer(name, "TXT", "error", rcode="", error=f"invalid name: {exc}")

    def dnsfunc(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """dkimpy's hook: the first TXT record at ``name`` (joined strings, RFC 6376 §3.6.2.2), None if none."""
        key = _norm(name)
        self.asked.append(key)
        ans = self.answers.get(key)
        if ans is None:
            raise KeyNotFetched(key)
        if ans.status == "error":
            self.errors.add(key)
            raise dkim.DnsTimeoutError(f"{key}: {ans.error}")
        if not ans.ok or not ans.records:
            return None
        return b"".join(ans.records[0])


@dataclass(slots=True)
class KeyRecord:
    """A DKIM key record (RFC 6376 §3.6.1) as the verifier needs it."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)
    k: str = "rsa"
    hashes: tuple[str, ...] | None = None       # h= (None: any)
    flags: tuple[str, ...] = ()                 # t=
    services: tuple[str, ...] = ("*",)          # s=
    revoked: bool = False                        # p= empty
    pk: Any = None
    bits: int | None = None
    problem: str | None = None                  # why it cannot be used (None: usable)


def parse_key(text: str) -> KeyRecord:
    """Parse and check a key record; ``problem`` names the first reason it cannot verify anything."""
    rec = KeyRecord(text)
    try:
        tags = {k.decode(): v.decode("utf-8", "replace") for k, v in parse_tag_value(text.encode()).items()}
    except (InvalidTagValueList, ValueError, UnicodeError) as exc:
        rec.problem = f"key record syntax: {exc}"
        return rec
    rec.tags = tags
    if "v" in tags and tags["v"] != "DKIM1":  # §3.6.1: v= when present must be first and DKIM1
        rec.problem = f"v={tags['v']} is not DKIM1"
        return rec
    rec.k = tags.get("k", "rsa").strip().lower()
    if "h" in tags:
        rec.hashes = tuple(h.strip().lower() for h in tags["h"].split(":") if h.strip())
    rec.flags = tuple(f.strip().lower() for f in tags.get("t", "").split(":") if f.strip())
    rec.services = tuple(s.strip().lower() for s in tags.get("s", "*").split(":") if s.strip()) or ("*",)
    if "p" not in tags:
        rec.problem = "no p= tag"
        return rec
    p = "".join(tags["p"].split())
    if not p:
        rec.revoked = True   # §3.6.1: an empty p= means the key has been revoked
        return rec
    if rec.k not in ("rsa", "ed25519"):
        rec.problem = f"unknown key type k={rec.k}"
        return rec
    if not ({"*", "email"} & set(rec.services)):
        rec.problem = f"service s={tags.get('s')} does not include email"
        return rec
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        rec.problem = "p= is not base64"
        return rec
    try:
        if rec.k == "ed25519":   # RFC 8463 §4.2: the raw 32-byte public key
            import nacl.exceptions
            import nacl.signing

            if len(raw) != 32:
                rec.problem = f"Ed25519 key is {len(raw)} bytes, not 32"
                return rec
            try:
                rec.pk = nacl.signing.VerifyKey(raw)
            except nacl.exceptions.CryptoError as exc:
                rec.problem = f"Ed25519 key: {exc}"
                return rec
            rec.bits = 256
        else:
            from dkim.crypto import UnparsableKeyError, parse_public_key

            try:
                rec.pk = parse_public_key(raw)
            except (UnparsableKeyError, IndexError, TypeError, ValueError) as exc:
                rec.problem = f"RSA key does not parse: {exc}"
                return rec
            rec.bits = dkim.bitsize(rec.pk["modulus"])
    except Exception as exc:  # a key the crypto layer chokes on is unusable, never a traceback
        rec.problem = f"key does not parse: {exc}"
    return rec
