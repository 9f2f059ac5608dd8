"""The verdict for one registrable domain: ``random-subdomain-spf``, ``suspicious`` or ``benign``.

* ``random-subdomain-spf``: labels rotate (many distinct child labels under one parent, most of them random
  and seen once) AND a never-seen label gets an SPF record that authorizes something (wildcard TXT, RFC 4592;
  RFC 7208 §5) — the domain can send from any name it invents, which defeats block lists keyed on full names.
  Labels drawn from a dictionary (``bluehorse``) do not look random one by one; the same verdict is given when a
  parent has at least ``words_min`` distinct labels of letters only, nearly all seen once (``words_once``), and
  the wildcard proof authorizes something (``DOM_SINGLE_USE_WORDS``; never without that proof).
* ``suspicious``: labels rotate and the names seen publish SPF (or SPF passes for the addresses seen), but no
  wildcard proof.
* ``benign``: everything else — hashed CDN labels, ISP dynamic host names and short-link hosts without SPF
  proof, and the bundled allow-list of large providers.

Reasons carry stable codes (:data:`REASONS`, Japanese and English).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from mailposture.domains.aggregate import DomainStats, max_in_window
from mailposture.domains.labels import model
from mailposture.domains.proof import Proof

REASONS: dict[str, tuple[str, str]] = {
    "DOM_ROTATING_LABELS": ("{distinct} distinct labels under {parent}", "{parent} の下に {distinct} 種類のラベル"),
    "DOM_RANDOM_LABELS": ("{share:.0%} of the labels look random (e.g. {examples})",
                          "ラベルの {share:.0%} がランダムな文字列 (例: {examples})"),
    "DOM_SINGLE_USE_LABELS": ("{share:.0%} of the labels were seen only once", "ラベルの {share:.0%} が 1 回しか現れない"),
    "DOM_LABEL_BURST": ("{count} new labels within {window}", "{window} のうちに新しいラベルが {count} 個"),
    "DOM_WILDCARD_SPF": ("a never-seen label {probe} has SPF: {record}",
                         "使われたことのないラベル {probe} にも SPF があります: {record}"),
    "DOM_WILDCARD_SPF_NOTHING": ("a never-seen label has SPF that authorizes nothing: {record}",
                                 "未使用ラベルの SPF は何も許可していません: {record}"),
    "DOM_SPF_ON_SEEN": ("the name seen {name} publishes SPF: {record}", "観測した名前 {name} に SPF: {record}"),
    "DOM_SPF_PASS": ("SPF passes for the client addresses seen: {ips}", "観測した送信元 IP で SPF が pass: {ips}"),
    "DOM_WILDCARD_A": ("a never-seen label has an address record (wildcard A)", "未使用ラベルにも A レコード (ワイルドカード)"),
    "DOM_WILDCARD_MX": ("a never-seen label has an MX record (wildcard MX)", "未使用ラベルにも MX レコード (ワイルドカード)"),
    "DOM_SOA_SERIAL_DATE": ("the zone's SOA serial is dated {date}", "ゾーンの SOA シリアルの日付は {date}"),
    "DOM_DNS_UNKNOWN": ("DNS did not answer, the proof is unknown: {errors}", "DNS が応答せず、証明は不明です: {errors}"),
    "DOM_SINGLE_USE_WORDS": ("{distinct} distinct labels of letters only, {share:.0%} of them seen once: names invented "
                             "per message (dictionary words rotate like random strings)",
                             "英字のみのラベルが {distinct} 種類、その {share:.0%} が 1 回だけ: メールごとに作られた名前 "
                             "(辞書の単語でもランダム文字列と同じくローテーション)"),
    "DOM_FEW_LABELS": ("only {distinct} distinct child labels: no rotation", "子ラベルは {distinct} 種類のみ: ローテーションなし"),
    "DOM_ALLOWLISTED": ("a large provider on the bundled allow-list", "同梱の許可リストにある大手事業者"),
    "DOM_NOT_PROBED": ("labels do not count as rotating ({why}): no DNS proof asked",
                       "ラベルはローテーションとみなされないため DNS 確認なし ({why_ja})"),
    "DOM_NO_DNS": ("labels rotate, but no DNS proof was asked (--no-dns): not judged",
                   "ラベルはローテーションしていますが DNS 確認をしていません (--no-dns): 判定保留"),
}


def reason_text(code: str, params: dict[str, Any], lang: str) -> str:
    en, ja = REASONS[code]
    try:
        return (ja if lang == "ja" else en).format(**params)
    except (KeyError, ValueError):
        return ja if lang == "ja" else en


@lru_cache(maxsize=1)
def allowlist() -> frozenset[str]:
    text = resources.files("mailposture.domains").joinpath("allowlist.txt").read_text(encoding="utf-8")
    return frozenset(ln.split()[0].lower() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


@dataclass(slots=True)
class Thresholds:
    min_labels: int = 10          # distinct child labels under one parent before labels "rotate"
    random_share: float = 0.3     # share of those labels the label model calls random
    once_share: float = 0.5       # share of labels seen a single time
    words_min: int = 20           # letters-only labels path: distinct labels under one parent (and min_labels)
    words_once: float = 0.9       # ... of which this share seen a single time
    words_alpha: float = 0.9      # ... and this share letters only (digits: ISP and numbered hosts, left to the model)
    window: timedelta = timedelta(days=7)


@dataclass(slots=True)
class Rotation:
    parent: str | None
    distinct: int
    random_share: float
    once_share: float
    examples: list[str]
    burst: int | None
    rotating: bool
    single_use_words: bool = False     # the dictionary-word path: many letters-only labels, nearly all seen once

    @property
    def probe(self) -> bool:
        """Whether the DNS proof is asked for."""
        return self.rotating or self.single_use_words


def rotation(stats: DomainStats, th: Thresholds, flags: dict[str, bool] | None = None) -> Rotation:
    """The rotation statistics of the parent where most labels rotate. ``flags`` (label -> the model calls it
    random) are looked up when given (:func:`random_flags` scores many domains' labels in one batch)."""
    got = stats.rotation()
    if got is None:
        return Rotation(None, 0, 0.0, 0.0, [], None, False)
    parent, p = got
    labels = p.labels
    n = len(labels)
    distinct = n + p.distinct_beyond_cap
    if flags is None:
        names = list(labels)
        flags = dict(zip(names, model().random_flags(names), strict=True))
    randoms = [lab for lab in labels if flags[lab]]
    rshare = len(randoms) / n if n else 0.0
    seen = labels.values()
    once = [s.count for s in seen].count(1) / n if n else 0.0
    times = [s.first for s in seen if s.first is not None]
    burst = max_in_window(times, th.window) if times else None
    rotating = distinct >= th.min_labels and rshare >= th.random_share and once >= th.once_share
    pick = randoms or labels
    examples = sorted(pick)[:5] if len(pick) <= 64 else heapq.nsmallest(5, pick)
    words = (not rotating and distinct >= max(th.words_min, th.min_labels) and once >= th.words_once
             and n > 0 and sum(1 for lab in labels if lab.isalpha()) / n >= th.words_alpha)
    return Rotation(parent, distinct, rshare, once, examples, burst, rotating, words)


def random_flags(domains: list[DomainStats], batch: int = 4096) -> dict[str, bool]:
    """Whether the label model calls each label random, for the labels of every domain's rotation parent: each
    distinct label scored once, in batches (the trees cost little per label in a batch, much per call)."""
    parents = [got[1].labels for got in map(DomainStats.rotation, domains) if got is not None]
    names = list(dict.fromkeys(lab for labels in parents for lab in labels))
    m = model()
    out: dict[str, bool] = {}
    size = -(-len(names) // max(1, -(-len(names) // batch))) if names else 1    # equal chunks, none tiny
    for i in range(0, len(names), size):
        chunk = names[i:i + size]
        out.update(zip(chunk, m.random_flags(chunk), strict=True))
    return out


def judge(stats: DomainStats, rot: Rotation, proof: Proof | None, th: Thresholds, lang: str) -> dict[str, Any]:
    reasons: list[tuple[str, dict[str, Any]]] = []
    verdict = "benign"
    if stats.domain in allowlist():
        reasons.append(("DOM_ALLOWLISTED", {}))
    elif not rot.probe:
        if rot.distinct < th.min_labels:
            reasons.append(("DOM_FEW_LABELS", {"distinct": rot.distinct}))
        else:
            reasons.append(("DOM_NOT_PROBED", {"distinct": rot.distinct, **_not_rotating_why(rot, th)}))
    if rot.distinct >= th.min_labels:
        reasons.append(("DOM_ROTATING_LABELS", {"distinct": rot.distinct, "parent": rot.parent}))
        if rot.random_share >= th.random_share:
            reasons.append(("DOM_RANDOM_LABELS", {"share": rot.random_share, "examples": ", ".join(rot.examples[:3])}))
        if rot.once_share >= th.once_share:
            reasons.append(("DOM_SINGLE_USE_LABELS", {"share": rot.once_share}))
        if rot.burst and rot.burst >= th.min_labels:
            reasons.append(("DOM_LABEL_BURST", {"count": rot.burst, "window": _span(th.window, lang)}))
        if rot.single_use_words:
            reasons.append(("DOM_SINGLE_USE_WORDS", {"distinct": rot.distinct, "share": rot.once_share}))
    if proof is None and rot.probe and stats.domain not in allowlist():
        reasons.append(("DOM_NO_DNS", {}))
    if proof is not None:
        if proof.wildcard_spf:
            code = "DOM_WILDCARD_SPF" if proof.wildcard_authorizes else "DOM_WILDCARD_SPF_NOTHING"
            reasons.append((code, {"probe": proof.probe_name, "record": proof.wildcard_record}))
        if proof.seen_spf:
            reasons.append(("DOM_SPF_ON_SEEN", {"name": proof.seen_name, "record": proof.seen_record}))
        if proof.spf_pass_ips:
            reasons.append(("DOM_SPF_PASS", {"ips": ", ".join(proof.spf_pass_ips)}))
        if proof.wildcard_a:
            reasons.append(("DOM_WILDCARD_A", {}))
        if proof.wildcard_mx:
            reasons.append(("DOM_WILDCARD_MX", {}))
        if proof.soa_serial_date:
            reasons.append(("DOM_SOA_SERIAL_DATE", {"date": proof.soa_serial_date}))
        if proof.wildcard_spf is None or proof.errors:
            reasons.append(("DOM_DNS_UNKNOWN", {"errors": "; ".join(proof.errors[:3])}))
        if rot.rotating and stats.domain not in allowlist():
            if proof.wildcard_spf and proof.wildcard_authorizes:
                verdict = "random-subdomain-spf"
            elif (proof.seen_spf and proof.seen_authorizes) or proof.spf_pass_ips:
                verdict = "suspicious"
        elif rot.single_use_words and stats.domain not in allowlist() and proof.wildcard_spf \
                and proof.wildcard_authorizes:
            verdict = "random-subdomain-spf"     # this path flags on the wildcard proof only, never on seen SPF
    score = _score(rot, proof, th)
    if verdict == "benign":
        score = min(score, 0.49)
    return {
        "domain": stats.domain,
        "verdict": verdict,
        "score": round(score, 3),
        "reasons": [{"code": c, "detail": reason_text(c, p, lang)} for c, p in reasons],
        "labels": {"distinct": rot.distinct, "random_share": round(rot.random_share, 4),
                   "once_share": round(rot.once_share, 4), "parent": rot.parent, "examples": rot.examples,
                   "max_new_in_window": rot.burst},
        "spf": {"wildcard": proof.wildcard_spf if proof else None,
                "record": (proof.wildcard_record or proof.seen_record) if proof else None,
                "probe": proof.probe_name if proof else None,
                "pass_ips": proof.spf_pass_ips if proof else []},
        "dns": ({"wildcard_a": proof.wildcard_a, "wildcard_mx": proof.wildcard_mx, "ns": proof.ns,
                 "soa_serial": proof.soa_serial, "answers": proof.answers} if proof else None),
        "observations": stats.observations,
        "first_seen": stats.first_seen.isoformat() if stats.first_seen else None,
        "last_seen": stats.last_seen.isoformat() if stats.last_seen else None,
        "registrar": None,
    }


def _not_rotating_why(rot: Rotation, th: Thresholds) -> dict[str, str]:
    """Which share kept many distinct labels from counting as rotation (both languages)."""
    en, ja = [], []
    if rot.random_share < th.random_share:
        en.append(f"only {rot.random_share:.0%} look random, under {th.random_share:.0%}")
        ja.append(f"ランダムに見えるラベルが {rot.random_share:.0%} で {th.random_share:.0%} 未満")
    if rot.once_share < th.once_share:
        en.append(f"only {rot.once_share:.0%} were seen once, under {th.once_share:.0%}")
        ja.append(f"1 回だけのラベルが {rot.once_share:.0%} で {th.once_share:.0%} 未満")
    return {"why": "; ".join(en), "why_ja": "、".join(ja)}


def _score(rot: Rotation, proof: Proof | None, th: Thresholds) -> float:
    s = 0.3 * min(1.0, rot.distinct / (5 * th.min_labels)) + 0.25 * rot.random_share + 0.1 * rot.once_share
    if proof is not None:
        if proof.wildcard_spf and proof.wildcard_authorizes:
            s += 0.35
        elif (proof.seen_spf and proof.seen_authorizes) or proof.spf_pass_ips:
            s += 0.2
    return min(1.0, s)


def _span(td: timedelta, lang: str) -> str:
    days = td.total_seconds() / 86400
    if days >= 1 and days == int(days):
        return f"{int(days)} 日" if lang == "ja" else f"{int(days)} days"
    hours = td.total_seconds() / 3600
    return f"{hours:g} 時間" if lang == "ja" else f"{hours:g} hours"
