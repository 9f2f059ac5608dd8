"""Stable finding codes: one catalogue of every problem or fact a check can report.

A code never changes meaning once published; new situations get new codes. Each entry names its severity,
the RFC section behind the rule, and a message and a fix in Japanese and English. Messages are
``str.format`` templates filled from the finding's ``params``.

Severities: ``error`` (the record is broken or the protection fails), ``warning`` (works, but weak or risky),
``info`` (a fact worth knowing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class FindingDef:
    code: str
    severity: Severity
    rfc: str
    en: str
    ja: str
    fix_en: str = ""
    fix_ja: str = ""


CATALOG: dict[str, FindingDef] = {}


def define(code: str, severity: Severity, rfc: str, en: str, ja: str, fix_en: str = "", fix_ja: str = "") -> None:
    if code in CATALOG:
        raise ValueError(f"finding code defined twice: {code}")
    CATALOG[code] = FindingDef(code, severity, rfc, en, ja, fix_en, fix_ja)


class _Safe(dict):  # missing params render as {name} instead of raising
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    severity_override: Severity | None = None

    @property
    def definition(self) -> FindingDef:
        return CATALOG[self.code]

    @property
    def severity(self) -> Severity:
        return self.severity_override or self.definition.severity

    @property
    def rfc(self) -> str:
        return self.definition.rfc

    def message(self, lang: str = "en") -> str:
        d = self.definition
        return (d.ja if lang == "ja" else d.en).format_map(_Safe(self.params))

    def fix(self, lang: str = "en") -> str:
        d = self.definition
        return (d.fix_ja if lang == "ja" else d.fix_en).format_map(_Safe(self.params))

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "severity": self.severity, "message": self.message(lang),
                               "rfc": self.rfc}
        if self.params:
            out["params"] = self.params
        fix = self.fix(lang)
        if fix:
            out["fix"] = fix
        return out


def finding(code: str, severity: Severity | None = None, **params: Any) -> Finding:
    """Make a finding; the code must be in the catalogue (a typo fails loudly in tests)."""
    if code not in CATALOG:
        raise KeyError(f"unknown finding code: {code}")
    return Finding(code, params, severity)


def render(f: dict[str, Any], lang: str) -> dict[str, Any]:
    """Re-render a stored finding (from JSON) in another language."""
    if f.get("code") in CATALOG:
        return Finding(f["code"], f.get("params", {}), f.get("severity")).to_json(lang)
    return f


# ---------------------------------------------------------------------------------------------------------------
# Domain and DNS
define("DOMAIN_INVALID", "error", "RFC 1035 §2.3.1",
       "'{domain}' is not a valid domain name: {reason}",
       "「{domain}」はドメイン名として正しくありません: {reason}")
define("DOMAIN_NXDOMAIN", "error", "RFC 8020 §2",
       "The domain {domain} does not exist in the DNS (NXDOMAIN).",
       "ドメイン {domain} は DNS に存在しません (NXDOMAIN)。")
define("DNS_ERROR", "error", "RFC 7208 §2.6.6, RFC 7489 §6.6.3",
       "DNS lookup of {name} {type} failed ({error}); this part of the result is unknown, not absent.",
       "{name} の {type} 検索に失敗しました ({error})。この項目は「なし」ではなく「不明」です。",
       "Check that the domain's authoritative servers answer for this name, then retry.",
       "権威 DNS サーバがこの名前に応答しているか確認し、再試行してください。")

# ---------------------------------------------------------------------------------------------------------------
# SPF (RFC 7208)
define("SPF_NONE", "warning", "RFC 7208 §4.5",
       "No SPF record is published at {domain}: receivers cannot tell which servers may send its mail.",
       "{domain} に SPF レコードがありません。受信側は正規の送信サーバを判別できません。",
       "Publish one TXT record starting with 'v=spf1' that lists your sending servers and ends with '-all' "
       "(or 'v=spf1 -all' if the domain sends no mail).",
       "送信サーバを列挙し '-all' で終わる 'v=spf1' の TXT レコードを 1 つ公開してください"
       "(メールを送らないドメインは 'v=spf1 -all')。")
define("SPF_MULTIPLE_RECORDS", "error", "RFC 7208 §4.5",
       "{count} SPF records are published at {domain}; more than one makes every check a permerror.",
       "{domain} に SPF レコードが {count} 個あります。複数あると評価結果は常に permerror になります。",
       "Merge them into a single 'v=spf1' TXT record.",
       "1 つの 'v=spf1' TXT レコードに統合してください。")
define("SPF_SYNTAX", "error", "RFC 7208 §4.6, §12",
       "SPF syntax error at position {position} ('{term}'): {reason}.",
       "SPF の構文エラー (位置 {position}、'{term}'): {reason}。",
       "Correct the term; a syntax error makes the whole record a permerror.",
       "この項目を修正してください。構文エラーがあるとレコード全体が permerror になります。")
define("SPF_DUPLICATE_MODIFIER", "error", "RFC 7208 §6",
       "The modifier '{modifier}' appears more than once.",
       "修飾子 '{modifier}' が複数回現れます。",
       "Keep one '{modifier}=' modifier.", "'{modifier}=' は 1 つだけにしてください。")
define("SPF_LOOKUP_LIMIT", "error", "RFC 7208 §4.6.4",
       "The record needs {count} DNS lookups (limit 10) over its include/redirect tree: receivers return permerror.",
       "include/redirect を含めた DNS 参照回数が {count} 回で、上限 10 回を超えています。受信側では permerror になります。",
       "Remove unused includes, replace 'a'/'mx'/'ptr' with ip4:/ip6: ranges, or flatten a provider's include.",
       "不要な include を削除する、a/mx/ptr を ip4:/ip6: に置き換えるなどして参照回数を 10 回以下にしてください。")
define("SPF_VOID_LOOKUP_LIMIT", "error", "RFC 7208 §4.6.4",
       "{count} DNS lookups return no answer (void lookups, limit 2): receivers may return permerror.",
       "応答が空の DNS 参照 (void lookup) が {count} 回あり、上限 2 回を超えています。permerror になり得ます。",
       "Remove mechanisms that point at names without records.",
       "レコードの存在しない名前を指す項目を削除してください。")
define("SPF_VOID_LOOKUP", "warning", "RFC 7208 §4.6.4",
       "'{term}' looks up {name}, which has no records (a void lookup).",
       "'{term}' が参照する {name} にはレコードがありません (void lookup)。",
       "Remove the term or publish the missing record.", "この項目を削除するか、不足しているレコードを公開してください。")
define("SPF_INCLUDE_LOOP", "error", "RFC 7208 §5.2",
       "'{term}' leads back to {name}, which is already being evaluated: an include/redirect loop.",
       "'{term}' が評価中の {name} に戻っています (include/redirect のループ)。",
       "Break the loop.", "ループを解消してください。")
define("SPF_INCLUDE_MISSING", "error", "RFC 7208 §5.2",
       "'{term}': {name} publishes no SPF record, so the include is a permerror.",
       "'{term}' の参照先 {name} に SPF レコードがないため、この include は permerror になります。",
       "Fix the include target or remove the include.", "include 先を修正するか削除してください。")
define("SPF_REDIRECT_MISSING", "error", "RFC 7208 §6.1",
       "redirect={name}: the target publishes no SPF record, so the result is permerror.",
       "redirect={name} の参照先に SPF レコードがないため、結果は permerror になります。",
       "Point redirect= at a domain that publishes SPF.", "SPF を公開しているドメインを redirect= に指定してください。")
define("SPF_INCLUDE_ERROR", "error", "RFC 7208 §5.2",
       "'{term}': the included record of {name} is broken ({reason}).",
       "'{term}' で参照する {name} の SPF レコードに問題があります ({reason})。",
       "Fix or replace the included record.", "参照先のレコードを修正するか置き換えてください。")
define("SPF_PASS_ALL", "error", "RFC 7208 §5.1",
       "'+all' (or 'all') lets every server on the Internet pass SPF for this domain.",
       "'+all' (または 'all') により、インターネット上のすべてのサーバが SPF 認証に合格します。",
       "End the record with '-all' (or '~all' while testing).", "レコードの末尾を '-all' (検証中は '~all') にしてください。")
define("SPF_NEUTRAL_ALL", "warning", "RFC 7208 §5.1, §8.2",
       "'?all' gives a neutral result to every unlisted server: it protects nothing.",
       "'?all' は未登録のサーバを neutral とするため、なりすまし対策になりません。",
       "End the record with '-all' or '~all'.", "末尾を '-all' または '~all' にしてください。")
define("SPF_SOFTFAIL_ALL", "info", "RFC 7208 §8.5",
       "'~all': unlisted servers get softfail; many receivers accept such mail.",
       "'~all': 未登録サーバは softfail となり、受信されることが多くあります。",
       "Move to '-all' once all legitimate senders are listed.", "正規の送信元をすべて登録したら '-all' に移行してください。")
define("SPF_NO_ALL", "warning", "RFC 7208 §4.7",
       "The record has neither 'all' nor 'redirect=': unlisted servers get the default result neutral.",
       "'all' も 'redirect=' もないため、未登録サーバの評価は既定の neutral になります。",
       "End the record with '-all'.", "末尾に '-all' を追加してください。")
define("SPF_TERMS_AFTER_ALL", "warning", "RFC 7208 §5.1",
       "Terms after 'all' are never evaluated: {terms}.",
       "'all' より後ろの項目は評価されません: {terms}。",
       "Move them before 'all'.", "'all' より前に移動してください。")
define("SPF_REDIRECT_WITH_ALL", "warning", "RFC 7208 §6.1",
       "'redirect=' is ignored because the record contains 'all'.",
       "レコードに 'all' があるため 'redirect=' は無視されます。",
       "Remove one of them.", "どちらかを削除してください。")
define("SPF_PTR", "warning", "RFC 7208 §5.5",
       "The 'ptr' mechanism is slow, unreliable and SHOULD NOT be used.",
       "'ptr' メカニズムは低速で信頼性が低く、使用すべきではありません (SHOULD NOT)。",
       "Replace 'ptr' with ip4:/ip6: ranges or 'a'.", "'ptr' を ip4:/ip6: または 'a' に置き換えてください。")
define("SPF_EXP", "info", "RFC 7208 §6.2",
       "The record sets an explanation (exp={name}).", "説明文 (exp={name}) が設定されています。")
define("SPF_UNKNOWN_MODIFIER", "info", "RFC 7208 §6",
       "Unknown modifier '{modifier}' is ignored.", "未知の修飾子 '{modifier}' は無視されます。")
define("SPF_RECORD_TOO_LONG", "warning", "RFC 7208 §3.4",
       "The SPF record is {length} bytes; answers over 512 bytes may need TCP and some receivers fail.",
       "SPF レコードが {length} バイトあります。512 バイトを超える応答は TCP が必要になり、失敗する受信側があります。",
       "Shorten the record (use include: or fewer mechanisms).", "include: の利用などでレコードを短くしてください。")
define("SPF_MX_TOO_MANY", "error", "RFC 7208 §4.6.4",
       "'{term}': {name} has {count} MX records; more than 10 makes the check a permerror.",
       "'{term}': {name} の MX が {count} 個あり、10 個を超えると permerror になります。",
       "Use ip4:/ip6: instead of 'mx'.", "'mx' の代わりに ip4:/ip6: を使ってください。")
define("SPF_OVERPERMISSIVE", "warning", "RFC 7208 §5",
       "The record authorizes {ipv4} IPv4 addresses: more than {limit}, so many unrelated hosts may send as this domain.",
       "このレコードは {ipv4} 個の IPv4 アドレスを許可しています ({limit} 超)。無関係なホストがなりすませます。",
       "List only your own servers' addresses and your providers' includes.", "自組織と委託先の送信サーバだけを列挙してください。")
define("SPF_DNS_ERROR", "error", "RFC 7208 §2.6.6",
       "DNS lookup for {name} failed ({error}) during SPF evaluation: the result is temperror/unknown.",
       "SPF 評価中に {name} の DNS 参照に失敗しました ({error})。結果は temperror (不明) です。")
define("SPF_TYPE99", "info", "RFC 7208 §3.1, §14.1",
       "A record of the obsolete SPF RR type (99) is published; receivers ignore it.",
       "廃止された SPF リソースレコード型 (99) が公開されています。受信側は参照しません。",
       "Remove the type-99 record; keep the TXT record.", "型 99 のレコードを削除し、TXT レコードを使用してください。")
define("SPF_IP_HOST_BITS", "info", "RFC 7208 §5.6",
       "'{term}' has host bits set below the prefix length; it means {network}.",
       "'{term}' はプレフィックス長より下位のビットが立っています。{network} と同じ意味です。")
define("SPF_MACRO_P", "warning", "RFC 7208 §7.3",
       "The %{{p}} macro SHOULD NOT be used: it is slow and unreliable.",
       "%{{p}} マクロは低速で信頼性が低いため使用すべきではありません (SHOULD NOT)。")
define("SPF_NON_ASCII", "error", "RFC 7208 §4.5",
       "The record contains non-ASCII characters.", "レコードに ASCII 以外の文字が含まれています。")

# ---------------------------------------------------------------------------------------------------------------
# DMARC (RFC 7489, RFC 9989)
define("DMARC_NONE", "warning", "RFC 7489 §6.6.3",
       "No DMARC record at _dmarc.{domain} nor at its organizational domain: the domain can be spoofed.",
       "_dmarc.{domain} にも組織ドメインにも DMARC レコードがなく、なりすましを防げません。",
       "Publish a TXT record at _dmarc.{domain}, e.g. 'v=DMARC1; p=none; rua=mailto:dmarc@{domain}', then move to p=reject.",
       "_dmarc.{domain} に 'v=DMARC1; p=none; rua=mailto:dmarc@{domain}' などの TXT レコードを公開し、最終的に p=reject にしてください。")
define("DMARC_MULTIPLE_RECORDS", "error", "RFC 7489 §6.6.3",
       "{count} DMARC records at {name}: receivers then apply no DMARC policy at all.",
       "{name} に DMARC レコードが {count} 個あり、受信側は DMARC ポリシーを適用しません。",
       "Keep exactly one 'v=DMARC1' record.", "'v=DMARC1' のレコードを 1 つだけにしてください。")
define("DMARC_SYNTAX", "error", "RFC 7489 §6.4",
       "DMARC syntax error in '{term}': {reason}.", "DMARC の構文エラー ('{term}'): {reason}。")
define("DMARC_VERSION", "error", "RFC 7489 §6.3",
       "The record must start with 'v=DMARC1' (found '{found}').",
       "レコードは 'v=DMARC1' で始まる必要があります ('{found}')。")
define("DMARC_MISSING_P", "error", "RFC 7489 §6.3",
       "The required tag 'p' is missing.", "必須タグ 'p' がありません。",
       "Add 'p=none', 'p=quarantine' or 'p=reject'.", "'p=none'、'p=quarantine'、'p=reject' のいずれかを追加してください。")
define("DMARC_INVALID_VALUE", "error", "RFC 7489 §6.3",
       "Tag '{tag}' has an invalid value '{value}'{expected}.", "タグ '{tag}' の値 '{value}' は正しくありません{expected}。")
define("DMARC_DUPLICATE_TAG", "error", "RFC 7489 §6.4",
       "Tag '{tag}' appears more than once.", "タグ '{tag}' が複数回現れます。")
define("DMARC_UNKNOWN_TAG", "warning", "RFC 7489 §6.3",
       "Unknown tag '{tag}' is ignored.", "未知のタグ '{tag}' は無視されます。")
define("DMARC_DEPRECATED_TAG", "info", "RFC 9989 §4.7",
       "Tag '{tag}' was removed by RFC 9989 and is ignored by updated receivers.",
       "タグ '{tag}' は RFC 9989 で廃止され、対応した受信側では無視されます。")
define("DMARC_POLICY_NONE", "warning", "RFC 7489 §6.3",
       "p=none only monitors: spoofed mail is still delivered.",
       "p=none は監視のみで、なりすましメールは配送されます。",
       "After reviewing aggregate reports, move to p=quarantine and then p=reject.",
       "集計レポートを確認した上で p=quarantine、さらに p=reject に移行してください。")
define("DMARC_PCT_PARTIAL", "warning", "RFC 7489 §6.3",
       "pct={pct}: the policy applies to only part of the failing mail.",
       "pct={pct} のため、ポリシーは認証失敗メールの一部にしか適用されません。",
       "Remove pct (default 100).", "pct を削除してください (既定値 100)。")
define("DMARC_WEAK_SUBDOMAIN_POLICY", "warning", "RFC 7489 §6.3",
       "Subdomains get the weaker policy {sp} ({tag}) while the domain has p={p}.",
       "ドメインは p={p} ですが、サブドメインには弱いポリシー {sp} ({tag}) が適用されます。")
define("DMARC_NO_RUA", "info", "RFC 7489 §7.2",
       "No aggregate reports are requested (no 'rua'): the owner cannot see who sends as the domain.",
       "集計レポート (rua) が指定されていないため、ドメインの送信状況を把握できません。",
       "Add rua=mailto:<address> to receive aggregate reports.", "rua=mailto:<アドレス> を追加してください。")
define("DMARC_BAD_URI", "error", "RFC 7489 §6.2",
       "'{uri}' in {tag} is not a valid report URI (a mailto: address is expected).",
       "{tag} の '{uri}' は正しいレポート送付先 URI ではありません (mailto: アドレスが必要です)。")
define("DMARC_EXTERNAL_UNAUTHORIZED", "warning", "RFC 7489 §7.1",
       "Reports to {dest} are not authorized: {auth_name} has no 'v=DMARC1' record, so receivers will not send them.",
       "{dest} へのレポート送付が許可されていません ({auth_name} に 'v=DMARC1' レコードがありません)。",
       "Ask the report receiver to publish {auth_name} TXT 'v=DMARC1'.",
       "レポート受信側に {auth_name} TXT 'v=DMARC1' を公開してもらってください。")
define("DMARC_EXTERNAL_AUTHORIZED", "info", "RFC 7489 §7.1",
       "Reports to {dest} are authorized by {auth_name}.", "{dest} へのレポート送付は {auth_name} により許可されています。")
define("DMARC_REPORT_DOMAIN_NO_MAIL", "warning", "RFC 7489 §7.1",
       "The report address domain {dest} cannot receive mail ({reason}).",
       "レポート送付先ドメイン {dest} はメールを受信できません ({reason})。")
define("DMARC_SPF_AT_DMARC", "error", "RFC 7489 §6.1",
       "An SPF record is published at {name}: it belongs at the domain itself, not under _dmarc.",
       "{name} に SPF レコードが公開されています。SPF はドメイン自体に公開するものです。")
define("DMARC_OTHER_TXT", "info", "RFC 7489 §6.6.3",
       "{name} also holds a non-DMARC TXT record, which receivers ignore.",
       "{name} に DMARC 以外の TXT レコードがあります (受信側は無視します)。")
define("DMARC_INHERITED", "info", "RFC 7489 §6.6.3, RFC 9989 §4.10",
       "No record at _dmarc.{domain}; the policy comes from {source_domain} ({method}).",
       "_dmarc.{domain} にはレコードがなく、{source_domain} のポリシーが適用されます ({method})。")
define("DMARC_CNAME", "info", "RFC 7489 §6.1",
       "The DMARC record is reached through a CNAME ({chain}).", "DMARC レコードは CNAME 経由で参照されます ({chain})。")
define("DMARC_NOT_ENFORCING", "warning", "RFC 7489 §6.3",
       "The effective policy '{policy}' does not stop spoofed mail.",
       "実効ポリシー '{policy}' ではなりすましメールを止められません。")
define("DMARC_DNS_ERROR", "error", "RFC 7489 §6.6.3",
       "DNS lookup for {name} failed ({error}): the DMARC state is unknown.",
       "{name} の DNS 参照に失敗しました ({error})。DMARC の状態は不明です。")
define("DMARC_PSD_MISUSE", "warning", "RFC 9989 §4.7",
       "psd=y declares a public suffix domain; this is only for PSD operators.",
       "psd=y は公開サフィックス (PSD) 運用者向けの指定です。")
define("DMARC_TEST_MODE", "warning", "RFC 9989 §4.7",
       "t=y: the domain owner asks receivers not to apply the policy (test mode).",
       "t=y: ポリシーを適用しないよう受信側に求めています (テストモード)。",
       "Remove 't=y' once the reports show all legitimate mail passes.", "正規のメールが認証に合格することを確認したら 't=y' を削除してください。")
define("DMARC_FALLBACK_NONE", "warning", "RFC 7489 §6.6.3, RFC 9989 §4.10.1",
       "No usable policy ({reason}); because 'rua' lists a valid URI, receivers act as if p=none.",
       "有効なポリシーがありません ({reason})。'rua' に有効な URI があるため、受信側は p=none として扱います。")
define("DMARC_NOT_APPLIED", "error", "RFC 7489 §6.6.3, RFC 9989 §4.10.1",
       "No usable policy ({reason}) and no valid 'rua': receivers apply no DMARC processing.",
       "有効なポリシーがなく ({reason})、有効な 'rua' もないため、受信側は DMARC を適用しません。")
define("DMARC_URI_UNSUPPORTED", "warning", "RFC 7489 §6.2",
       "'{uri}' in {tag} uses the scheme '{scheme}'; receivers only have to support mailto: and ignore others.",
       "{tag} の '{uri}' はスキーム '{scheme}' です。受信側が対応必須なのは mailto: のみで、他は無視されます。")
define("DMARC_FO_WITHOUT_RUF", "info", "RFC 7489 §6.3",
       "'fo' is ignored because no 'ruf' is given.", "'ruf' がないため 'fo' は無視されます。")
define("DMARC_ORG_DOMAIN_MISMATCH", "info", "RFC 7489 §3.2, RFC 9989 §4.10.2",
       "The Public Suffix List gives the organizational domain {psl}, the DNS tree walk gives {tree_walk}.",
       "公開サフィックスリストによる組織ドメインは {psl}、DNS ツリーウォークによる組織ドメインは {tree_walk} です。")
define("DMARC_REPORT_DNS_ERROR", "warning", "RFC 7489 §7.1",
       "DNS lookup for {name} failed ({error}): whether reports to {dest} are accepted is unknown.",
       "{name} の DNS 参照に失敗しました ({error})。{dest} へのレポート送付が受け付けられるかは不明です。")

# ---------------------------------------------------------------------------------------------------------------
# MX (RFC 5321, RFC 7505)
define("MX_NONE", "info", "RFC 5321 §5.1",
       "No MX record: mail is delivered to the domain's A/AAAA address (implicit MX).",
       "MX レコードがありません。メールはドメインの A/AAAA アドレスに配送されます (暗黙の MX)。")
define("MX_NULL", "info", "RFC 7505 §3",
       "Null MX: the domain declares that it accepts no mail.", "Null MX: このドメインはメールを受信しないと宣言しています。")
define("MX_NULL_MIXED", "error", "RFC 7505 §3",
       "A null MX is published together with other MX records.", "Null MX が他の MX レコードと併存しています。",
       "Remove either the null MX or the other MX records.", "Null MX か他の MX のどちらかを削除してください。")
define("MX_CNAME", "warning", "RFC 2181 §10.3, RFC 5321 §5.1",
       "MX host {host} is a CNAME; an MX must point at a name with A/AAAA records.",
       "MX ホスト {host} は CNAME です。MX は A/AAAA を持つ名前を指す必要があります。")
define("MX_IP_LITERAL", "error", "RFC 5321 §5.1",
       "MX host {host} is an IP address; an MX must name a host.", "MX ホスト {host} が IP アドレスです。ホスト名を指定してください。")
define("MX_NO_ADDRESS", "error", "RFC 5321 §5.1",
       "MX host {host} has no A/AAAA record: mail cannot be delivered there.",
       "MX ホスト {host} に A/AAAA レコードがなく、配送できません。")
define("MX_DNS_ERROR", "error", "RFC 5321 §5.1",
       "DNS lookup for {name} {type} failed ({error}).", "{name} の {type} 参照に失敗しました ({error})。")
define("MX_NO_MAIL", "warning", "RFC 5321 §5.1, RFC 7505 §3",
       "{domain} has no MX and no A/AAAA record: it cannot receive mail (not even bounces or reports).",
       "{domain} には MX も A/AAAA もなく、メール (エラー通知やレポートを含む) を受信できません。",
       "If the domain should receive no mail, say so with a null MX ('MX 0 .').",
       "メールを受信しないドメインであれば Null MX ('MX 0 .') を公開してください。")
define("MX_NULL_PREFERENCE", "warning", "RFC 7505 §3",
       "The null MX has preference {preference}; RFC 7505 defines it with preference 0.",
       "Null MX の優先度が {preference} です。RFC 7505 では優先度 0 と定められています。")
define("MX_HOSTS_LIMIT", "info", "RFC 5321 §5.1",
       "Only the first {checked} of {count} MX hosts were resolved.", "{count} 個の MX ホストのうち先頭 {checked} 個のみを確認しました。")

# ---------------------------------------------------------------------------------------------------------------
# Posture (combined verdicts)
define("POSTURE_SPOOFABLE", "error", "RFC 7489 §6.3",
       "The domain is not protected against spoofing: {reason}.", "このドメインはなりすましを防げません: {reason}。")
define("POSTURE_PROTECTED", "info", "RFC 7489 §6.3",
       "The domain is protected against spoofing (DMARC p={policy}).",
       "このドメインはなりすましから保護されています (DMARC p={policy})。")
# Issue-3 checks (DKIM, BIMI, MTA-STS, TLS-RPT, DNSSEC, parked posture) add their codes below this line.
