"""Stable finding codes: one catalogue of every problem or fact a check can report.

A code never changes meaning once published; new situations get new codes. Each entry names its severity,
the RFC section behind the rule, and a message and a fix in Japanese and English. Messages are
``str.format`` templates filled from the finding's ``params``.

Severities: ``error`` (the record is broken or the protection fails), ``warning`` (works, but weak or risky),
``info`` (a fact worth knowing).
"""

from __future__ import annotations

import re
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
        if key.endswith("_ja") and key[:-3] in self:   # a finding made before its Japanese param existed
            return self[key[:-3]]
        return "{" + key + "}"


# Values that findings carry in English (DNS failure kinds of mailposture.dns.engine, reasons of
# mailposture.scan.inputs.normalize_domain) and their Japanese, for the Japanese messages. The params stay as
# they are in the result (data); only the text shown is translated.
DNS_ERRORS_JA = {"timeout": "タイムアウト", "servfail": "SERVFAIL (サーバの障害)", "refused": "REFUSED (拒否)",
                 "malformed": "壊れた応答", "unreachable": "到達不能", "formerr": "FORMERR (形式エラー)",
                 "notimp": "NOTIMP (未実装)", "network": "ネットワークエラー", "cname-loop": "CNAME のループ", "cname-chain-too-long": "長すぎる CNAME の連鎖",
                 "engine closed": "DNS エンジン停止", "error": "エラー",
                 # DMARC_INHERITED {method}
                 "RFC 7489 organizational domain": "RFC 7489 の組織ドメイン", "RFC 9989 tree walk": "RFC 9989 のツリー探索"}
_REASONS_JA: list[tuple[re.Pattern[str], str]] = [(re.compile(p), ja) for p, ja in (
    (r"^empty name \(the root\)$", "空の名前 (ルート)"),
    (r"^empty name$", "空の名前"),
    (r"^contains whitespace$", "空白を含む"),
    (r"^an IP address, not a domain name$", "IP アドレスであり、ドメイン名ではない"),
    (r"^empty label$", "空のラベル (ドットの連続など)"),
    (r"^not a valid internationalised name \((.*)\)$", r"国際化ドメイン名として正しくない (\1)"),
    (r"^bad character\(s\) (.*) \(only letters, digits and hyphens are allowed\)$",
     r"使えない文字 \1 (英字・数字・ハイフンのみ使えます)"),
    (r"^label longer than 63 octets \((.*)\)$", r"63 オクテットを超えるラベル (\1)"),
    (r"^label '(.*)' starts or ends with a hyphen$", r"ラベル '\1' がハイフンで始まるか終わっている"),
    (r"^name longer than 253 characters \((.*)\)$", r"253 文字を超える名前 (\1)"),
    # SPF §4.3 domain problems (checks/spf/evaluate.domain_problem)
    (r"^label longer than 63 octets$", "63 オクテットを超えるラベル"),
    (r"^name longer than 253 characters$", "253 文字を超える名前"),
    (r"^empty domain$", "空のドメイン名"),
    (r"^domain literal$", "ドメインリテラル ([…] の形式)"),
    (r"^not a fully qualified \(multi-label\) domain$", "完全修飾の (複数ラベルの) ドメイン名ではない"),
    (r"^top-level label is all digits$", "最上位のラベルが数字だけ"),
    (r"^a domain name is expected, not a URL or an address$", "URL やメールアドレスではなくドメイン名を指定してください"),
    (r"^not a domain name$", "ドメイン名ではない"),
    (r"^(p|sp|np) missing$", r"\1 がない"),                       # DMARC_NOT_APPLIED / _FALLBACK_NONE {reason}
    (r"^(p|sp|np) invalid$", r"\1 の値が正しくない"),
    (r"^duplicate tag (.*)$", r"タグの重複 \1"),
    (r"^malformed tag-list$", "タグの並びが壊れている"),
    (r"^network: (.*)$", r"ネットワークエラー: \1"),
    (r"^bad-name: (.*)$", r"問い合わせできない名前: \1"),
    # SPF parser (checks/spf/parse.py, macro.py, checks/chars.py): the {reason} of SPF_SYNTAX and friends
    (r"^unknown mechanism '(.*)'$", r"未知のメカニズム '\1'"),
    (r"^empty term$", "空の項目"),
    (r"^a modifier cannot have a qualifier$", "修飾子 (redirect= など) には限定子 (+ - ~ ?) を付けられない"),
    (r"^modifier without a name$", "名前のない修飾子"),
    (r"^'all' takes no argument$", "'all' は引数を取らない"),
    (r"^'(\w+)' needs ':domain'$", r"'\1' には ':ドメイン' が必要"),
    (r"^'(\w+)' needs ':address'$", r"'\1' には ':アドレス' が必要"),
    (r"^'(\w+)' needs a domain name$", r"'\1' にはドメイン名が必要"),
    (r"^invalid text after '(\w+)' \(expected ':domain' or '/prefix'\)$",
     r"'\1' の後ろの文字列が正しくない (':ドメイン' または '/プレフィックス長' が必要)"),
    (r"^'ptr' takes only ':domain' \(no prefix length\)$", "'ptr' に指定できるのは ':ドメイン' のみ (プレフィックス長は不可)"),
    (r"^the domain must end with a dot and a top-level label$", "ドメインはドットと最上位ラベルで終わる必要がある"),
    (r"^'(.*)' is not a valid top-level label \(letters, digits, inner hyphens; not all digits\)$",
     r"'\1' は正しい最上位ラベルではない (英字・数字・内側のハイフン、数字のみは不可)"),
    (r"^invalid prefix length '/(\d*)' \(0-(\d+), no leading zeros\)$",
     r"プレフィックス長 '/\1' が正しくない (0〜\2、先頭のゼロは不可)"),
    (r"^invalid prefix length '/(\d*)' \(0-(\d+)\)$", r"プレフィックス長 '/\1' が正しくない (0〜\2)"),
    (r"^'(.*)' is not a valid (IPv4|IPv6) address$", r"'\1' は正しい \2 アドレスではない"),
    (r"^the modifier '(\w+)' appears more than once$", r"修飾子 '\1' が複数ある"),
    (r"^the record must start with 'v=spf1' followed by a space$", "レコードは 'v=spf1' と空白で始まる必要がある"),
    (r"^non-ASCII character in the record$", "レコードに ASCII 以外の文字がある"),
    (r"^(control character|whitespace|non-ASCII character) (U\+[0-9A-F]+) at position (\d+)$",
     lambda m: f"{ {'control character': '制御文字', 'whitespace': '空白文字', 'non-ASCII character': 'ASCII 以外の文字'}[m.group(1)]} "
               f"{m.group(2)} (位置 {m.group(3)})"),
    (r"^(control character|whitespace|non-ASCII character) (U\+[0-9A-F]+) is not allowed \(visible ASCII only\)$",
     lambda m: f"{ {'control character': '制御文字', 'whitespace': '空白文字', 'non-ASCII character': 'ASCII 以外の文字'}[m.group(1)]} "
               f"{m.group(2)} は使えない (表示可能な ASCII のみ)"),
    (r"^'%' must be followed by '\{', '%', '_' or '-'$", "'%' の後ろには '{'、'%'、'_'、'-' のいずれかが必要"),
    (r"^macro '%\{' is not closed with '\}'$", "マクロ '%{' が '}' で閉じられていない"),
    (r"^empty macro '%\{\}'$", "空のマクロ '%{}'"),
    (r"^unknown macro letter '(.)'$", r"未知のマクロ文字 '\1'"),
    (r"^macro letter '(.)' is only allowed in an explanation \(exp\) text$", r"マクロ文字 '\1' は説明文 (exp) でのみ使える"),
    (r"^the digit transformer must be nonzero$", "桁数の指定は 0 以外でなければならない"),
    (r"^invalid character (.*) in macro \(delimiters are (.*)\)$", r"マクロに使えない文字 \1 (区切り文字は \2)"),
)]


def value_ja(value: Any) -> Any:
    """A finding parameter as a Japanese text shows it: known English values translated, others unchanged."""
    if not isinstance(value, str):
        return value
    if value in DNS_ERRORS_JA:
        return DNS_ERRORS_JA[value]
    for pattern, ja in _REASONS_JA:
        if pattern.match(value):
            return pattern.sub(ja, value)
    if ", " in value:                      # several reasons joined ("p missing, sp invalid")
        parts = value.split(", ")
        shown = [value_ja(p) for p in parts]
        if shown != parts:
            return "、".join(shown)
    return value


def _params(params: dict[str, Any], ja: bool) -> _Safe:
    if not ja or not params:
        return _Safe(params)
    return _Safe({k: value_ja(v) if k in ("error", "reason", "method") else v for k, v in params.items()})


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
        return (d.ja if lang == "ja" else d.en).format_map(_params(self.params, lang == "ja"))

    def fix(self, lang: str = "en") -> str:
        d = self.definition
        return (d.fix_ja if lang == "ja" else d.fix_en).format_map(_params(self.params, lang == "ja"))

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        # the same as message() and fix(), with one catalogue lookup: every result renders its findings
        d = CATALOG[self.code]
        ja = lang == "ja"
        params = _params(self.params, ja)
        out: dict[str, Any] = {"code": self.code, "severity": self.severity_override or d.severity,
                               "message": (d.ja if ja else d.en).format_map(params), "rfc": d.rfc}
        if self.params:
            out["params"] = dict(self.params)  # a copy: findings of cached records are shared between results
        fix = d.fix_ja if ja else d.fix_en
        if fix:
            fix = fix.format_map(params)
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
define("RESOLVER_SUSPECT", "error", "RFC 1035 §4.1.1, RFC 8020 §2",
       "DNS lookups failed for {failed}/{domains} domains ({failed_pct}%) and {nxdomain}/{domains} ({nxdomain_pct}%) "
       "came back NXDOMAIN — far beyond the few percent of a normal list: the resolver ({resolvers}) is the likely "
       "cause, not the domains{kinds}.",
       "DNS の問い合わせ失敗 {failed}/{domains} ドメイン ({failed_pct}%)、NXDOMAIN {nxdomain}/{domains} ドメイン "
       "({nxdomain_pct}%)。通常の数 % をはるかに超えており、原因は各ドメインではなくリゾルバ ({resolvers}) である"
       "可能性が高い{kinds_ja}。",
       "Check that the resolver is reachable and resolves outside names (or give another with -n), then run again; "
       "a survey round is not counted until then.",
       "リゾルバに到達できるか、外部の名前を解決できるかを確認し (-n で別のリゾルバを指定)、再実行してください。"
       "それまで調査回は集計に使いません。")

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
       "The record itself authorizes {ipv4} IPv4 addresses and {ipv6_64} IPv6 /64 networks (its own ip4/ip6/a/mx/"
       "exists/all terms and its own includes; limits {limit} and {limit6}): many unrelated hosts may send as this "
       "domain.",
       "このレコード自体が {ipv4} 個の IPv4 アドレスと {ipv6_64} 個の IPv6 /64 を許可しています (自身の ip4/ip6/a/mx/"
       "exists/all と自組織の include。上限 {limit} と {limit6})。無関係なホストがなりすませます。",
       "List only your own servers' addresses; keep the providers' includes as they document them.",
       "自組織の送信サーバのアドレスだけを列挙し、委託先は事業者が案内する include のままにしてください。")
define("SPF_SHARED_PROVIDER_SPACE", "info", "RFC 7208 §5.2",
       "{ipv4} IPv4 addresses are authorized through the includes of large shared providers ({providers}); that "
       "space is the provider's, the same for all its customers. The record itself authorizes {own_ipv4}.",
       "{ipv4} 個の IPv4 アドレスは大規模な共用事業者 ({providers}) の include によって許可されています。これは事業者が"
       "全利用者に共通で許可する範囲です。レコード自体が許可するのは {own_ipv4} 個です。",
       "Nothing to change if you send through these providers; remove an include you no longer use.",
       "これらの事業者から送信しているなら変更は不要です。使っていない include は削除してください。")
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
       "The record contains a non-ASCII character ({char} at position {position}).",
       "レコードに ASCII 以外の文字が含まれています (位置 {position} の {char})。")
define("SPF_MALFORMED_VERSION", "error", "RFC 7208 §4.5, §12",
       "'{found}' looks like SPF but does not start with exactly 'v=spf1' followed by a space (whitespace before "
       "it, or a TAB after it): by the grammar it is discarded; some receivers trim it and apply it anyway.",
       "'{found}' は SPF のようですが、'v=spf1' + 空白 (SP) で正確に始まっていません (前に空白、または後ろがタブ)。"
       "文法上は破棄されますが、空白を無視して適用する受信側もあります。",
       "Publish the record starting with exactly 'v=spf1 ' and separate terms with single spaces.",
       "レコードを 'v=spf1 ' で始め、各項目を半角スペースで区切ってください。")
define("SPF_QUOTED", "error", "RFC 7208 §4.5, §3.3",
       "The TXT record '{found}' is wrapped in quotation marks: the quotes were stored as part of its text, so it "
       "does not start with 'v=spf1' and receivers see no SPF record.",
       "TXT レコード '{found}' が引用符で囲まれています。引用符がレコードの文字として登録されているため "
       "'v=spf1' で始まらず、受信側には SPF レコードがないように見えます。",
       "Enter the record in the DNS control panel without the surrounding quotes (the panel adds its own), then "
       "check that 'dig TXT {domain}' shows a single pair of quotes.",
       "DNS の管理画面では前後の引用符を付けずに入力してください (画面側が付けます)。{domain} の TXT を問い合わせて、"
       "引用符が 1 組だけになっていることを確認してください。")
define("SPF_ANALYSIS_TRUNCATED", "info", "RFC 7208 §4.6.4",
       "The include/redirect tree was not fully expanded ({reason}); counts are lower bounds.",
       "include/redirect の展開を途中で打ち切りました ({reason})。集計値は下限値です。")

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
       "DMARC syntax error in '{term}': {reason}.", "DMARC の構文エラー ('{term}'): {reason_ja}。",
       "Write the record as tag=value pairs separated by ';', e.g. 'v=DMARC1; p=none; rua=mailto:dmarc@example.jp'.",
       "レコードは 'タグ=値' を ';' で区切って書いてください (例: 'v=DMARC1; p=none; rua=mailto:dmarc@example.jp')。")
define("DMARC_VERSION", "error", "RFC 7489 §6.3",
       "The record must start with 'v=DMARC1' (found '{found}').",
       "レコードは 'v=DMARC1' で始まる必要があります ('{found}')。",
       "Start the record with exactly 'v=DMARC1;' (upper-case DMARC1, nothing before it, ';' before the next tag); "
       "until then receivers treat the domain as having no DMARC record.",
       "レコードの先頭を 'v=DMARC1;' ちょうどにしてください (DMARC1 は大文字、前に何も置かず、次のタグの前に ';')。"
       "直すまで受信側はこのドメインに DMARC レコードがないものとして扱います。")
define("DMARC_MISSING_P", "warning", "RFC 9989 §4.7, RFC 7489 §6.3",
       "No tag 'p': RFC 9989 receivers apply p=none; RFC 7489 requires 'p' (its receivers apply p=none only "
       "with a valid rua, rua here: {rua}, otherwise no DMARC at all).",
       "タグ 'p' がありません。RFC 9989 の受信側は p=none として扱います。RFC 7489 では 'p' は必須で、"
       "有効な rua がある場合のみ p=none、ない場合は DMARC を適用しません (この rua: {rua})。",
       "Add 'p=none', 'p=quarantine' or 'p=reject'.", "'p=none'、'p=quarantine'、'p=reject' のいずれかを追加してください。")
define("DMARC_RFC7489_INVALID", "warning", "RFC 7489 §6.3, §6.4",
       "'{tag}={value}' is outside RFC 7489 ({section}: {expected}); RFC 9989 receivers accept or ignore it, "
       "receivers still following RFC 7489 may not.",
       "'{tag}={value}' は RFC 7489 の規定外です ({section}: {expected})。RFC 9989 の受信側は受け入れるか無視しますが、"
       "RFC 7489 に従う受信側は受け入れない場合があります。")
define("DMARC_LEADING_SPACE", "error", "RFC 9989 §4.8, RFC 7489 §6.6.3",
       "The record '{found}' has whitespace before 'v=': by the grammar it is not a DMARC record and is "
       "discarded (no policy); some receivers trim it and apply it anyway.",
       "レコード '{found}' は 'v=' の前に空白があります。文法上 DMARC レコードではなく破棄されます (ポリシーなし)。"
       "空白を無視して適用する受信側もあります。",
       "Remove the whitespace so that the record starts with 'v=DMARC1'.",
       "レコードが 'v=DMARC1' で始まるよう空白を削除してください。")
define("DMARC_INVALID_VALUE", "error", "RFC 7489 §6.3",
       "Tag '{tag}' has an invalid value '{value}'{expected}.", "タグ '{tag}' の値 '{value}' は正しくありません{expected}。",
       "Replace the value of '{tag}' with one of the allowed values shown.",
       "'{tag}' の値を、示した値のいずれかに書き換えてください。")
define("DMARC_DUPLICATE_TAG", "error", "RFC 7489 §6.4",
       "Tag '{tag}' appears more than once: the whole record is invalid (RFC 6376 §3.2).",
       "タグ '{tag}' が複数回現れます。レコード全体が無効になります (RFC 6376 §3.2)。",
       "Keep one '{tag}=' and delete the others (if two TXT records were merged, publish only one).",
       "'{tag}=' を 1 つだけ残して他を削除してください (2 つのレコードを 1 つにまとめた場合は 1 つだけ公開)。")
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
       "'{uri}' in {tag} is not a valid report URI (a mailto: address is expected): {reason}.",
       "{tag} の '{uri}' は正しいレポート送付先 URI ではありません (mailto: アドレスが必要です): {reason_ja}。",
       "Write each address as 'mailto:name@example.jp', several separated by ',' (no spaces inside an address).",
       "送付先は 'mailto:name@example.jp' の形で書き、複数なら ',' で区切ってください。")
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
define("DMARC_QUOTED", "error", "RFC 7489 §6.6.3",
       "The TXT record '{found}' at {name} is wrapped in quotation marks: the quotes were stored as part of its "
       "text, so it does not start with 'v=DMARC1' and receivers ignore it.",
       "{name} の TXT レコード '{found}' が引用符で囲まれています。引用符がレコードの文字として登録されているため "
       "'v=DMARC1' で始まらず、受信側に無視されます。",
       "Enter the record in the DNS control panel without the surrounding quotes (the panel adds its own), then "
       "check that 'dig TXT {name}' shows a single pair of quotes.",
       "DNS の管理画面では前後の引用符を付けずに入力してください (画面側が付けます)。{name} の TXT を問い合わせて、"
       "引用符が 1 組だけになっていることを確認してください。")
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
       "有効なポリシーがありません ({reason_ja})。'rua' に有効な URI があるため、受信側は p=none として扱います。",
       "Fix the problems listed above; the intended policy applies only once the record is valid.",
       "上の問題を直してください。レコードが正しくなるまで意図したポリシーは適用されません。")
define("DMARC_NOT_APPLIED", "error", "RFC 7489 §6.6.3, RFC 9989 §4.10.1",
       "No usable policy ({reason}) and no valid 'rua': receivers apply no DMARC processing.",
       "有効なポリシーがなく ({reason_ja})、有効な 'rua' もないため、受信側は DMARC を適用しません。",
       "Fix the problems listed above: until then the domain is as unprotected as one without DMARC.",
       "上の問題を直してください。直すまで、このドメインは DMARC がないのと同じく無防備です。")
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
# DKIM (RFC 6376, RFC 8301, RFC 8463, RFC 8020)
define("DKIM_FOUND", "info", "RFC 6376 §3.6.2",
       "DKIM keys found for selector(s): {selectors}.", "DKIM 公開鍵が見つかりました (セレクタ: {selectors})。")
define("DKIM_NONE", "warning", "RFC 6376 §3.6.2, RFC 8020 §2",
       "No DKIM key exists: _domainkey.{domain} does not exist (NXDOMAIN), so no selector can exist below it.",
       "DKIM 公開鍵がありません。_domainkey.{domain} が存在しない (NXDOMAIN) ため、その下のセレクタも存在しません。",
       "Sign outgoing mail with DKIM and publish the key at <selector>._domainkey.{domain} (not needed if the "
       "domain sends no mail).",
       "送信メールに DKIM 署名を付け、<セレクタ>._domainkey.{domain} に公開鍵を公開してください"
       "(メールを送らないドメインは不要)。")
define("DKIM_NOT_FOUND", "info", "RFC 6376 §3.6.2",
       "None of the {count} common selectors probed has a DKIM key; selectors cannot be listed, so the domain may "
       "still use another one.",
       "よく使われる {count} 個のセレクタに DKIM 公開鍵はありませんでした。セレクタは列挙できないため、"
       "別のセレクタを使っている可能性があります。")
define("DKIM_WILDCARD", "warning", "RFC 4592 §2, RFC 6376 §3.6.2",
       "A wildcard answers every name under _domainkey.{domain} (a random selector got a record); answers equal "
       "to it are not counted as keys.",
       "_domainkey.{domain} 配下にワイルドカードがあり、任意のセレクタに応答します。ワイルドカードと同じ応答は"
       "鍵として数えません。")
define("DKIM_DNS_ERROR", "error", "RFC 6376 §6.1.2",
       "DNS lookup of {name} failed ({error}): the DKIM state is unknown, not absent.",
       "{name} の DNS 参照に失敗しました ({error})。DKIM の状態は「なし」ではなく「不明」です。")
define("DKIM_SYNTAX", "error", "RFC 6376 §3.2",
       "Selector {selector}: the key record is not a valid tag-list ({reason}).",
       "セレクタ {selector}: 鍵レコードがタグリストとして正しくありません ({reason})。")
define("DKIM_VERSION", "error", "RFC 6376 §3.6.1",
       "Selector {selector}: v= must be 'DKIM1' and the first tag (found '{found}'); verifiers discard the record.",
       "セレクタ {selector}: v= は先頭にあり 'DKIM1' である必要があります ('{found}')。検証側はこのレコードを破棄します。")
define("DKIM_NO_KEY", "error", "RFC 6376 §3.6.1",
       "Selector {selector}: the required tag p= (public key) is missing.",
       "セレクタ {selector}: 必須タグ p= (公開鍵) がありません。")
define("DKIM_REVOKED", "info", "RFC 6376 §3.6.1",
       "Selector {selector}: the key is revoked (empty p=).", "セレクタ {selector}: 鍵は失効しています (空の p=)。")
define("DKIM_KEY_INVALID", "error", "RFC 6376 §3.6.1, RFC 8463 §4.2",
       "Selector {selector}: the public key cannot be read ({reason}); signatures will fail.",
       "セレクタ {selector}: 公開鍵を読み取れません ({reason})。署名検証は失敗します。")
define("DKIM_KEY_TYPE_UNKNOWN", "error", "RFC 6376 §3.6.1",
       "Selector {selector}: unknown key type k={k} (rsa or ed25519 expected).",
       "セレクタ {selector}: 未知の鍵種別 k={k} です (rsa または ed25519)。")
define("DKIM_KEY_TOO_SHORT", "error", "RFC 8301 §3.2",
       "Selector {selector}: the RSA key has {bits} bits; keys under 1024 bits MUST NOT be used and are rejected.",
       "セレクタ {selector}: RSA 鍵が {bits} ビットです。1024 ビット未満の鍵は使用禁止で、検証されません。",
       "Publish a 2048-bit key and sign with it.", "2048 ビットの鍵を生成して公開し、署名に使ってください。")
define("DKIM_KEY_WEAK", "warning", "RFC 8301 §3.2",
       "Selector {selector}: the RSA key has {bits} bits; at least 2048 bits SHOULD be used.",
       "セレクタ {selector}: RSA 鍵が {bits} ビットです。2048 ビット以上を使用すべきです (SHOULD)。",
       "Rotate to a 2048-bit key.", "2048 ビットの鍵に更新してください。")
define("DKIM_KEY_TOO_LONG", "warning", "RFC 8301 §3.2",
       "Selector {selector}: the RSA key has {bits} bits; verifiers need only support up to 4096.",
       "セレクタ {selector}: RSA 鍵が {bits} ビットです。検証側が対応を求められるのは 4096 ビットまでです。")
define("DKIM_TESTING", "warning", "RFC 6376 §3.6.1",
       "Selector {selector}: t=y marks the key as testing; verifiers may treat its signatures as unsigned.",
       "セレクタ {selector}: t=y (テスト中) のため、検証側は署名なしと同等に扱う場合があります。",
       "Remove t=y once signing works.", "署名が正しく動作したら t=y を削除してください。")
define("DKIM_SHA1_ONLY", "warning", "RFC 8301 §3.1",
       "Selector {selector}: h={h} allows only SHA-1, which signers MUST NOT use.",
       "セレクタ {selector}: h={h} は SHA-1 のみを許可しています。SHA-1 での署名は禁止されています (MUST NOT)。",
       "Remove h= or set h=sha256.", "h= を削除するか h=sha256 にしてください。")
define("DKIM_SERVICE_NOT_EMAIL", "warning", "RFC 6376 §3.6.1",
       "Selector {selector}: s={s} does not include 'email' or '*', so the key is not valid for mail.",
       "セレクタ {selector}: s={s} に 'email' も '*' も含まれないため、この鍵はメールに使えません。")
define("DKIM_OBSOLETE_TAG", "info", "RFC 6376 Appendix C.2",
       "Selector {selector}: tag {tag}= was removed from DKIM and is ignored.",
       "セレクタ {selector}: タグ {tag}= は DKIM から削除され、無視されます。")
define("DKIM_MULTIPLE_RECORDS", "warning", "RFC 6376 §3.6.2.2",
       "Selector {selector}: {count} TXT records; verifiers may pick any one of them.",
       "セレクタ {selector}: TXT レコードが {count} 個あります。検証側はどれを使うか決まっていません。")
define("DKIM_LEGACY_RECORD", "info", "RFC 6376 Appendix C.2",
       "_domainkey.{domain} holds a TXT record (an old DomainKeys policy); DKIM ignores it.",
       "_domainkey.{domain} に TXT レコード (旧 DomainKeys のポリシー) があります。DKIM では無視されます。")

# BIMI (draft-brand-indicators-for-message-identification, draft-svg-tiny-ps-abrotman)
define("BIMI_NONE", "info", "draft-brand-indicators-for-message-identification §4",
       "No BIMI record at {name}.", "{name} に BIMI レコードがありません。")
define("BIMI_DNS_ERROR", "error", "draft-brand-indicators-for-message-identification §7.3",
       "DNS lookup of {name} failed ({error}): the BIMI state is unknown.",
       "{name} の DNS 参照に失敗しました ({error})。BIMI の状態は不明です。")
define("BIMI_INHERITED", "info", "draft-brand-indicators-for-message-identification §7.3",
       "No record at the domain; the BIMI record of the organizational domain {name} applies.",
       "ドメインにはレコードがなく、組織ドメインの BIMI レコード ({name}) が適用されます。")
define("BIMI_MULTIPLE_RECORDS", "error", "draft-brand-indicators-for-message-identification §7.3",
       "{count} BIMI records at {name}: receivers then show no logo.",
       "{name} に BIMI レコードが {count} 個あり、ロゴは表示されません。", "Keep one 'v=BIMI1' record.",
       "'v=BIMI1' のレコードを 1 つだけにしてください。")
define("BIMI_SYNTAX", "error", "draft-brand-indicators-for-message-identification §4.2",
       "BIMI syntax error in '{term}': {reason}.", "BIMI の構文エラー ('{term}'): {reason}。")
define("BIMI_VERSION", "error", "draft-brand-indicators-for-message-identification §4.2",
       "The record must start with 'v=BIMI1' (found '{found}').", "レコードは 'v=BIMI1' で始まる必要があります ('{found}')。")
define("BIMI_DUPLICATE_TAG", "error", "draft-brand-indicators-for-message-identification §4.2",
       "Tag '{tag}' appears more than once.", "タグ '{tag}' が複数回現れます。")
define("BIMI_UNKNOWN_TAG", "info", "draft-brand-indicators-for-message-identification §4.2",
       "Unknown tag '{tag}' is ignored.", "未知のタグ '{tag}' は無視されます。")
define("BIMI_DECLINED", "info", "draft-brand-indicators-for-message-identification §4.2",
       "The record declines to publish a logo (empty l=).", "ロゴを公開しないことを宣言しています (空の l=)。")
define("BIMI_NO_LOCATION", "error", "draft-brand-indicators-for-message-identification §4.2",
       "The record has no l= (logo location) tag.", "l= (ロゴの場所) タグがありません。")
define("BIMI_BAD_URL", "error", "draft-brand-indicators-for-message-identification §4.2",
       "{tag}= '{url}' is not a valid HTTPS URL ({reason}).", "{tag}= '{url}' は正しい HTTPS URL ではありません ({reason})。",
       "Publish the file on an https:// URL.", "https:// の URL で公開してください。")
define("BIMI_NO_EVIDENCE", "info", "draft-brand-indicators-for-message-identification §4.2",
       "No a= (evidence document, VMC/CMC): many mailbox providers show the logo only with one.",
       "a= (VMC/CMC などの証明書) がありません。多くのメールサービスは証明書がないとロゴを表示しません。")
define("BIMI_DMARC_NOT_ENFORCING", "error", "draft-brand-indicators-for-message-identification §3.1",
       "BIMI needs an enforcing DMARC policy (quarantine or reject); the effective policy is {policy}.",
       "BIMI には強制的な DMARC ポリシー (quarantine か reject) が必要ですが、実効ポリシーは {policy} です。",
       "Move DMARC to p=quarantine or p=reject.", "DMARC を p=quarantine か p=reject にしてください。")
define("BIMI_DMARC_PCT", "error", "draft-brand-indicators-for-message-identification §3.1",
       "BIMI needs DMARC applied to all mail; pct={pct} is below 100.",
       "BIMI では DMARC をすべてのメールに適用する必要がありますが、pct={pct} です。", "Remove pct= (default 100).",
       "pct= を削除してください (既定値 100)。")
define("BIMI_DMARC_ORG_NONE", "error", "draft-brand-indicators-for-message-identification §3.1",
       "The organizational domain's DMARC policy is p=none, which disqualifies BIMI.",
       "組織ドメインの DMARC ポリシーが p=none のため、BIMI の条件を満たしません。")
define("BIMI_DMARC_UNKNOWN", "warning", "draft-brand-indicators-for-message-identification §3.1",
       "The DMARC state is unknown, so the BIMI precondition cannot be checked.",
       "DMARC の状態が不明なため、BIMI の前提条件を確認できません。")
define("BIMI_SVG_FETCH_FAILED", "error", "draft-brand-indicators-for-message-identification §5",
       "The logo {url} could not be retrieved ({error}).", "ロゴ {url} を取得できませんでした ({error})。")
define("BIMI_SVG_CONTENT_TYPE", "warning", "draft-brand-indicators-for-message-identification §5",
       "The logo is served as '{content_type}' instead of image/svg+xml.",
       "ロゴが image/svg+xml ではなく '{content_type}' として配信されています。")
define("BIMI_SVG_TOO_LARGE", "error", "draft-svg-tiny-ps-abrotman §2",
       "The logo is larger than {limit} bytes.", "ロゴが {limit} バイトを超えています。")
define("BIMI_SVG_NOT_XML", "error", "draft-svg-tiny-ps-abrotman §2",
       "The logo is not well-formed XML ({reason}).", "ロゴが整形式の XML ではありません ({reason})。")
define("BIMI_SVG_PROFILE", "error", "draft-svg-tiny-ps-abrotman §2",
       "The logo is not SVG Tiny PS: {reason}.", "ロゴが SVG Tiny PS ではありません: {reason}。",
       "Export the logo as SVG Tiny 1.2 Portable/Secure (version=\"1.2\" baseProfile=\"tiny-ps\").",
       "ロゴを SVG Tiny 1.2 PS 形式 (version=\"1.2\" baseProfile=\"tiny-ps\") で書き出してください。")
define("BIMI_SVG_NO_TITLE", "error", "draft-svg-tiny-ps-abrotman §2",
       "The logo has no <title> element.", "ロゴに <title> 要素がありません。")
define("BIMI_SVG_FORBIDDEN", "error", "draft-svg-tiny-ps-abrotman §2",
       "The logo contains forbidden content: {what}.", "ロゴに禁止された要素があります: {what}。")
define("BIMI_SVG_EXTERNAL_REF", "error", "draft-svg-tiny-ps-abrotman §2",
       "The logo references an external resource ({ref}).", "ロゴが外部リソースを参照しています ({ref})。")
define("BIMI_SVG_NOT_SQUARE", "warning", "draft-brand-indicators-for-message-identification §5",
       "The logo's viewBox is not square ({viewbox}); BIMI logos must have a 1:1 aspect ratio.",
       "ロゴの viewBox が正方形ではありません ({viewbox})。BIMI のロゴは縦横比 1:1 である必要があります。")
define("BIMI_SVG_VALID", "info", "draft-svg-tiny-ps-abrotman §2",
       "The logo ({size} bytes) passes the SVG Tiny PS checks.", "ロゴ ({size} バイト) は SVG Tiny PS の検査に合格しました。")

# MTA-STS (RFC 8461)
define("MTASTS_NONE", "info", "RFC 8461 §3.1",
       "No MTA-STS record at _mta-sts.{domain}: senders may deliver without TLS when attacked.",
       "_mta-sts.{domain} に MTA-STS レコードがありません。攻撃時に TLS なしで配送される可能性があります。")
define("MTASTS_DNS_ERROR", "error", "RFC 8461 §3.1",
       "DNS lookup of {name} failed ({error}): the MTA-STS state is unknown.",
       "{name} の DNS 参照に失敗しました ({error})。MTA-STS の状態は不明です。")
define("MTASTS_MULTIPLE_RECORDS", "error", "RFC 8461 §3.1",
       "{count} 'v=STSv1' records at {name}: senders then assume no MTA-STS policy.",
       "{name} に 'v=STSv1' レコードが {count} 個あり、送信側は MTA-STS ポリシーなしとみなします。",
       "Keep exactly one record.", "レコードを 1 つだけにしてください。")
define("MTASTS_SYNTAX", "error", "RFC 8461 §3.1",
       "MTA-STS record syntax error in '{term}': {reason}; senders assume no policy.",
       "MTA-STS レコードの構文エラー ('{term}'): {reason}。送信側はポリシーなしとみなします。")
define("MTASTS_POLICY_FETCH_FAILED", "error", "RFC 8461 §3.3",
       "The policy {url} could not be retrieved ({error}).", "ポリシー {url} を取得できませんでした ({error})。")
define("MTASTS_POLICY_REDIRECT", "error", "RFC 8461 §3.3",
       "The policy URL answers with a redirect ({status} to {location}); redirects MUST NOT be followed.",
       "ポリシーの URL がリダイレクト ({status} → {location}) を返します。リダイレクトは追跡されません (MUST NOT)。",
       "Serve the policy directly at https://mta-sts.{domain}/.well-known/mta-sts.txt.",
       "https://mta-sts.{domain}/.well-known/mta-sts.txt で直接ポリシーを返してください。")
define("MTASTS_POLICY_HTTP_STATUS", "error", "RFC 8461 §3.3",
       "The policy URL answers HTTP {status} (200 expected).", "ポリシーの URL が HTTP {status} を返します (200 が必要)。")
define("MTASTS_POLICY_CONTENT_TYPE", "error", "RFC 8461 §3.2",
       "The policy is served as '{content_type}'; it must be text/plain.",
       "ポリシーが '{content_type}' として配信されています。text/plain である必要があります。")
define("MTASTS_POLICY_TOO_LARGE", "error", "RFC 8461 §3.3",
       "The policy is larger than {limit} bytes; the rest was not read.",
       "ポリシーが {limit} バイトを超えています (残りは読み込みません)。")
define("MTASTS_POLICY_SYNTAX", "error", "RFC 8461 §3.2",
       "Policy line {line} ('{text}'): {reason}.", "ポリシー {line} 行目 ('{text}'): {reason}。")
define("MTASTS_POLICY_FIELD_MISSING", "error", "RFC 8461 §3.2",
       "The policy lacks the required field '{field}'.", "ポリシーに必須フィールド '{field}' がありません。")
define("MTASTS_POLICY_BAD_VALUE", "error", "RFC 8461 §3.2",
       "Policy field '{field}' has an invalid value '{value}'{expected}.",
       "ポリシーのフィールド '{field}' の値 '{value}' は正しくありません{expected}。")
define("MTASTS_POLICY_DUPLICATE_FIELD", "warning", "RFC 8461 §3.2",
       "Policy field '{field}' appears more than once; only the first is used.",
       "ポリシーのフィールド '{field}' が複数回現れます。最初のものだけが使われます。")
define("MTASTS_MAX_AGE_SHORT", "warning", "RFC 8461 §3.2",
       "max_age={max_age} is under one day; the policy protects little between fetches (weeks are advised).",
       "max_age={max_age} が 1 日未満です。ポリシーの効果が弱くなります (数週間以上を推奨)。",
       "Use max_age of at least 604800 (one week).", "max_age を 604800 (1 週間) 以上にしてください。")
define("MTASTS_MODE_TESTING", "info", "RFC 8461 §5",
       "mode: testing: failures are only reported, mail is still delivered without TLS.",
       "mode: testing: 失敗は報告のみで、TLS なしでも配送されます。")
define("MTASTS_MODE_NONE", "info", "RFC 8461 §5",
       "mode: none: the policy is withdrawn.", "mode: none: ポリシーは取り下げられています。")
define("MTASTS_NO_MX_PATTERN", "error", "RFC 8461 §3.2, §4.1",
       "The policy has no 'mx' pattern: in mode {mode} no MX host can be valid.",
       "ポリシーに 'mx' がありません。mode {mode} ではどの MX ホストも有効になりません。")
define("MTASTS_MX_NOT_COVERED", "error", "RFC 8461 §4.1",
       "MX host {host} matches no 'mx' pattern of the policy: senders refuse to deliver to it (mode {mode}).",
       "MX ホスト {host} はポリシーのどの 'mx' にも一致しません。送信側はこのホストへ配送しません (mode {mode})。",
       "Add 'mx: {host}' (or a matching wildcard) to the policy and change the id.",
       "ポリシーに 'mx: {host}' (または一致するワイルドカード) を追加し、id を更新してください。")

# SMTP TLS Reporting (RFC 8460)
define("TLSRPT_NONE", "info", "RFC 8460 §3",
       "No TLS-RPT record at _smtp._tls.{domain}: TLS delivery failures are not reported to the domain.",
       "_smtp._tls.{domain} に TLS-RPT レコードがなく、TLS 配送失敗の報告を受け取れません。")
define("TLSRPT_DNS_ERROR", "error", "RFC 8460 §3",
       "DNS lookup of {name} failed ({error}): the TLS-RPT state is unknown.",
       "{name} の DNS 参照に失敗しました ({error})。TLS-RPT の状態は不明です。")
define("TLSRPT_MULTIPLE_RECORDS", "error", "RFC 8460 §3",
       "{count} 'v=TLSRPTv1' records at {name}: senders then send no reports.",
       "{name} に 'v=TLSRPTv1' レコードが {count} 個あり、レポートは送られません。", "Keep exactly one record.",
       "レコードを 1 つだけにしてください。")
define("TLSRPT_SYNTAX", "error", "RFC 8460 §3",
       "TLS-RPT record syntax error in '{term}': {reason}.", "TLS-RPT レコードの構文エラー ('{term}'): {reason}。")
define("TLSRPT_NO_RUA", "error", "RFC 8460 §3",
       "The record has no rua= (report destination).", "rua= (レポート送付先) がありません。")
define("TLSRPT_BAD_URI", "error", "RFC 8460 §3",
       "'{uri}' is not a valid report destination (mailto: or https: expected): {reason}.",
       "'{uri}' は正しいレポート送付先ではありません (mailto: か https: が必要): {reason}。")

# DNSSEC (RFC 4035)
define("DNSSEC_SECURE", "info", "RFC 4035 §3.2.3",
       "The answers for {domain} are DNSSEC-validated (AD bit from {resolver}).",
       "{domain} の応答は DNSSEC で検証済みです ({resolver} の AD ビット)。")
define("DNSSEC_INSECURE", "info", "RFC 4035 §4.3",
       "{domain} is not DNSSEC-signed (validating resolver {resolver} did not set AD): answers can be forged.",
       "{domain} は DNSSEC 署名されていません (検証リゾルバ {resolver} が AD を立てません)。応答は偽造され得ます。")
define("DNSSEC_UNKNOWN", "info", "RFC 4035 §3.2.3",
       "The DNSSEC state of {domain} is unknown: {reason}.", "{domain} の DNSSEC の状態は不明です: {reason_ja}。")

# Non-sending (parked) domains (RFC 7208 §10.1.2, RFC 7489, RFC 7505)
define("PARKED_PROTECTED", "info", "RFC 7208 §10.1.2, RFC 7489 §6.3",
       "The domain sends no mail ({why}) and is protected: 'v=spf1 -all' and DMARC p=reject.",
       "このドメインはメールを送信せず ({why_ja})、'v=spf1 -all' と DMARC p=reject で保護されています。")
define("PARKED_SPOOFABLE", "error", "RFC 7208 §10.1.2, RFC 7489 §6.3",
       "The domain sends no mail ({why}) but can be spoofed: {missing}.",
       "このドメインはメールを送信しません ({why_ja}) が、なりすましが可能です: {missing_ja}。",
       "Publish TXT 'v=spf1 -all' at the domain and 'v=DMARC1; p=reject;' at _dmarc.",
       "ドメインに TXT 'v=spf1 -all'、_dmarc に 'v=DMARC1; p=reject;' を公開してください。")

# BIMI evidence document (VMC/CMC, draft-fetch-validation-vmc-wchuang); fetched only with fetch=True
define("BIMI_EVIDENCE_FETCH_FAILED", "error", "draft-fetch-validation-vmc-wchuang §5",
       "The evidence document {url} could not be retrieved ({error}).",
       "証明書 (a=) {url} を取得できませんでした ({error})。")
define("BIMI_EVIDENCE_INVALID", "error", "draft-fetch-validation-vmc-wchuang §5",
       "The evidence document is not a PEM certificate chain ({reason}).",
       "証明書 (a=) が PEM 形式の証明書チェーンではありません ({reason})。")
define("BIMI_EVIDENCE_EXPIRED", "error", "draft-fetch-validation-vmc-wchuang §5",
       "The mark certificate is not valid now (valid {not_before} to {not_after}).",
       "マーク証明書が現在有効ではありません (有効期間 {not_before} 〜 {not_after})。",
       "Renew the VMC/CMC and publish the new one at the a= URL.", "VMC/CMC を更新し、a= の URL に公開してください。")
define("BIMI_EVIDENCE_NOT_BIMI", "error", "draft-fetch-validation-vmc-wchuang §5",
       "The certificate lacks the BIMI extended key usage (1.3.6.1.5.5.7.3.31): it is not a mark certificate.",
       "証明書に BIMI 用の拡張鍵用途 (1.3.6.1.5.5.7.3.31) がなく、マーク証明書ではありません。")
define("BIMI_EVIDENCE_DOMAIN", "error", "draft-fetch-validation-vmc-wchuang §5",
       "The mark certificate does not name {domain} (it names: {names}).",
       "マーク証明書に {domain} が含まれていません (記載: {names})。")
define("BIMI_EVIDENCE_OK", "info", "draft-fetch-validation-vmc-wchuang §5",
       "Mark certificate for {names} from {issuer}, valid until {not_after} (chain to a VMC root not verified here).",
       "{issuer} 発行の {names} 向けマーク証明書、{not_after} まで有効 (VMC ルートまでの検証は行っていません)。")

# ---------------------------------------------------------------------------------------------------------------
# A received message (`message check`): RFC 5322 structure, DKIM signatures, DMARC alignment, ARC (RFC 8617)
define("MSG_EMPTY", "error", "RFC 5322 §2.1",
       "The input is empty: there is no message to verify.",
       "入力が空で、検証するメッセージがありません。",
       "Give a saved message (.eml, a maildir file, or --mbox N of an mbox file).",
       "保存したメッセージ (.eml、maildir のファイル、mbox なら --mbox N) を指定してください。")
define("MSG_NO_HEADERS", "error", "RFC 5322 §2.2",
       "No header fields could be read: this does not look like an RFC 5322 message.",
       "ヘッダフィールドを読み取れません。RFC 5322 形式のメッセージではないようです。",
       "Save the message with its full headers (\"show original\" / \"view source\" in most mail clients).",
       "ヘッダを含む全文 (メールソフトの「ソースを表示」等) で保存してください。")
define("MSG_HEADER_SYNTAX", "warning", "RFC 5322 §2.2, §3.6.8",
       "A header line is not 'name: value' ({line}); it was skipped.",
       "ヘッダ行が「名前: 値」の形式ではありません ({line})。読み飛ばしました。")
define("MSG_NO_BODY_SEPARATOR", "warning", "RFC 5322 §2.1",
       "No empty line separates the header from the body: the message is treated as having no body.",
       "ヘッダと本文を区切る空行がありません。本文のないメッセージとして扱います。")
define("MSG_BARE_CR", "warning", "RFC 5322 §2.3",
       "The message contains a bare CR (not followed by LF); signatures may not verify as the signer computed them.",
       "LF を伴わない CR が含まれています。署名者の計算どおりに検証できない可能性があります。")
define("MSG_NUL", "warning", "RFC 5322 §2.3",
       "The message contains NUL octets, which RFC 5322 does not allow.",
       "RFC 5322 で許されない NUL 文字が含まれています。")
define("MSG_8BIT_HEADER", "info", "RFC 6532 §3.2",
       "A header field contains 8-bit octets (UTF-8 headers, RFC 6532); they are read as UTF-8.",
       "ヘッダに 8 ビット文字が含まれています (RFC 6532 の UTF-8 ヘッダ)。UTF-8 として読み取ります。")
define("MSG_FROM_MISSING", "error", "RFC 5322 §3.6, RFC 7489 §6.6.1",
       "The message has no From field: DMARC cannot be applied (permerror).",
       "From フィールドがありません。DMARC を適用できません (permerror)。")
define("MSG_FROM_MULTIPLE", "error", "RFC 5322 §3.6, RFC 7489 §6.6.1",
       "The message has {count} From fields (exactly one is allowed); mail clients may show a different author "
       "from the one checked.",
       "From フィールドが {count} 個あります (1 個のみ許されます)。検査した差出人と別の差出人が表示される可能性があります。",
       "Treat the message as suspicious; receivers commonly reject it.",
       "不審なメッセージとして扱ってください。多くの受信側は拒否します。")
define("MSG_FROM_SEVERAL_DOMAINS", "error", "RFC 7489 §6.6.1",
       "The From field names several domains ({domains}): DMARC cannot pick one (permerror).",
       "From に複数のドメイン ({domains}) があり、DMARC の対象を 1 つに決められません (permerror)。")
define("MSG_FROM_NO_DOMAIN", "error", "RFC 5322 §3.4, RFC 7489 §6.6.1",
       "No domain could be read from the From field ('{value}'): DMARC cannot be applied (permerror).",
       "From フィールド ('{value}') からドメインを読み取れません。DMARC を適用できません (permerror)。")
define("MSG_SPF_NOT_EVALUATED", "info", "RFC 7208 §2.4",
       "SPF was not evaluated: the connecting IP is unknown ({reason}).",
       "接続元 IP が不明のため SPF を評価していません ({reason_ja})。",
       "Give --ip/--helo/--mail-from, or --trusted-hosts naming your receiving MTAs so their Received field is used.",
       "--ip/--helo/--mail-from を指定するか、受信 MTA 名を --trusted-hosts で指定して Received から読み取らせてください。")
define("MSG_SPF_RESULT", "info", "RFC 7208 §2.6",
       "SPF for {identity} ({domain}) from {ip}: {result}{why}.",
       "{identity} ({domain}) の SPF ({ip} から): {result}{why_ja}。")
define("MSG_DKIM_NONE", "warning", "RFC 6376 §6.1",
       "The message has no DKIM-Signature: only SPF can align for DMARC, and it does not survive forwarding.",
       "DKIM 署名がありません。DMARC の一致は SPF のみに頼ることになり、転送で失われます。",
       "Sign outgoing mail with a key of the From domain.", "From ドメインの鍵で送信メールに DKIM 署名してください。")
define("MSG_DKIM_RESULT", "info", "RFC 6376 §6.1, RFC 8601 §2.7.1",
       "DKIM signature d={d} s={s} ({a}): {result} — {reason}{detail}.",
       "DKIM 署名 d={d} s={s} ({a}): {result} — {reason_ja}{detail}。")
define("MSG_DKIM_FAIL", "error", "RFC 6376 §6.1",
       "DKIM signature d={d} s={s} ({a}) did not verify: {reason}{detail}.",
       "DKIM 署名 d={d} s={s} ({a}) を検証できません: {reason_ja}{detail}。")
define("MSG_DKIM_FUTURE", "warning", "RFC 6376 §3.5",
       "The signature d={d} s={s} has a timestamp t={t} in the future (the signer's clock is wrong).",
       "署名 d={d} s={s} のタイムスタンプ t={t} が未来の時刻です (署名者の時計のずれ)。")
define("MSG_DKIM_KEY_MULTIPLE", "warning", "RFC 6376 §3.6.2.2",
       "{count} TXT records at {name}: the first was used; results may differ between receivers.",
       "{name} に TXT レコードが {count} 個あり、最初のものを使いました。受信側によって結果が異なる可能性があります。",
       "Publish exactly one key record per selector.", "セレクタごとに鍵レコードを 1 つだけ公開してください。")
define("MSG_DKIM_TESTING", "info", "RFC 6376 §3.6.1",
       "The key of d={d} s={s} is in testing mode (t=y): a failure of its signature must not make the message "
       "count as worse than unsigned.",
       "d={d} s={s} の鍵はテストモード (t=y) です。この署名の失敗を理由に、署名のないメッセージより悪く扱ってはなりません。",
       "Remove t=y from the key record once signing works.", "署名が正しく動いたら鍵レコードから t=y を外してください。")
define("MSG_DKIM_TESTING_FAIL", "info", "RFC 6376 §3.6.1",
       "The signature d={d} s={s} did not verify ({result}), and its key is in testing mode (t=y): the message is "
       "treated as if it had no such signature (RFC 6376 §3.6.1); DMARC is the result of the other identities.",
       "署名 d={d} s={s} は検証できませんでした ({result}) が、鍵はテストモード (t=y) です。この署名はないものとして扱い "
       "(RFC 6376 §3.6.1)、DMARC の結果は他の認証結果で決まります。",
       "Fix the signing (the failure is real), then remove t=y from the key record.",
       "署名の不具合を直し (失敗は実際に起きています)、その後で鍵レコードから t=y を外してください。")
define("MSG_DMARC_PASS_TESTING_KEY", "warning", "RFC 6376 §3.6.1, RFC 7489 §3.1.1",
       "DMARC passes for {domain} only through DKIM signatures whose keys are in testing mode (t=y: {signatures}). "
       "They count as receivers count them (RFC 7489 and RFC 9989 make no exception for testing keys), but a "
       "receiver that reads RFC 6376 §3.6.1 as 'treat as unsigned' applies {policy}.",
       "{domain} の DMARC は、鍵がテストモード (t=y) の DKIM 署名 ({signatures}) だけで合格しています。受信側の一般的な扱いどおり"
       "合格に数えます (RFC 7489 と RFC 9989 にテスト用の鍵の例外はありません) が、RFC 6376 §3.6.1 を「署名なしとして扱う」と"
       "読む受信側は {policy} を適用します。",
       "Remove t=y from the key record, or make SPF align as well.",
       "鍵レコードから t=y を外すか、SPF も一致させてください。")
define("MSG_DKIM_BODY_LENGTH_UNSIGNED", "warning", "RFC 6376 §8.2",
       "The signature d={d} s={s} covers only the first {signed} octets of the body (l=); {unsigned} octets after "
       "them are unsigned and may have been appended by anyone.",
       "署名 d={d} s={s} は本文の先頭 {signed} オクテットのみを対象とし (l=)、その後の {unsigned} オクテットは署名されておらず、"
       "誰でも追記できます。",
       "Do not trust the part of the body after the signed length; signers should not use l=.",
       "署名範囲より後の本文は信頼しないでください。署名者は l= を使うべきではありません。")
define("MSG_DKIM_HEADER_NOT_COVERED", "warning", "RFC 6376 §8.15",
       "The message has more {headers} fields than the signature d={d} s={s} signs: an unsigned one may be shown.",
       "{headers} フィールドが署名 d={d} s={s} の対象数より多く、署名されていないものが表示される可能性があります。",
       "Signers should over-sign these fields (list them once more in h=).",
       "署名者はこれらのフィールドを h= に余分に列挙 (オーバーサイン) すべきです。")
define("MSG_DKIM_TOO_MANY", "warning", "RFC 6376 §6.1, §8.4",
       "The message carries {count} DKIM-Signature fields; only {limit} were verified (the From domain's first; "
       "the others are reported unverified, result 'policy', with no DNS lookup).",
       "DKIM 署名フィールドが {count} 個あります。検証したのは {limit} 個だけです (From ドメインの署名を優先。残りは "
       "DNS を引かずに未検証として示します)。",
       "Real mail carries a few signatures; this many is a sign of a crafted message meant to load verifiers.",
       "通常のメールの署名は数個です。これほど多いのは検証側に負荷をかけるための細工が疑われます。")
define("MSG_DMARC_RESULT", "info", "RFC 7489 §6.6.2",
       "DMARC for {domain}: {result} (SPF aligned: {spf}, DKIM aligned: {dkim}); policy {policy}, disposition "
       "{disposition}.",
       "{domain} の DMARC: {result} (SPF 一致: {spf_ja}、DKIM 一致: {dkim_ja})。ポリシー {policy}、処置 {disposition}。")
define("MSG_DMARC_FAIL", "error", "RFC 7489 §6.6.2",
       "DMARC fails for {domain}: no SPF or DKIM identity that passed is aligned with the From domain; a receiver "
       "would apply '{disposition}'.",
       "{domain} の DMARC は失敗です。From ドメインと一致する SPF/DKIM の認証成功がありません。受信側の処置は '{disposition}' です。",
       "Sign with a key of {domain} (d={domain}) or send from a MAIL FROM of {domain} listed in its SPF.",
       "{domain} の鍵 (d={domain}) で署名するか、SPF に登録された {domain} の MAIL FROM で送信してください。")
define("MSG_DMARC_PCT", "info", "RFC 7489 §6.6.4",
       "pct={pct}: a RFC 7489 receiver applies '{policy}' to {pct}% of failing messages and '{lower}' to the rest.",
       "pct={pct}: RFC 7489 準拠の受信側は失敗メッセージの {pct}% に '{policy}'、残りに '{lower}' を適用します。")
define("MSG_DMARC_DNS_ERROR", "error", "RFC 7489 §6.6.3",
       "The DMARC policy of {domain} could not be determined (DNS error): the result is temperror, not 'no policy'.",
       "DNS エラーのため {domain} の DMARC ポリシーを判定できません。結果は「ポリシーなし」ではなく temperror です。")
define("MSG_BIMI_ELIGIBLE", "info", "draft-brand-indicators-for-message-identification §7",
       "The message is eligible for a BIMI logo ({location}).",
       "このメッセージは BIMI ロゴ表示の条件を満たしています ({location})。")
define("MSG_BIMI_NOT_ELIGIBLE", "info", "draft-brand-indicators-for-message-identification §7",
       "No BIMI logo would be shown: {reason}.", "BIMI ロゴは表示されません: {reason_ja}。")
define("MSG_SECTION_ERROR", "error", "RFC 5322 §2",
       "The {section} part could not be evaluated: {error}.", "{section} の評価ができませんでした: {error}。")
define("ARC_CHAIN_FAIL", "error", "RFC 8617 §5.2",
       "The ARC chain fails at instance {instance}: {reason}.",
       "ARC チェーンはインスタンス {instance} で失敗しています: {reason}。",
       "The intermediary that added (or altered the message after) that set broke the chain; its claims cannot be used.",
       "そのセットを付けた (またはその後にメッセージを変更した) 中継者がチェーンを壊しています。その主張は利用できません。")
define("ARC_CHAIN_PASS", "info", "RFC 8617 §5.2",
       "The ARC chain of {count} set(s) holds (oldest-pass {oldest_pass}); the first hop claimed: {claims}.",
       "{count} 個のセットからなる ARC チェーンは有効です (oldest-pass {oldest_pass})。最初の中継者の主張: {claims}。")
define("ARC_DNS_ERROR", "error", "RFC 8617 §5.2, RFC 6376 §6.1.2",
       "The ARC keys {names} could not be looked up (DNS error): the chain fails for now, which may be temporary.",
       "ARC の鍵 {names} を DNS で取得できません。チェーンは現時点で失敗ですが、一時的な可能性があります。")
define("ARC_AAR_NONSTANDARD", "info", "RFC 8617 §4.1.1, RFC 8601 §2.2",
       "The ARC-Authentication-Results of instance {instance} is not standard RFC 8601 ({problem}); it was read "
       "leniently.",
       "インスタンス {instance} の ARC-Authentication-Results は RFC 8601 の標準形式ではありません ({problem})。"
       "寛容に読み取りました。")
define("ARC_SEALED", "info", "RFC 8617 §5.1",
       "A new ARC set i={instance} was added (d={domain}, s={selector}, cv={cv}).",
       "新しい ARC セット i={instance} を追加しました (d={domain}、s={selector}、cv={cv})。")
