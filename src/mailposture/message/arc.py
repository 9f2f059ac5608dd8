"""ARC (RFC 8617): chain validation of a received message, the claims of each hop, and sealing a new set.

dkimpy validates the sets (``ARC.verify``: AMS and AS of every instance, relaxed canonicalisation); this module
feeds it keys through the project's DNS engine (:mod:`mailposture.message.keys`), turns its outcome into
``cv`` (none | pass | fail, §5.2) with the failing instance and a stable reason code, works out the oldest-pass
instance (§5.2 step 6), and parses every ARC-Authentication-Results field (§4.1.1) into the results that hop
claimed — with a lenient fallback for the non-standard forms some large providers write.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from mailposture.findings import Finding, finding
from mailposture.message.authres_io import parse_results
from mailposture.message.keys import KeyBook, KeyNotFetched, key_name
from mailposture.message.parse import Message, unfold

_LOG = logging.getLogger("mailposture.message.arc")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False

ARC_FIELDS = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")
MAX_INSTANCE = 50   # RFC 8617 §4.2.1
#: stable reason codes of a chain that is not "pass"
REASONS = ("no-arc", "structure", "instance-limit", "newest-ams-invalid", "seal-reported-fail", "seal-invalid",
           "cv-invalid", "dns-error")
_INSTANCE = re.compile(rb"(?:^|[\s;])i\s*=\s*(\d+)", re.IGNORECASE)
_NUM = re.compile(r"\[(\d+)\]|instance (\d+)")


def arc_fields(msg: Message) -> list[tuple[bytes, bytes]]:
    return [(n, v) for n, v in msg.fields if n.lower() in ARC_FIELDS]


def key_names(msg: Message) -> list[str]:
    names = []
    for n, v in arc_fields(msg):
        if n.lower() == b"arc-authentication-results":
            continue
        try:
            tags = parse_tag_value(v)
        except (InvalidTagValueList, ValueError):
            continue
        if tags.get(b"s") and tags.get(b"d"):
            names.append(key_name(tags[b"s"], tags[b"d"]))
    return names


def _verifier(msg: Message) -> dkim.ARC:
    a = dkim.ARC(None, logger=_LOG, minkey=1024)
    a.headers = [[n, v] for n, v in msg.fields]
    a.body = msg.body
    return a


def run_chain(msg: Message, book: KeyBook) -> tuple[str | None, list[dict[str, Any]], str, int]:
    """dkimpy's validation (raises KeyNotFetched when a key is missing from ``book``); the last item is the
    instance being validated when dkimpy stopped on an exception (0 if it did not)."""
    a = _verifier(msg)
    max_instance, sorted_headers = a.sorted_arc_headers()
    if max_instance == 0:
        return "none", [], "Message is not ARC signed", 0
    results: list[dict[str, Any]] = []
    for instance in range(max_instance, 0, -1):
        try:
            results.append(a.verify_instance(sorted_headers, instance, dnsfunc=book.dnsfunc))
        except KeyNotFetched:
            raise
        except dkim.DKIMException as exc:
            return "fail", results, str(exc), instance
        except (ValueError, TypeError, KeyError, IndexError) as exc:   # binascii.Error etc. from odd tag values
            return "fail", results, f"instance {instance}: {type(exc).__name__}: {exc}", instance
    cv, _data, reason = _chain_verdict(results)
    return cv, results, reason, 0


def _chain_verdict(results: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]], str]:
    # RFC 8617 §5.2 steps 2-5, as dkimpy's ARC.verify decides them
    if not results[0]["ams-valid"]:
        return "fail", results, f"newest ARC-Message-Signature[{results[0]['instance']}] did not validate"
    for r in results:
        if r["cv"] == dkim.CV_Fail:
            return None, results, f"ARC-Seal[{r['instance']}] reported failure, the chain is terminated"
        if not r["as-valid"]:
            return "fail", results, f"ARC-Seal[{r['instance']}] did not validate"
        if r["instance"] == 1 and r["cv"] != dkim.CV_None:
            return "fail", results, f"ARC-Seal[1] reported invalid status cv={r['cv'].decode()}"
        if r["instance"] != 1 and r["cv"] == dkim.CV_None:
            return "fail", results, f"ARC-Seal[{r['instance']}] reported invalid status cv=none"
    return "pass", results, "success"


def _reason_code(reason: str, structural: bool) -> str:
    if structural:
        return "structure"
    if "newest ARC-Message-Signature" in reason:
        return "newest-ams-invalid"
    if "reported failure" in reason:
        return "seal-reported-fail"
    if "did not validate" in reason:
        return "seal-invalid"
    if "invalid status" in reason:
        return "cv-invalid"
    return "structure"


async def validate(msg: Message, book: KeyBook) -> tuple[dict[str, Any], list[Finding]]:
    """The ``arc`` section: cv, instances, failed_instance, reason (+ reason_code, oldest_pass, sets)."""
    findings: list[Finding] = []
    fields = arc_fields(msg)
    out: dict[str, Any] = {"cv": "none", "instances": 0, "failed_instance": None, "reason": "",
                           "reason_code": "no-arc", "oldest_pass": None, "sets": [], "dns_errors": []}
    if not fields:
        out["reason"] = "the message has no ARC header fields"
        return out, findings
    numbers = [int(m.group(1)) for _, v in fields if (m := _INSTANCE.search(b" " + unfold(v).encode()))]
    top = max(numbers, default=0)
    out["instances"] = top
    out["sets"] = _sets(msg, top, findings)
    if top > MAX_INSTANCE:   # §4.2.1: i= is 1..50
        out.update(cv="fail", reason_code="instance-limit", failed_instance=top,
                   reason=f"instance i={top} is above the limit of {MAX_INSTANCE}")
        findings.append(finding("ARC_CHAIN_FAIL", instance=top, reason=out["reason"]))
        return out, findings
    await book.fetch(key_names(msg))
    for _ in range(8):   # names dkimpy derived differently from ours are fetched and the run repeated
        try:
            cv, results, reason, stopped = run_chain(msg, book)
            break
        except KeyNotFetched as miss:
            await book.fetch([miss.name])
    else:
        cv, results, reason, stopped = "fail", [], "key lookups did not settle", top
    for r in results:
        s = _set_for(out["sets"], r["instance"])
        if s is not None:
            s["ams"]["valid"] = bool(r.get("ams-valid"))
            s["as"]["valid"] = bool(r.get("as-valid"))
    dns_errors = sorted(n for n in book.errors if n in set(key_names(msg)))
    out["dns_errors"] = dns_errors
    if cv == "none" and not results and top == 0:
        # ARC-named fields without a usable i= tag: structurally broken, not absent (§5.2 step 1)
        cv, reason, stopped = "fail", "ARC header fields without a valid instance tag", 1
    if cv == "pass":
        out.update(cv="pass", reason="success", reason_code="pass")
        out["oldest_pass"] = _oldest_pass(results)
        return out, findings
    # fail (dkimpy's None — a seal that says cv=fail — is fail too, §5.2 step 3)
    failed = stopped or _instance_in(reason) or top
    code = _reason_code(reason, bool(stopped))
    if dns_errors and code in ("newest-ams-invalid", "seal-invalid"):
        code = "dns-error"
        findings.append(finding("ARC_DNS_ERROR", names=", ".join(dns_errors)))
    out.update(cv="fail", failed_instance=failed, reason=reason, reason_code=code)
    findings.append(finding("ARC_CHAIN_FAIL", instance=failed, reason=reason))
    return out, findings


def _instance_in(reason: str) -> int | None:
    m = _NUM.search(reason)
    if not m:
        return None
    return int(m.group(1) or m.group(2))


def _oldest_pass(results: list[dict[str, Any]]) -> int:
    """§5.2 step 6: the oldest instance whose AMS still validates, counting down from the newest; 0 when every
    AMS of the chain validates (nothing was lost on the way)."""
    oldest = results[0]["instance"]
    for r in results:   # newest first
        if not r.get("ams-valid"):
            return oldest
        oldest = r["instance"]
    return 0


def _set_for(sets: list[dict[str, Any]], instance: int) -> dict[str, Any] | None:
    return next((s for s in sets if s["instance"] == instance), None)


def _sets(msg: Message, top: int, findings: list[Finding]) -> list[dict[str, Any]]:
    """One entry per instance 1..top: the AMS/AS tags and the claims of the AAR (what that hop saw)."""
    by_i: dict[int, dict[str, Any]] = {}
    for name, value in arc_fields(msg):
        text = unfold(value)
        m = _INSTANCE.search(b" " + text.encode())
        if not m:
            continue
        i = int(m.group(1))
        if i < 1 or i > MAX_INSTANCE:
            continue
        s = by_i.setdefault(i, {"instance": i, "ams": {"present": False}, "as": {"present": False},
                                "aar": {"present": False}})
        kind = name.lower()
        if kind == b"arc-authentication-results":
            s["aar"] = _aar(text, i, findings)
        else:
            try:
                tags = {k.decode(): v.decode("utf-8", "replace").strip() for k, v in parse_tag_value(value).items()}
            except (InvalidTagValueList, ValueError):
                tags = {}
            entry = {"present": True, "d": tags.get("d"), "s": tags.get("s"), "a": tags.get("a"),
                     "valid": None}
            if kind == b"arc-seal":
                entry["cv"] = tags.get("cv")
                s["as"] = entry
            else:
                entry["h"] = [h.strip().lower() for h in tags.get("h", "").split(":") if h.strip()]
                s["ams"] = entry
    return [by_i[i] for i in sorted(by_i)]


def _aar(text: str, instance: int, findings: list[Finding]) -> dict[str, Any]:
    body = re.sub(r"^\s*i\s*=\s*\d+\s*;", "", text, count=1)
    parsed = parse_results(body)
    if parsed["parser"] != "authres" or parsed.get("problem"):
        findings.append(finding("ARC_AAR_NONSTANDARD", instance=instance, problem=parsed.get("problem", "")))
    return {"present": True, "authserv_id": parsed["authserv_id"], "results": parsed["results"],
            "parser": parsed["parser"], "raw": text}


def seal(message: bytes, *, selector: str, domain: str, private_key: bytes, srv_id: str,
         timestamp: int | None = None, include_headers: list[bytes] | None = None) -> list[bytes]:
    """A new ARC set (AAR, AMS, AS; RFC 8617 §5.1) for ``message``, which must carry this hop's
    Authentication-Results field (authserv-id ``srv_id``, with its arc= result). Returns the three fields, newest
    on top. Raises ValueError with a readable reason when the key or the message cannot be sealed."""
    signer = dkim.ARC(message, logger=_LOG)
    try:
        return signer.sign(selector.encode(), domain.encode(), private_key, srv_id.encode(),
                           include_headers=include_headers, timestamp=timestamp)
    except dkim.DKIMException as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None


def seal_message(message: bytes, ar_value: str, *, srv_id: str, selector: str, domain: str, private_key: bytes,
                 timestamp: int | None = None) -> tuple[bytes, list[bytes]]:
    """The message with this hop's Authentication-Results (``ar_value``, the part after the field name) and a new
    ARC set on top. Authentication-Results fields already carrying our authserv-id are forgeries or leftovers
    and are removed first (RFC 8601 §5). Returns (sealed message, the new ARC fields)."""
    lines = re.split(rb"(?<=\n)", message)
    kept: list[bytes] = []
    in_header, skipping = True, False
    own = re.compile(rb"authentication-results\s*:\s*" + re.escape(srv_id.encode()) + rb"\s*(;|$)", re.IGNORECASE)
    for line in lines:
        if in_header:
            if line in (b"\r\n", b"\n"):
                in_header = False
            elif line[:1] in (b" ", b"\t"):
                if skipping:
                    continue
            else:
                skipping = bool(own.match(line))
                if skipping:
                    continue
        kept.append(line)
    linesep = b"\r\n" if b"\r\n" in message[:2000] else b"\n"
    body = b"".join(kept)
    with_ar = b"Authentication-Results: " + ar_value.encode() + linesep + body
    fields = seal(with_ar, selector=selector, domain=domain, private_key=private_key, srv_id=srv_id,
                  timestamp=timestamp)
    if not fields:
        raise ValueError("no Authentication-Results field of this host: nothing to seal")
    fixed = [f.replace(b"\r\n", linesep) if linesep == b"\n" else f for f in fields]
    return b"".join(fixed) + with_ar, fields
