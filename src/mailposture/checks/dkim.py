"""DKIM key discovery and key-record checks (RFC 6376 §3.6, RFC 8301, RFC 8463, RFC 8020).

Selectors cannot be listed, so discovery is a probe: first ``_domainkey.<domain>``: NXDOMAIN there proves that
no selector exists below it (RFC 8020 §2) and ends the probe after one query. Otherwise a dictionary of common
selectors is asked, together with a control query for a random label under ``_domainkey``: when the control
gets an answer, a wildcard is in place and answers identical to it are not counted as keys.

Result status: "ok" (keys found), "none" (NXDOMAIN proof), "unknown" (nothing found among the probed selectors,
which proves nothing), "error" (DNS failures kept the answer from being known).
Pure functions :func:`parse_tag_list`, :func:`parse_key`, :func:`rsa_key_bits` take data, never sockets.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mailposture.dns.types import Answer, Resolver
from mailposture.findings import Finding, finding

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")           # RFC 6376 §3.2 tag-name = ALPHA *ALNUMPUNC
_VALCHARS = re.compile(r"[\x21-\x3a\x3c-\x7e \t\r\n]*")     # §3.2 VALCHAR = %x21-3A / %x3C-7E, plus FWS
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_WS = re.compile(r"[ \t\r\n]+")
RSA_OID = bytes.fromhex("06092a864886f70d010101")          # 1.2.840.113549.1.1.1 rsaEncryption
ED25519_OID = bytes.fromhex("06032b6570")                   # 1.3.101.112


# ------------------------------------------------------------------------------------------------ selectors

def load_selectors(path: str | Path | None = None) -> tuple[str, ...]:
    """Read a selector list (one a line, '#' comments). Raises ValueError naming the file and line when bad."""
    if path is None:
        text = resources.files("mailposture").joinpath("data/dkim_selectors.txt").read_text("utf-8")
        where = "dkim_selectors.txt"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeError) as e:
            raise ValueError(f"cannot read DKIM selector file {path}: {e}") from e
        where = str(path)
    out: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        sel = line.split("#", 1)[0].strip().lower().rstrip(".")
        if not sel:
            continue
        if not valid_selector(sel):
            raise ValueError(f"{where} line {n}: '{sel}' is not a valid DKIM selector")
        if sel not in out:
            out.append(sel)
    return tuple(out)


@cache
def default_selectors() -> tuple[str, ...]:
    return load_selectors(None)


def valid_selector(sel: str) -> bool:
    """RFC 6376 §3.1: selector = sub-domain *( "." sub-domain )."""
    return 0 < len(sel) <= 200 and all(_LABEL.fullmatch(lb) for lb in sel.split("."))


# ------------------------------------------------------------------------------------------------ parsing

def parse_tag_list(text: str) -> tuple[dict[str, str], list[str], list[str]]:
    """RFC 6376 §3.2 tag-list. Returns (tags, order of names, problems).

    Duplicate tags make the whole list invalid (§3.2); values keep inner whitespace (callers strip it where
    the tag allows FWS, e.g. base64 in p=).
    """
    tags: dict[str, str] = {}
    order: list[str] = []
    problems: list[str] = []
    specs = text.split(";")
    for i, spec in enumerate(specs):
        if not spec.strip(" \t\r\n"):
            if i != len(specs) - 1:
                problems.append("empty tag-spec between ';'")
            continue
        if "=" not in spec:
            problems.append(f"'{spec.strip()[:30]}' has no '='")
            continue
        name, value = spec.split("=", 1)
        name, value = name.strip(" \t\r\n"), value.strip(" \t\r\n")
        if not _TAG_NAME.fullmatch(name):
            problems.append(f"'{name[:30]}' is not a valid tag name")
            continue
        if not _VALCHARS.fullmatch(value):
            problems.append(f"tag {name}= has characters outside the allowed range")
        if name in tags:
            problems.append(f"tag {name}= appears more than once (the record is invalid)")
            continue
        tags[name] = value
        order.append(name)
    return tags, order, problems


def _der(buf: bytes, pos: int) -> tuple[int, int, int]:
    """One DER TLV at pos: (tag, content start, content end)."""
    if pos + 2 > len(buf):
        raise ValueError("truncated DER")
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise ValueError("DER content runs past the end")
    return tag, pos, pos + length


def _rsa_public_key_bits(buf: bytes, start: int, end: int) -> int:
    tag, s, e = _der(buf, start)
    if tag != 0x30 or e != end:
        raise ValueError("RSAPublicKey is not a SEQUENCE")
    t_n, s_n, e_n = _der(buf, s)
    t_e, _s_e, e_e = _der(buf, e_n)
    if t_n != 0x02 or t_e != 0x02 or e_e != end:
        raise ValueError("RSAPublicKey must hold two INTEGERs")
    modulus = int.from_bytes(buf[s_n:e_n], "big")
    if modulus <= 0:
        raise ValueError("RSA modulus is not positive")
    return modulus.bit_length()


def rsa_key_bits(der: bytes) -> tuple[int, str]:
    """Modulus size of an RSA key given as SubjectPublicKeyInfo or bare PKCS#1 RSAPublicKey (minimal DER).

    Returns (bits, form) with form "spki" or "pkcs1"; raises ValueError naming the problem.
    """
    tag, s, e = _der(der, 0)
    if tag != 0x30 or e != len(der):
        raise ValueError("not a DER SEQUENCE")
    t1, s1, e1 = _der(der, s)
    if t1 == 0x02:  # RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        return _rsa_public_key_bits(der, 0, len(der)), "pkcs1"
    if t1 != 0x30:
        raise ValueError("not a SubjectPublicKeyInfo")
    alg = der[s1:e1]
    if alg.startswith(ED25519_OID):
        raise ValueError("an Ed25519 key in SubjectPublicKeyInfo form, but k=rsa")
    if not alg.startswith(RSA_OID):
        raise ValueError("the key algorithm is not rsaEncryption")
    t2, s2, e2 = _der(der, e1)
    if t2 != 0x03 or e2 != e or s2 >= e2 or der[s2] != 0:
        raise ValueError("bad subjectPublicKey BIT STRING")
    return _rsa_public_key_bits(der, s2 + 1, e2), "spki"


def _rsa_bits(der: bytes) -> tuple[int, str]:
    try:  # the cryptography package, when installed, checks the whole structure
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_der_public_key
    except ImportError:
        return rsa_key_bits(der)
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        return rsa_key_bits(der)  # e.g. bare PKCS#1, which cryptography does not take here
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"k=rsa but the key is {type(key).__name__.removeprefix('_')}")
    return key.key_size, "spki"


def parse_key(record: str, selector: str) -> tuple[dict[str, Any], list[Finding]]:
    """Check one DKIM key record (RFC 6376 §3.6.1). Returns (key facts, findings); never raises."""
    findings: list[Finding] = []
    info: dict[str, Any] = {"selector": selector, "record": record, "k": "rsa", "bits": None, "revoked": False,
                            "testing": False, "valid": False}
    tags, order, problems = parse_tag_list(record)
    for reason in problems:
        sev = "warning" if reason.startswith("empty tag-spec") else None  # most verifiers tolerate ';;'
        findings.append(finding("DKIM_SYNTAX", severity=sev, selector=selector, reason=reason))
    fatal = any(f.severity == "error" for f in findings)
    if "v" in tags and (tags["v"] != "DKIM1" or order[0] != "v"):
        findings.append(finding("DKIM_VERSION", selector=selector, found=f"v={tags['v']}"))
        fatal = True
    k = tags.get("k", "rsa").strip().lower()
    info["k"] = k
    if "g" in tags:
        findings.append(finding("DKIM_OBSOLETE_TAG", selector=selector, tag="g"))
    if "h" in tags:
        hashes = [h.strip().lower() for h in tags["h"].split(":") if h.strip()]
        info["h"] = hashes
        if "sha256" not in hashes and "sha1" in hashes:
            findings.append(finding("DKIM_SHA1_ONLY", selector=selector, h=tags["h"]))  # RFC 8301 §3.1
    if "s" in tags:
        services = [s.strip().lower() for s in tags["s"].split(":")]
        if "*" not in services and "email" not in services:
            findings.append(finding("DKIM_SERVICE_NOT_EMAIL", selector=selector, s=tags["s"]))
    if tags.get("n"):
        info["notes"] = tags["n"][:200]
    flags = [t.strip().lower() for t in tags.get("t", "").split(":") if t.strip()]
    if flags:
        info["flags"] = flags
    if "y" in flags:
        info["testing"] = True
        findings.append(finding("DKIM_TESTING", selector=selector))
    if "p" not in tags:
        findings.append(finding("DKIM_NO_KEY", selector=selector))
        return info, findings
    p = _WS.sub("", tags["p"])
    if not p:
        info["revoked"] = True
        findings.append(finding("DKIM_REVOKED", selector=selector))
        return info, findings
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        findings.append(finding("DKIM_KEY_INVALID", selector=selector, reason="p= is not valid base64"))
        return info, findings
    if k == "rsa":
        try:
            bits, form = _rsa_bits(raw)
        except ValueError as e:
            findings.append(finding("DKIM_KEY_INVALID", selector=selector, reason=str(e)))
            return info, findings
        info.update(bits=bits, key_form=form)
        if bits < 1024:
            findings.append(finding("DKIM_KEY_TOO_SHORT", selector=selector, bits=bits))  # RFC 8301 §3.2
            fatal = True
        elif bits < 2048:
            findings.append(finding("DKIM_KEY_WEAK", selector=selector, bits=bits))
        elif bits > 4096:
            findings.append(finding("DKIM_KEY_TOO_LONG", selector=selector, bits=bits))
    elif k == "ed25519":
        if len(raw) != 32:  # RFC 8463 §4.2: the bare 32-octet public key
            findings.append(finding("DKIM_KEY_INVALID", selector=selector,
                                    reason=f"an Ed25519 key is 32 bytes, found {len(raw)}"))
            return info, findings
        info["bits"] = 256
    else:
        findings.append(finding("DKIM_KEY_TYPE_UNKNOWN", selector=selector, k=k))
        return info, findings
    info["valid"] = not fatal
    return info, findings


# ------------------------------------------------------------------------------------------------ analyze

def _same_as_wildcard(ans: Answer, wildcard: set[str] | None) -> bool:
    return wildcard is not None and set(ans.txt_strings()) == wildcard


async def analyze(domain: str, resolver: Resolver, *, selectors: tuple[str, ...] | list[str] | None = None,
                  control_label: str | None = None, **_options: Any) -> dict[str, Any]:
    """DKIM section. Queries: 1 when ``_domainkey.<domain>`` is NXDOMAIN, else 2 + len(selectors)."""
    sels = tuple(s.lower().rstrip(".") for s in selectors) if selectors is not None else default_selectors()
    sels = tuple(s for s in dict.fromkeys(sels) if valid_selector(s))
    base = f"_domainkey.{domain}"
    out: dict[str, Any] = {"status": "unknown", "present": None, "selectors": [], "keys": [], "probed": len(sels),
                           "proof": None, "wildcard": None, "findings": []}
    findings: list[Finding] = out["findings"]
    root = await resolver.query(base, "TXT")
    if root.status == "nxdomain":  # RFC 8020 §2: nothing exists below a name that does not exist
        out.update(status="none", present=False, proof="nxdomain", probed=0)
        findings.append(finding("DKIM_NONE", domain=domain))
        return out
    if root.status == "error":
        findings.append(finding("DKIM_DNS_ERROR", name=base, error=root.error or "error"))

    control_name = f"{control_label or 'mp-' + secrets.token_hex(6)}.{base}"
    answers = await asyncio.gather(resolver.query(control_name, "TXT"),
                                   *(resolver.query(f"{s}.{base}", "TXT") for s in sels))
    control, probes = answers[0], answers[1:]
    wildcard: set[str] | None = None
    if control.status == "error":
        findings.append(finding("DKIM_DNS_ERROR", name=control_name, error=control.error or "error"))
    else:
        out["wildcard"] = control.ok
        if control.ok:
            wildcard = set(control.txt_strings())
            findings.append(finding("DKIM_WILDCARD", domain=domain))
    if root.ok and not _same_as_wildcard(root, wildcard):
        findings.append(finding("DKIM_LEGACY_RECORD", domain=domain))

    errors = 0
    for sel, ans in zip(sels, probes, strict=True):
        if ans.status == "error":
            errors += 1
            findings.append(finding("DKIM_DNS_ERROR", name=ans.name, error=ans.error or "error"))
            continue
        if not ans.ok or _same_as_wildcard(ans, wildcard):
            continue
        records = ans.txt_strings()
        if len(records) > 1:
            findings.append(finding("DKIM_MULTIPLE_RECORDS", selector=sel, count=len(records)))
        for rec in records:
            info, problems = parse_key(rec, sel)
            if ans.cname_chain:
                info["cname_chain"] = list(ans.cname_chain)
            out["keys"].append(info)
            findings.extend(problems)
        out["selectors"].append(sel)

    if out["selectors"]:
        out.update(status="ok", present=True)
        findings.insert(0, finding("DKIM_FOUND", selectors=", ".join(out["selectors"])))
    elif errors or (control.status == "error" and root.status == "error"):
        out["status"] = "error"  # a failure kept the answer from being known: never "absent"
    else:
        findings.append(finding("DKIM_NOT_FOUND", count=len(sels)))
    return out
