"""Every DKIM-Signature of a message, verified and reported on its own (RFC 6376, RFC 8463, RFC 8301).

dkimpy does the canonicalisation and the cryptography (``verify_sig_process``); this module adds the verifier
rules a library alone does not enforce and names the reason of each outcome:

* RFC 8301 §3.1: ``rsa-sha1`` never passes (the signature is still checked, ``crypto_valid`` says how it fared);
* RFC 8301 §3.2: RSA keys under 1024 bits fail;
* RFC 6376 §6.1.1: a signature whose ``h=`` lacks From is ignored (permerror);
* RFC 6376 §3.6.1 key record tags: ``h=`` (acceptable hashes), ``t=s`` (no subdomain in ``i=``), ``s=``,
  ``k=`` against ``a=``, and an empty ``p=`` (revoked);
* RFC 6376 §6.1.2: a DNS failure fetching the key is ``temperror``, a key that does not exist ``permerror``;
  the key's DNS answer is kept with the result.

Results (RFC 8601 §2.7.1): pass, fail, neutral, policy, temperror, permerror. ``reason`` is a stable code
(:data:`REASONS`).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from mailposture.checks.spf.evaluate import domain_problem
from mailposture.findings import Finding, finding
from mailposture.message.keys import KeyBook, KeyRecord, key_name, parse_key
from mailposture.message.parse import Message

_LOG = logging.getLogger("mailposture.message.dkim")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False

ALGORITHMS = ("rsa-sha256", "rsa-sha1", "ed25519-sha256")
# RFC 6376 §6.1 (verifiers MAY limit the signatures they try) and §8.4 (a message can be built to make a verifier
# do many lookups and much crypto): the first MAX_SIGNATURES are verified, the others reported unverified
MAX_SIGNATURES = 20
MIN_RSA_BITS = 1024     # RFC 8301 §3.2
CLOCK_SLOP = 300        # seconds of clock skew forgiven for t= in the future (RFC 6376 §3.5 x=, t=)
#: reason code -> result
REASONS: dict[str, str] = {
    "ok": "pass",
    "malformed": "permerror", "missing-tag": "permerror", "bad-version": "permerror",
    "unsupported-algorithm": "permerror", "bad-tag-value": "permerror", "identity-mismatch": "permerror",
    "from-not-signed": "permerror", "key-missing": "permerror", "key-revoked": "permerror",
    "key-syntax": "permerror", "key-type-mismatch": "permerror", "key-hash-not-allowed": "permerror",
    "key-strict-subdomain": "permerror", "key-dns-error": "temperror",
    "expired": "fail", "body-hash-mismatch": "fail", "signature-mismatch": "fail", "rsa-sha1": "fail",
    "key-too-short": "fail", "body-length-exceeds": "fail",
    "over-limit": "policy",
}
WATCHED_HEADERS = ("from", "subject", "to", "cc", "date", "reply-to", "content-type", "message-id")
_B64 = re.compile(rb"[\s0-9A-Za-z+/]+[\s=]*$")


def new_verifier(msg: Message) -> dkim.DKIM:
    """A dkimpy verifier holding the already parsed fields (no second parse)."""
    d = dkim.DKIM(None, logger=_LOG, minkey=0)
    d.headers = [[n, v] for n, v in msg.fields]
    d.body = msg.body
    return d


def _sig_domain(raw: bytes) -> str:
    try:
        return _txt(parse_tag_value(raw).get(b"d")).strip().lower().rstrip(".")
    except (InvalidTagValueList, ValueError):
        return ""


def chosen(msg: Message, prefer: str | None = None) -> set[int]:
    """Indexes of the signatures to verify: all when there are at most MAX_SIGNATURES; else those whose d= is
    the From domain, a parent or a child of it first (the ones DMARC needs, so junk signatures added on the way
    cannot push them out), then the others top-down."""
    raws = msg.raw_all("dkim-signature")
    if len(raws) <= MAX_SIGNATURES:
        return set(range(len(raws)))
    p = (prefer or "").lower().rstrip(".")

    def related(d: str) -> bool:
        return bool(p and d) and (d == p or p.endswith("." + d) or d.endswith("." + p))

    first = [i for i, raw in enumerate(raws) if related(_sig_domain(raw))]
    rest = [i for i in range(len(raws)) if i not in set(first)]
    return set((first + rest)[:MAX_SIGNATURES])


def signature_key_names(msg: Message, prefer: str | None = None) -> list[str]:
    """Key names every DKIM-Signature to verify needs (fetched before verification)."""
    names = []
    pick = chosen(msg, prefer)
    for idx, raw in enumerate(msg.raw_all("dkim-signature")):
        if idx not in pick:
            continue
        try:
            tags = parse_tag_value(raw)
        except (InvalidTagValueList, ValueError):
            continue
        if tags.get(b"s") and tags.get(b"d"):
            names.append(key_name(tags[b"s"], tags[b"d"]))
    return names


def _txt(v: bytes | None) -> str:
    return v.decode("utf-8", "replace") if v is not None else ""


def verify_all(msg: Message, book: KeyBook, *, now: float | None = None,
               prefer: str | None = None) -> tuple[list[dict[str, Any]], list[Finding]]:
    """One result per DKIM-Signature, top to bottom, and the findings about them (``prefer``: the From domain,
    whose signatures are verified first when there are more than MAX_SIGNATURES)."""
    now = time.time() if now is None else now
    verifier = new_verifier(msg)
    sig_fields = [(n, v) for n, v in msg.fields if n.lower() == b"dkim-signature"]
    results: list[dict[str, Any]] = []
    findings: list[Finding] = []
    pick = chosen(msg, prefer)
    for idx, field in enumerate(sig_fields):
        if idx not in pick:
            res = _new_result(idx)
            try:
                tags = parse_tag_value(field[1])
                for tag, key in ((b"d", "d"), (b"s", "s"), (b"a", "a")):
                    if tag in tags:
                        res[key] = _txt(tags[tag]).strip().lower()
            except (InvalidTagValueList, ValueError):
                pass
            results.append(_done(res, "over-limit", f"signature {idx + 1} of {len(sig_fields)}"))
            continue
        results.append(_verify_one(verifier, msg, field, idx, book, now, findings))
    if len(sig_fields) > MAX_SIGNATURES:
        findings.append(finding("MSG_DKIM_TOO_MANY", count=len(sig_fields), limit=MAX_SIGNATURES))
    return results, findings


def _new_result(idx: int) -> dict[str, Any]:
    return {"index": idx, "d": None, "s": None, "a": None, "result": "permerror", "reason": "malformed",
            "detail": "", "key_bits": None, "i": None, "c": None, "l": None, "t": None, "x": None,
            "h": [], "oversigned": [], "not_covered": [], "crypto_valid": None, "testing": False, "b8": None,
            "key": None}


def _done(res: dict[str, Any], reason: str, detail: str = "") -> dict[str, Any]:
    res["reason"] = reason
    res["result"] = REASONS[reason]
    res["detail"] = detail
    return res


def _verify_one(verifier: dkim.DKIM, msg: Message, field: tuple[bytes, bytes], idx: int, book: KeyBook,
                now: float, findings: list[Finding]) -> dict[str, Any]:
    res = _new_result(idx)
    try:
        sig = parse_tag_value(field[1])
    except (InvalidTagValueList, ValueError) as exc:   # §3.2 tag-list syntax
        return _done(res, "malformed", str(exc))
    for tag, key in ((b"d", "d"), (b"s", "s"), (b"a", "a"), (b"i", "i"), (b"c", "c"), (b"l", "l"),
                     (b"t", "t"), (b"x", "x")):
        if tag in sig:
            res[key] = _txt(sig[tag]).strip()
    if res["d"]:
        res["d"] = res["d"].lower().rstrip(".")
    if b"b" in sig:   # RFC 6008 §4: header.b, the first 8 characters, tells signatures of one domain apart
        res["b8"] = re.sub(rb"\s+", b"", sig[b"b"])[:8].decode("ascii", "replace") or None
    missing = [t.decode() for t in (b"v", b"a", b"b", b"bh", b"d", b"h", b"s") if t not in sig]
    if missing:   # §6.1.1: required tags
        return _done(res, "missing-tag", ", ".join(missing))
    if sig[b"v"].strip() != b"1":
        return _done(res, "bad-version", _txt(sig[b"v"]))
    algo = res["a"].lower()
    res["a"] = algo
    if algo not in ALGORITHMS:
        return _done(res, "unsupported-algorithm", algo)
    h_list = [x.strip().lower() for x in _txt(sig[b"h"]).split(":") if x.strip()]
    res["h"] = h_list
    if "from" not in h_list:       # RFC 6376 §6.1.1: From MUST be signed
        return _done(res, "from-not-signed")
    for tag in (b"b", b"bh"):
        if _B64.match(sig[tag]) is None or len(re.sub(rb"\s+", b"", sig[tag])) % 4:
            return _done(res, "bad-tag-value", f"{tag.decode()}= is not base64")
    for tag in (b"l", b"t", b"x"):
        if tag in sig and re.fullmatch(rb"\s*\d{1,76}\s*", sig[tag]) is None:
            return _done(res, "bad-tag-value", f"{tag.decode()}= is not a decimal number")
    if b"q" in sig and sig[b"q"].strip().lower() != b"dns/txt":
        return _done(res, "bad-tag-value", "q= is not dns/txt")
    try:
        dkim.CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple").strip())
    except Exception:
        return _done(res, "bad-tag-value", f"c={res['c']}")
    d = res["d"]
    bad = domain_problem(f"{res['s']}._domainkey.{d}") or (None if re.fullmatch(r"[\w.-]+", d) else "invalid characters")
    if bad:   # §3.5 d=/s= must make a domain name to look up
        return _done(res, "bad-tag-value", f"d={d} s={res['s']}: {bad}")
    identity = (res["i"] or f"@{d}").lower()
    i_dom = identity.rpartition("@")[2].rstrip(".")
    if i_dom != d and not i_dom.endswith("." + d):   # §3.5 i=: the same as or a subdomain of d=
        return _done(res, "identity-mismatch", f"i={res['i']} d={d}")
    t_sign = int(sig[b"t"]) if b"t" in sig else None
    x_sign = int(sig[b"x"]) if b"x" in sig else None
    if x_sign is not None and t_sign is not None and x_sign < t_sign:
        return _done(res, "bad-tag-value", "x= is earlier than t=")
    if t_sign is not None and t_sign > now + CLOCK_SLOP:
        findings.append(finding("MSG_DKIM_FUTURE", d=d, s=res["s"], t=t_sign))
    _coverage(msg, h_list, res, findings)

    # the key (RFC 6376 §6.1.2)
    name = key_name(res["s"], d)
    ans = book.answers.get(name)
    res["key"] = {"name": name, "answer": ans.to_json() if ans is not None else None, "record": None}
    if ans is None or ans.status == "error":
        return _done(res, "key-dns-error", (ans.error if ans is not None else "not looked up") or "error")
    texts = [t for t in ans.txt_strings()] if ans.ok else []
    if not texts:
        return _done(res, "key-missing", ans.status)
    if len(texts) > 1:
        findings.append(finding("MSG_DKIM_KEY_MULTIPLE", name=name, count=len(texts)))
    rec = parse_key(texts[0])
    res["key"]["record"] = texts[0]
    if rec.revoked:
        return _done(res, "key-revoked")
    if rec.problem:
        return _done(res, "key-syntax", rec.problem)
    res["key_bits"] = rec.bits
    if "y" in rec.flags:
        res["testing"] = True
        findings.append(finding("MSG_DKIM_TESTING", d=d, s=res["s"]))
    problem = _key_rules(rec, algo, i_dom, d)
    if problem:
        return _done(res, *problem)

    # crypto, by dkimpy (canonicalisation, body hash, signature)
    outcome, detail = _crypto(verifier, sig, h_list, field, rec, algo)
    res["crypto_valid"] = outcome == "ok"
    body_len = len(dkim.CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple").strip())
                   .canonicalize_body(msg.body)) if b"l" in sig else None
    if b"l" in sig and body_len is not None:
        signed = int(sig[b"l"])
        if signed > body_len:   # §3.5 l=: more than the body: the body was cut short
            return _done(res, "body-length-exceeds", f"l={signed}, body {body_len} octets")
        if outcome == "ok" and body_len > signed:
            findings.append(finding("MSG_DKIM_BODY_LENGTH_UNSIGNED", d=d, s=res["s"], signed=signed,
                                    unsigned=body_len - signed))
        res["l_unsigned_octets"] = body_len - signed
    if outcome != "ok":
        return _done(res, outcome, detail)
    if algo == "rsa-sha1":     # RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid
        return _done(res, "rsa-sha1")
    if rec.k == "rsa" and (rec.bits or 0) < MIN_RSA_BITS:   # RFC 8301 §3.2
        return _done(res, "key-too-short", f"{rec.bits} bits")
    if x_sign is not None and x_sign < now:   # §3.5 x=: verifiers may consider it invalid; we do
        return _done(res, "expired", f"x={x_sign}")
    return _done(res, "ok")


def _key_rules(rec: KeyRecord, algo: str, i_dom: str, d: str) -> tuple[str, str] | None:
    """RFC 6376 §3.6.1 key tags against the signature (None when the key may verify it)."""
    key_type = algo.split("-")[0]
    if rec.k != key_type:
        return "key-type-mismatch", f"k={rec.k}, a={algo}"
    hash_name = algo.split("-")[1]
    if rec.hashes is not None and hash_name not in rec.hashes:
        return "key-hash-not-allowed", f"h={':'.join(rec.hashes)}, a={algo}"
    if "s" in rec.flags and i_dom != d:
        return "key-strict-subdomain", f"t=s, i= domain {i_dom}, d={d}"
    return None


def _crypto(verifier: dkim.DKIM, sig: dict[bytes, bytes], h_list: list[str], field: tuple[bytes, bytes],
            rec: KeyRecord, algo: str) -> tuple[str, str]:
    verifier.pk, verifier.keysize = rec.pk, rec.bits or 0
    verifier.ktag = b"ed25519" if rec.k == "ed25519" else b"rsa"
    verifier.seqtlsrpt = False
    sig = dict(sig)
    sig[b"a"] = algo.encode()
    sig[b"c"] = sig.get(b"c", b"simple/simple").strip()
    if b"l" in sig:
        sig[b"l"] = sig[b"l"].strip()
    header = [field[0], field[1]]
    try:
        ok = verifier.verify_sig_process(sig, [h.encode() for h in h_list], header, None)
    except dkim.ValidationError as exc:
        text = str(exc)
        if "body hash mismatch" in text:
            return "body-hash-mismatch", ""
        return "signature-mismatch", text[:200]
    except Exception as exc:   # dkimpy's own errors (digest too large, bad base64...): a failed signature
        return "signature-mismatch", f"{type(exc).__name__}: {str(exc)[:200]}"
    return ("ok", "") if ok else ("signature-mismatch", "")


def _coverage(msg: Message, h_list: list[str], res: dict[str, Any], findings: list[Finding]) -> None:
    """Over-signed fields (listed more often than present: no instance can be added) and watched fields with
    more instances than the signature covers (an added instance would show unsigned text)."""
    counts: dict[str, int] = {}
    for h in h_list:
        counts[h] = counts.get(h, 0) + 1
    res["oversigned"] = sorted(h for h, c in counts.items() if c > msg.count(h))
    not_covered = sorted(h for h in WATCHED_HEADERS if msg.count(h) > counts.get(h, 0) and h in counts)
    res["not_covered"] = not_covered
    if not_covered:
        findings.append(finding("MSG_DKIM_HEADER_NOT_COVERED", d=res["d"], s=res["s"],
                                headers=", ".join(not_covered)))
