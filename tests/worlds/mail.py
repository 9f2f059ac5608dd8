"""Messages the tests sign themselves: keys, DKIM signatures with any tags, ARC sets with any AAR text, and the
DNS world that serves the keys (a FakeResolver zone, also servable by LocalDnsServer)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from functools import lru_cache

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import CanonicalizationPolicy

BASE = (b"From: Taro <taro@origin.example>\r\nTo: hanako@dest.example\r\nSubject: Meeting\r\n"
        b"Date: Mon, 07 Dec 2026 10:00:00 +0900\r\nMessage-ID: <1@origin.example>\r\nMIME-Version: 1.0\r\n"
        b"\r\nHello,\r\nsee you at ten.\r\n")


@lru_cache(maxsize=8)
def rsa_key(bits: int = 2048) -> tuple[bytes, str]:
    """(PEM private key, base64 DER SubjectPublicKeyInfo for p=)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(pub).decode()


def pem_public(pem: bytes) -> str:
    key = serialization.load_pem_private_key(pem, None)
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(pub).decode()


@lru_cache(maxsize=2)
def ed_key() -> tuple[bytes, str]:
    """(base64 Ed25519 seed as dkimpy takes it, base64 public key for p=)."""
    import nacl.signing

    sk = nacl.signing.SigningKey.generate()
    return base64.b64encode(bytes(sk)), base64.b64encode(bytes(sk.verify_key)).decode()


def sign(message: bytes, *, d: str = "origin.example", s: str = "sel", key: bytes | None = None,
         a: str = "rsa-sha256", headers: tuple[str, ...] = ("from", "to", "subject", "date", "message-id"),
         c: str = "relaxed/relaxed", i: str | None = None, length: bool = False, t: int | None = None,
         x: int | None = None) -> bytes:
    """The message with a DKIM-Signature on top; any tags, including ones dkimpy's sign() refuses (h= without
    from, x=)."""
    key = key if key is not None else rsa_key()[0]
    signer = dkim.DKIM(message)
    signer.signature_algorithm = a.encode()
    if a.startswith("ed25519"):
        import nacl.encoding
        import nacl.signing

        pk = nacl.signing.SigningKey(key, encoder=nacl.encoding.Base64Encoder)
    else:
        pk = dkim.crypto.parse_pem_private_key(key)
    canon = CanonicalizationPolicy.from_c_value(c.encode())
    body = canon.canonicalize_body(signer.body)
    signer.hasher = dkim.HASH_ALGORITHMS[a.encode()]
    h = signer.hasher()
    h.update(body)
    fields = [(b"v", b"1"), (b"a", a.encode()), (b"c", c.encode()), (b"d", d.encode())]
    if i:
        fields.append((b"i", i.encode()))
    if length:
        fields.append((b"l", str(len(body)).encode()))
    fields += [(b"q", b"dns/txt"), (b"s", s.encode()), (b"t", str(t if t is not None else int(time.time())).encode())]
    if x is not None:
        fields.append((b"x", str(x).encode()))
    hs = tuple(x.encode() for x in headers)
    fields += [(b"h", b" : ".join(hs)), (b"bh", base64.b64encode(h.digest())), (b"b", b"0" * 60)]
    value = signer.gen_header(fields, hs, canon, b"DKIM-Signature", pk)
    return b"DKIM-Signature: " + value + message


def arc_seal_raw(message: bytes, aar_body: str, *, cv: str, d: str, s: str, key: bytes,
                 headers: tuple[str, ...] = ("from", "to", "subject", "date", "message-id"),
                 t: int = 1_765_000_000) -> bytes:
    """A new ARC set with an AAR written verbatim (the way dkimpy's sign() would not: it re-serialises the AR
    through authres). Used for provider-specific AAR forms."""
    a = dkim.ARC(message)
    pk = dkim.crypto.parse_pem_private_key(key)
    canon = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    top, with_i = a.sorted_arc_headers()
    instance = top + 1
    arc_headers = [y for _, y in with_i] if cv != "fail" else []
    aar_value = f" i={instance}; {aar_body}".encode() + b"\r\n"
    new = [b"ARC-Authentication-Results:" + aar_value]
    arc_headers.insert(0, (b"ARC-Authentication-Results", aar_value))
    a.headers = canon.canonicalize_headers(arc_headers[:1]) + a.headers
    a.signature_algorithm = b"rsa-sha256"
    a.hasher = dkim.HASH_ALGORITHMS[b"rsa-sha256"]
    h = a.hasher()
    h.update(canon.canonicalize_body(a.body))
    hs = tuple(x.encode() for x in headers)
    ams = [(b"i", str(instance).encode()), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), (b"d", d.encode()),
           (b"s", s.encode()), (b"t", str(t).encode()), (b"h", b" : ".join(hs)),
           (b"bh", base64.b64encode(h.digest())), (b"b", b"0" * 60)]
    ams_value = a.gen_header(ams, hs, canon, b"ARC-Message-Signature", pk)
    new.insert(0, b"ARC-Message-Signature: " + ams_value)
    arc_headers.insert(0, (b"ARC-Message-Signature", ams_value))
    a.headers = canon.canonicalize_headers(arc_headers[:1]) + a.headers
    seal = [(b"i", str(instance).encode()), (b"cv", cv.encode()), (b"a", b"rsa-sha256"), (b"d", d.encode()),
            (b"s", s.encode()), (b"t", str(t).encode()), (b"b", b"0" * 60)]
    as_heads = [x[0].lower() for x in arc_headers]
    as_heads.reverse()
    if cv == "fail":
        a.headers.reverse()
    as_value = a.gen_header(seal, as_heads, canon, b"ARC-Seal", pk)
    new.insert(0, b"ARC-Seal: " + as_value)
    return b"".join(new) + message


@dataclass
class MailWorld:
    """DNS for the signed-message tests: keys, SPF and DMARC of the sending and forwarding domains."""

    zone: dict[str, list[tuple[str, object]]] = field(default_factory=dict)

    def add(self, name: str, rdtype: str, value: object) -> None:
        self.zone.setdefault(name, []).append((rdtype, value))

    def key(self, selector: str, domain: str, p: str, extra: str = "", k: str = "rsa") -> None:
        self.add(f"{selector}._domainkey.{domain}", "TXT", f"v=DKIM1; k={k}; {extra}p={p}")


def default_world() -> MailWorld:
    w = MailWorld()
    w.key("sel", "origin.example", rsa_key()[1])
    w.key("ed", "origin.example", ed_key()[1], k="ed25519")
    w.add("origin.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    w.add("_dmarc.origin.example", "TXT", "v=DMARC1; p=reject; rua=mailto:d@origin.example")
    w.add("mail.origin.example", "A", "192.0.2.10")
    w.key("fwd", "forwarder.example", rsa_key()[1])
    w.key("list", "lists.example", rsa_key()[1])
    w.add("forwarder.example", "TXT", "v=spf1 ip4:198.51.100.0/24 -all")
    w.add("lists.example", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
    w.key("other", "other.example", rsa_key()[1])
    w.add("_dmarc.other.example", "TXT", "v=DMARC1; p=none")
    return w
