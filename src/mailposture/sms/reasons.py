"""Stable reason codes of the SMS verdict: what each means, its weight in the score, and its text in ja/en.

A code never changes meaning once published; new situations get new codes. SMS reasons are not protocol
findings (no RFC behind them, no fix for the receiver), so they live in this catalogue of their own rather than
in :mod:`mailposture.findings`; ``docs/sms.md`` carries a table generated from it (``python -m
mailposture.sms.reasons`` prints it; a test checks the document is current).

``weight`` is added to the text model's log-odds (see :mod:`mailposture.sms.verdict`): positive weights push
towards spam/smishing, negative towards ham, zero is a fact shown for the reader. ``kind`` says which verdict a
reason supports: ``impersonation`` and ``phishing`` make a message smishing once the score says it is not
ham, ``spam`` and ``risk`` support spam, ``fact`` is informational, ``trust`` lowers the score.

Texts are ``str.format`` templates filled from the reason's params (``detail`` in JSON is the rendered text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["impersonation", "phishing", "spam", "risk", "fact", "trust", "model"]


@dataclass(frozen=True, slots=True)
class ReasonDef:
    code: str
    kind: Kind
    weight: float
    en: str
    ja: str
    meaning_en: str
    meaning_ja: str


REASONS: dict[str, ReasonDef] = {}


def _define(code: str, kind: Kind, weight: float, en: str, ja: str, meaning_en: str, meaning_ja: str) -> None:
    if code in REASONS:
        raise ValueError(f"reason code defined twice: {code}")
    REASONS[code] = ReasonDef(code, kind, weight, en, ja, meaning_en, meaning_ja)


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    weight: float | None = None     # None: the catalogue's weight

    @property
    def definition(self) -> ReasonDef:
        return REASONS[self.code]

    @property
    def effective_weight(self) -> float:
        return REASONS[self.code].weight if self.weight is None else self.weight

    def detail(self, lang: str = "en") -> str:
        d = REASONS[self.code]
        return (d.ja if lang == "ja" else d.en).format_map(_Safe(self.params))

    def to_json(self, lang: str = "en") -> dict[str, str]:
        return {"code": self.code, "detail": self.detail(lang)}


# --------------------------------------------------------------------------------------------- the catalogue
# facts about the links
_define("SMS_URL", "fact", 0.0,
        "link {url} (registrable domain {domain})", "リンク {url}(登録可能ドメイン {domain})",
        "A link found in the text, with its registrable domain from the Public Suffix List.",
        "本文中のリンクと、Public Suffix List による登録可能ドメイン。")
_define("SMS_URL_OBFUSCATED", "risk", 2.0,
        "the link {url} is written disguised ({how}) to slip past filters",
        "リンク {url} がフィルタ回避のため崩して書かれています({how})",
        "A link written with hxxp, [.], (dot), spaces or full-width dots inside it. Genuine notices never do this.",
        "hxxp・[.]・(dot)・URL 内の空白や全角ドットなどで崩したリンク。正規の通知はこう書きません。")
_define("SMS_URL_SHORTENER", "risk", 1.2,
        "{domain} is a URL shortener: the real destination is hidden",
        "{domain} は短縮 URL サービスです。本当の行き先が隠れています",
        "A link through a URL-shortening service; the landing page is only known after following it (--resolve).",
        "短縮 URL 経由のリンク。行き先は辿らないと分かりません(--resolve)。")
_define("SMS_URL_RAW_IP", "risk", 2.0,
        "the link {url} points at a raw IP address", "リンク {url} は IP アドレスを直接指しています",
        "A link to a numeric IP address instead of a domain name.", "ドメイン名でなく IP アドレスを直接指すリンク。")
_define("SMS_TLD_RISKY", "risk", 1.0,
        "{domain} uses the top-level domain .{tld}, cheap and favoured by smishing campaigns",
        "{domain} のトップレベルドメイン .{tld} は安価で、スミッシングに多用されています",
        "A top-level domain that is new or sold cheaply and heavily used by smishing campaigns.",
        "新しい、または安価でスミッシングに多用されるトップレベルドメイン。")
_define("SMS_PUNYCODE", "risk", 1.0,
        "{domain} is an internationalised (punycode) name: {unicode}",
        "{domain} は国際化ドメイン名(punycode)です: {unicode}",
        "A host name with xn-- labels; shown decoded, because it can imitate a familiar name.",
        "xn-- で始まるラベルを含むホスト名。見慣れた名前を真似られるため、復号して示します。")
# impersonation
_define("SMS_LOOKALIKE_EDIT", "impersonation", 3.0,
        "{domain} imitates {brand_domain} ({brand}): {distance} character(s) apart",
        "{domain} は {brand}({brand_domain})を模倣しています(差は {distance} 文字)",
        "A domain one or two edits away from a brand's genuine domain (typo-squatting).",
        "ブランドの正規ドメインと 1〜2 文字だけ違うドメイン(タイポスクワッティング)。")
_define("SMS_LOOKALIKE_HOMOGLYPH", "impersonation", 3.5,
        "{domain} spells {brand_domain} ({brand}) with look-alike characters",
        "{domain} は似た文字で {brand}({brand_domain})を装っています",
        "A domain that reads as a brand's domain once look-alike characters (Cyrillic а, 0 for o, rn for m…) are "
        "mapped back.", "似た文字(キリル文字の а、o の代わりの 0、m の代わりの rn など)を戻すとブランドのドメインになるドメイン。")
_define("SMS_LOOKALIKE_KEYWORD", "impersonation", 3.0,
        "{domain} borrows the name of {brand} ('{keyword}') but is not its domain",
        "{domain} は {brand} の名前('{keyword}')を含みますが、正規のドメインではありません",
        "A host name containing a brand's name or keyword (sagawa-exp-delivery.com) on a domain the brand does "
        "not own.", "ブランド名・キーワードを含む(sagawa-exp-delivery.com など)が、ブランドのものではないドメイン。")
_define("SMS_BRAND_MISMATCH", "impersonation", 2.5,
        "the message speaks as {brand} but links to {domain}, not one of its domains ({official})",
        "{brand} を名乗っていますが、リンク先 {domain} は正規のドメイン({official})ではありません",
        "The text names a brand of the catalogue and links elsewhere than the brand's genuine domains.",
        "カタログのブランドを名乗りながら、正規ドメイン以外へリンクしています。")
_define("SMS_SENDER_PHONE", "impersonation", 2.0,
        "sent from the mobile number {sender}, but {brand} sends its SMS from a short code or its name",
        "携帯電話番号 {sender} から届いていますが、{brand} の SMS は短縮番号か名称で届きます",
        "The sender is a personal mobile number (070/080/090) while the brand named sends from a short code or "
        "registered sender name (only when a sender is given).",
        "送信元が個人の携帯電話番号(070/080/090)で、名乗るブランドは短縮番号や登録名で送っている場合(送信元が分かるときのみ)。")
_define("SMS_SHORTENER_TO_LOOKALIKE", "impersonation", 4.0,
        "the shortened link {url} leads to {landing}, which imitates {brand}",
        "短縮 URL {url} の行き先 {landing} は {brand} を装っています",
        "With --resolve: a shortener redirects to a brand look-alike. The strongest reason.",
        "--resolve 時: 短縮 URL の転送先がブランドの偽装ドメイン。最も強い根拠です。")
# lures (only when the message carries a link or a number to call that is not the brand's own)
_define("SMS_LURE_URGENCY", "phishing", 1.5,
        "urgent threat ('{lure}') with a call to action ('{action}')",
        "緊急を装う文言('{lure}')と行動の要求('{action}')",
        "Pressure words (未納, 停止, 差し押さえ, suspended…) together with a link or number to act on.",
        "未納・停止・差し押さえ・suspended などの圧力をかける文言と、リンクや電話番号による行動の要求。")
_define("SMS_LURE_CREDENTIAL", "phishing", 1.5,
        "asks for credentials or card details ('{lure}') through a link",
        "リンク経由で認証情報・カード情報を求めています('{lure}')",
        "Asks to log in, re-enter a password, card number or security code via a link that is not the brand's.",
        "正規でないリンクからのログイン、パスワード・カード番号・セキュリティコードの入力を求めます。")
_define("SMS_LURE_PAYMENT", "phishing", 1.0,
        "asks for a payment ('{lure}') through a link", "リンク経由で支払いを求めています('{lure}')",
        "Asks for a fee (redelivery, customs, unpaid bill) through a link that is not the brand's.",
        "再配達料・関税・未払い料金などの支払いを、正規でないリンクから求めます。")
_define("SMS_SPAM_OFFER", "spam", 1.0,
        "unsolicited offer ('{lure}')", "一方的な勧誘('{lure}')",
        "Prizes, free gifts, easy money, loans, dating: typical unsolicited or fraudulent offers.",
        "当選・無料・副業・融資・出会いなど、典型的な迷惑・詐欺の勧誘。")
_define("SMS_PHONE_NUMBER", "fact", 0.0,
        "phone number in the text: {number}", "本文中の電話番号: {number}",
        "A phone number found in the text (callback scams ask to call it).",
        "本文中の電話番号(折り返し電話を求める詐欺があります)。")
# trust
_define("SMS_URL_OFFICIAL", "trust", -3.0,
        "every link is on a genuine domain of {brand} ({domain})",
        "リンクはすべて {brand} の正規ドメイン({domain})です",
        "All links are on the genuine domains of a catalogue brand: wording such as 不在 or ご確認ください then "
        "counts for little.", "リンクがすべてカタログのブランドの正規ドメイン。「不在」「ご確認ください」などの文言はほとんど効きません。")
_define("SMS_ONE_TIME_CODE", "trust", -2.0,
        "a one-time code ({code}) with no link and no number to call: how services send codes",
        "リンクも電話番号もないワンタイムコード({code}):サービスが認証コードを送る通常の形です",
        "A verification code with no link and no phone number — the usual shape of genuine code messages.",
        "リンクも電話番号もない認証コード。正規の認証コード通知の通常の形です。")
# with --resolve
_define("SMS_LANDING", "fact", 0.0,
        "the shortened link {url} leads to {landing}", "短縮 URL {url} の行き先は {landing} です",
        "With --resolve: where a shortened link redirects.", "--resolve 時: 短縮 URL の転送先。")
_define("SMS_LANDING_NXDOMAIN", "risk", 0.5,
        "the landing domain {domain} does not exist in the DNS (taken down or not yet live)",
        "行き先のドメイン {domain} は DNS に存在しません(停止済みか未稼働)",
        "With --resolve: the landing host answers NXDOMAIN.", "--resolve 時: 行き先のホスト名が NXDOMAIN。")
_define("SMS_LANDING_DNS_ERROR", "fact", 0.0,
        "the DNS lookup of {domain} failed ({error}): unknown, not absent",
        "{domain} の DNS 問い合わせに失敗しました({error})。不明であり、不存在ではありません",
        "With --resolve: the landing host could not be looked up; nothing is concluded.",
        "--resolve 時: 行き先を引けませんでした。何も結論づけません。")
_define("SMS_RESOLVE_FAILED", "fact", 0.0,
        "could not follow {url}: {error}", "{url} を辿れませんでした: {error}",
        "With --resolve: the shortener did not answer with a redirect.", "--resolve 時: 短縮 URL が転送を返しませんでした。")
# the text model
_define("SMS_MODEL", "model", 0.0,
        "text model ({lang}): spam probability {p}", "文面モデル({lang}): 迷惑・詐欺の確率 {p}",
        "The character n-gram text model's probability, before the rules (its log-odds are the base of the score).",
        "文字 n-gram の文面モデルの確率(ルール適用前。この対数オッズがスコアの基礎です)。")
_define("SMS_VERDICT_BASIS", "fact", 0.0,
        "verdict from {basis}", "判定の根拠: {basis_ja}",
        "Which side decided: the text model, the rules, or both.", "判定を決めたのが文面モデルか、ルールか、その両方か。")


def reasons_markdown(lang: str = "en") -> str:
    """The table of codes for docs/sms.md."""
    ja = lang == "ja"
    head = ("| コード | 種別 | 重み | 意味 |" if ja else "| Code | Kind | Weight | Meaning |")
    rows = [head, "|---|---|---|---|"]
    for d in REASONS.values():
        rows.append(f"| `{d.code}` | {d.kind} | {d.weight:+.1f} | {d.meaning_ja if ja else d.meaning_en} |")
    return "\n".join(rows) + "\n"


BEGIN = "<!-- reasons: generated by `python -m mailposture.sms.reasons docs/sms.md`; do not edit -->"
END = "<!-- reasons: end -->"


def reasons_section() -> str:
    return f"{BEGIN}\n\n### 日本語\n\n{reasons_markdown('ja')}\n### English\n\n{reasons_markdown('en')}\n{END}"


def update_doc(text: str) -> str:
    """``text`` with the generated block between the markers replaced by the current catalogue."""
    a, b = text.index(BEGIN), text.index(END) + len(END)
    return text[:a] + reasons_section() + text[b:]


if __name__ == "__main__":  # pragma: no cover
    import sys
    from pathlib import Path

    if len(sys.argv) > 1:
        p = Path(sys.argv[1])
        p.write_text(update_doc(p.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(reasons_section())
