"""The reasons check_host() gives for its result (:mod:`.evaluate`), said in Japanese.

The evaluator writes each reason in English from a small set of shapes ("'ip4:…' matched in example.jp",
"no SPF record at example.jp", …); :func:`reason_ja` says the same in Japanese, keeping the record terms, names
and DNS error words as they are. A reason of an unknown shape is returned unchanged rather than guessed at.
"""

from __future__ import annotations

import re

_RULES: list[tuple[re.Pattern[str], str]] = [(re.compile(p + r"$", re.DOTALL), ja) for p, ja in (
    (r"'(?P<t>.*)' matched in (?P<d>\S+)", "{d} の '{t}' に一致"),                       # RFC 7208 §4.6.2
    (r"no SPF record at (?P<d>\S+)", "{d} に SPF レコードがありません"),                   # §4.5
    (r"no mechanism matched in (?P<d>\S+)", "{d} のどのメカニズムにも一致しません"),        # §4.7
    (r"'(?P<d>.*)' is not a valid domain \((?P<w>.*)\)", "'{d}' は正しいドメイン名ではありません ({w})"),  # §4.3
    (r"DNS error looking up TXT of (?P<d>\S+): (?P<e>.*)", "{d} の TXT の DNS 参照でエラー: {e}"),    # §4.4
    (r"(?P<n>\d+) SPF records at (?P<d>\S+)", "{d} に SPF レコードが {n} 個あります"),     # §4.5
    (r"syntax error in the record of (?P<d>\S+) at (?P<o>\d+) \('(?P<t>.*)'\): (?P<r>.*)",
     "{d} のレコードの位置 {o} ('{t}') に構文エラー: {r}"),                                 # §4.6
    (r"more than (?P<n>\d+) DNS lookups \('(?P<t>.*)' in (?P<d>\S+)\)",
     "DNS 参照が上限の {n} 回を超えました ({d} の '{t}')"),                                 # §4.6.4
    (r"more than (?P<n>\d+) void lookups \((?P<d>.*)\)", "空の応答が上限の {n} 回を超えました ({d})"),  # §4.6.4
    (r"redirect loop: (?P<p>.*)", "redirect のループ: {p}"),
    (r"include loop: (?P<p>.*)", "include のループ: {p}"),
    (r"include:(?P<d>\S+) has no SPF record", "include:{d} に SPF レコードがありません"),    # §5.2
    (r"DNS error on exists:(?P<d>\S+): (?P<e>.*)", "exists:{d} の DNS 参照でエラー: {e}"),
    (r"DNS error on (?P<d>\S+) MX: (?P<e>.*)", "{d} の MX の DNS 参照でエラー: {e}"),
    (r"DNS error on (?P<d>\S+) (?P<r>[A-Z]+): (?P<e>.*)", "{d} の {r} の DNS 参照でエラー: {e}"),
    (r"(?P<d>\S+) has (?P<n>\d+) MX records \(limit (?P<m>\d+)\)", "{d} の MX レコードが {n} 個あります (上限 {m})"),
)]
_REDIRECT = re.compile(r"redirect=(?P<d>[^:\s]+): (?P<r>.*)$", re.DOTALL)


def reason_ja(reason: str | None) -> str:
    """``reason`` in Japanese (unchanged when its shape is not known)."""
    if not reason:
        return reason or ""
    m = _REDIRECT.match(reason)
    if m:   # the target's own reason, nested
        return f"redirect={m.group('d')}: {reason_ja(m.group('r'))}"
    for rx, ja in _RULES:
        m = rx.match(reason)
        if m:
            return ja.format(**m.groupdict())
    return reason
