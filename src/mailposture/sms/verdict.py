"""One message -> verdict (smishing / spam / ham), score and reasons; the rules and the text model combined.

Score: the text model's log-odds plus the weights of the rule reasons (:mod:`mailposture.sms.reasons`), squashed
to 0..1. A message is not ham when the combined log-odds are above 0; it is ``smishing`` when a reason says
impersonation (look-alike domain, brand named with a foreign link, shortener to a look-alike, mobile-number
sender for a short-code brand) or credential/payment phishing, else ``spam``. Lure words count only when the
message also has a link off the brands' genuine domains or a number to call; links that are all on a named
brand's genuine domains lower the score — so 不在 or ご確認ください alone never decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailposture.sms import brands as B
from mailposture.sms import lures as L
from mailposture.sms.classifier import Model, bundled, prepare, sigmoid
from mailposture.sms.lookalike import Lookalike, lookalike
from mailposture.sms.normalize import (
    RISKY_TLDS,
    FoundUrl,
    extract_phones,
    extract_urls,
    is_personal_mobile,
    language,
    registrable,
    template_key,
    tld,
)
from mailposture.sms.reasons import Reason

VERDICTS = ("smishing", "spam", "ham")
MAX_CHARS = 4096   # analysed length: a concatenated SMS is at most a few hundred characters; output keeps all
BASIS = {"model": ("文面モデル", "the text model"), "both": ("文面モデルとルールの両方", "the text model and the rules"),
         "model_over_rules": ("文面モデル(ルールとは逆方向)", "the text model (the rules point the other way)"),
         "rules": ("ルール(文面モデルとは逆方向)", "the rules (the text model points the other way)")}


@dataclass(slots=True)
class Landing:
    """What following a shortened link found (``--resolve``)."""
    url: str
    final_url: str | None = None
    host: str | None = None
    error: str | None = None            # HTTP side: why the redirect could not be followed
    dns_status: str | None = None       # "ok" | "nxdomain" | "nodata" | "error"
    dns_error: str | None = None
    addresses: tuple[str, ...] = ()


@dataclass(slots=True)
class UrlInfo:
    url: str
    domain: str
    host: str
    brand: str | None = None
    lookalike_of: str | None = None
    shortener: bool = False
    landing: Landing | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "domain": self.domain, "brand": self.brand, "lookalike_of": self.lookalike_of}


@dataclass(slots=True)
class Result:
    text: str
    verdict: str
    score: float
    reasons: list[Reason]
    urls: list[UrlInfo]
    campaign: str
    lang: str                       # detected language of the message
    brands: list[str] = field(default_factory=list)   # brands named or imitated
    sender: str | None = None
    received_at: str | None = None

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {"text": self.text, "verdict": self.verdict, "score": self.score,
                "reasons": [r.to_json(lang) for r in self.reasons], "urls": [u.to_json() for u in self.urls],
                "campaign": self.campaign}


def _brand_label(bid: str) -> str:
    return B.by_id()[bid].label


def _lookalike_reason(u: FoundUrl, la: Lookalike) -> Reason:
    p = {"domain": u.host, "brand": _brand_label(la.brand), "brand_domain": la.brand_domain}
    if la.kind == "edit":
        return Reason("SMS_LOOKALIKE_EDIT", {**p, "distance": la.distance})
    if la.kind == "homoglyph":
        return Reason("SMS_LOOKALIKE_HOMOGLYPH", p)
    return Reason("SMS_LOOKALIKE_KEYWORD", {**p, "keyword": la.keyword})


class Analyzer:
    def __init__(self, model: Model | None = None) -> None:
        self.model = model or bundled()

    def check(self, text: str, sender: str | None = None, received_at: str | None = None,
              landings: dict[str, Landing] | None = None) -> Result:
        found, rest = extract_urls(text if len(text) <= MAX_CHARS else text[:MAX_CHARS])
        lang = language(rest)
        named = B.named_brands(rest)
        reasons: list[Reason] = []
        infos: list[UrlInfo] = []
        foreign = 0          # links off every catalogue brand's genuine domains (a brand's own site is never the
        #                      attacker's, even when another brand of its group is named)
        all_official: str | None = None
        imitated: list[str] = []
        for u in found:
            domain = u.host if u.is_ip else registrable(u.host)
            info = UrlInfo(u.url, domain, u.host)
            infos.append(info)
            reasons.append(Reason("SMS_URL", {"url": u.url, "domain": domain}))
            if u.obfuscation:
                reasons.append(Reason("SMS_URL_OBFUSCATED", {"url": u.url, "how": ", ".join(u.obfuscation)}))
            if u.is_ip:
                reasons.append(Reason("SMS_URL_RAW_IP", {"url": u.url}))
                foreign += 1
                continue
            info.brand = B.official_brand(u.host)
            if info.brand:
                all_official = all_official if all_official is not None else info.brand
                continue
            all_official = ""
            foreign += 1
            if B.is_shortener(u.host):
                info.shortener = True
                reasons.append(Reason("SMS_URL_SHORTENER", {"domain": u.host}))
                land = (landings or {}).get(u.url)
                if land is not None:
                    info.landing = land
                    self._landing_reasons(info, land, reasons, imitated)
                continue
            if "xn--" in u.host:
                from mailposture.sms.lookalike import decode_punycode

                reasons.append(Reason("SMS_PUNYCODE", {"domain": u.host, "unicode": decode_punycode(u.host)}))
            t = tld(u.host)
            if t in RISKY_TLDS:
                reasons.append(Reason("SMS_TLD_RISKY", {"domain": domain, "tld": t}))
            la = lookalike(u.host)
            if la:
                info.lookalike_of = la.brand
                imitated.append(la.brand)
                reasons.append(_lookalike_reason(u, la))
        if named and foreign and not imitated:
            off = next((i for i in infos if not i.brand), None)
            if off is not None:
                b = B.by_id()[named[0]]
                reasons.append(Reason("SMS_BRAND_MISMATCH", {"brand": b.label, "domain": off.domain,
                                                             "official": ", ".join(b.domains)}))
        if found and all_official:
            reasons.append(Reason("SMS_URL_OFFICIAL", {"brand": _brand_label(all_official),
                                                       "domain": infos[0].domain}))
        phones = extract_phones(rest)
        for p in phones:
            reasons.append(Reason("SMS_PHONE_NUMBER", {"number": p}))
        if not found and not phones:
            code = L.one_time_code(rest)
            if code:
                reasons.append(Reason("SMS_ONE_TIME_CODE", {"code": code}))
        actionable = foreign > 0 or bool(phones)
        if actionable:
            lu = L.find(rest)
            action = lu.action or ("URL" if foreign else "")
            if lu.urgency and action:
                reasons.append(Reason("SMS_LURE_URGENCY", {"lure": lu.urgency, "action": action}))
            if foreign:
                if lu.credential:
                    reasons.append(Reason("SMS_LURE_CREDENTIAL", {"lure": lu.credential}))
                if lu.payment:
                    reasons.append(Reason("SMS_LURE_PAYMENT", {"lure": lu.payment}))
            if lu.offer:
                reasons.append(Reason("SMS_SPAM_OFFER", {"lure": lu.offer}))
        if sender and is_personal_mobile(sender):
            for bid in named:
                if B.by_id()[bid].sms == "short":
                    reasons.append(Reason("SMS_SENDER_PHONE", {"sender": sender, "brand": _brand_label(bid)}))
                    break
        return self._decide(text, sender, received_at, lang, rest, len(found), reasons, infos,
                            list(dict.fromkeys(named + imitated)), template_key(text, rest, phones))

    def _landing_reasons(self, info: UrlInfo, land: Landing, reasons: list[Reason], imitated: list[str]) -> None:
        if land.error or not land.host:
            reasons.append(Reason("SMS_RESOLVE_FAILED", {"url": info.url, "error": land.error or "no redirect"}))
            return
        reasons.append(Reason("SMS_LANDING", {"url": info.url, "landing": land.final_url or land.host}))
        la = None if B.official_brand(land.host) else lookalike(land.host)
        if la:
            info.lookalike_of = la.brand
            imitated.append(la.brand)
            reasons.append(Reason("SMS_SHORTENER_TO_LOOKALIKE", {"url": info.url, "landing": land.host,
                                                                "brand": _brand_label(la.brand)}))
        elif tld(land.host) in RISKY_TLDS:
            reasons.append(Reason("SMS_TLD_RISKY", {"domain": registrable(land.host), "tld": tld(land.host)}))
        if land.dns_status == "nxdomain":
            reasons.append(Reason("SMS_LANDING_NXDOMAIN", {"domain": land.host}))
        elif land.dns_status == "error":
            reasons.append(Reason("SMS_LANDING_DNS_ERROR", {"domain": land.host, "error": land.dns_error or "?"}))

    def _decide(self, text: str, sender: str | None, received_at: str | None, lang: str, rest: str, n_urls: int,
                reasons: list[Reason], infos: list[UrlInfo], brands: list[str], campaign: str) -> Result:
        model_z = self.model.logit(prepare(rest, n_urls)) - self.model.threshold
        rules_z = sum(r.effective_weight for r in reasons)
        z = model_z + rules_z
        kinds = {r.definition.kind for r in reasons}
        if z <= 0:
            verdict = "ham"
        elif "impersonation" in kinds or ({"SMS_LURE_CREDENTIAL", "SMS_LURE_PAYMENT"} & {r.code for r in reasons}):
            verdict = "smishing"
        elif brands and "phishing" in kinds:
            verdict = "smishing"
        else:
            verdict = "spam"
        p = sigmoid(model_z)
        reasons.append(Reason("SMS_MODEL", {"lang": lang, "p": f"{p:.2f}"}, weight=0.0))
        if abs(rules_z) < 0.01:
            basis = "model"
        elif (model_z > 0) == (z > 0):
            basis = "both" if (rules_z > 0) == (model_z > 0) else "model_over_rules"
        else:
            basis = "rules"
        reasons.append(Reason("SMS_VERDICT_BASIS", {"basis": BASIS[basis][1], "basis_ja": BASIS[basis][0]}))
        return Result(text, verdict, round(sigmoid(z), 3), reasons, infos, campaign, lang, brands,
                      sender, received_at)


def check(text: str, sender: str | None = None, **kw: Any) -> Result:
    """A one-off check with the bundled model."""
    return Analyzer().check(text, sender, **kw)

