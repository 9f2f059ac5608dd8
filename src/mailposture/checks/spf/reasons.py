"""The reasons check_host() gives for its result (:mod:`.evaluate`), said in Japanese.

The evaluator writes each reason in English from a small set of shapes ("'ip4:…' matched in example.jp",
"no SPF record at example.jp", …); :func:`reason_ja` says the same in Japanese, keeping the record terms and
names as they are (DNS error words and syntax reasons go through :func:`mailposture.findings.value_ja`). The
trace steps (``Step.action`` and ``Step.detail``) are said in Japanese by :func:`step_ja` the same way. A text of
an unknown shape is returned unchanged rather than guessed at.
"""

from __future__ import annotations

import re

from mailposture.findings import value_ja

_RULES: list[tuple[re.Pattern[str], str]] = [(re.compile(p + r"$", re.DOTALL), ja) for p, ja in (
    (r"'(?P<t>.*)' matched in (?P<d>\S+)", "{d} の '{t}' に一致"),                       # RFC 7208 §4.6.2
    (r"no SPF record at (?P<d>\S+)", "{d} に SPF レコードがありません"),                   # §4.5
    (r"no mechanism matched in (?P<d>\S+)", "{d} のどのメカニズムにも一致しません"),        # §4.7
    (r"'(?P<d>.*)' is not a valid domain \((?P<w>.*)\)", "'{d}' は正しいドメイン名ではありません ({w})"),  # §4.3
    (r"DNS error looking up TXT of (?P<d>\S+): (?P<e>.*)", "{d} の TXT の DNS 参照でエラー: {e}"),    # §4.4
    (r"no SPF record", "SPF レコードがありません"),                                         # the trace's "none: …"
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
            return ja.format(**{k: value_ja(v) if k in _VALUES else v for k, v in m.groupdict().items()})
    return str(value_ja(reason))   # a bare domain problem ("empty label") of the trace's "none: …"


_VALUES = {"e", "w", "r"}   # groups holding English words (DNS errors, domain problems, syntax reasons)

#: The trace's actions (evaluate.Evaluator.log) in Japanese.
ACTIONS_JA = {"record": "レコード", "lookup": "DNS 参照", "void": "空の応答", "term": "不一致", "match": "一致",
              "redirect": "redirect", "default": "既定", "include": "include", "include-result": "include の結果",
              "exp": "説明 (exp)", "result": "結果", "error": "エラー"}
_STATUS_JA = {"ok": "応答あり", "nxdomain": "NXDOMAIN (名前なし)", "nodata": "該当レコードなし", "error": "エラー"}
_STEPS: dict[str, list[tuple[re.Pattern[str], str]]] = {a: [(re.compile(p + r"$", re.DOTALL), ja) for p, ja in rules]
                                                        for a, rules in {
    "lookup": [(r"(?P<n>\S+) (?P<t>[A-Z0-9]+) -> (?P<s>\w+)(?: \((?P<e>.*)\))? (?P<c>\d+) record\(s\)",
                "{n} {t} → {s}{e} レコード {c} 件")],
    "void": [(r"(?P<n>\S+): void lookup (?P<c>\d+)", "{n}: 空の応答 {c} 回目")],
    "match": [(r"'(?P<t>.*)' matched -> (?P<r>\w+)", "'{t}' に一致 → {r}")],
    "term": [(r"'(?P<t>.*)': '(?P<d>.*)' is not a valid domain name, no match",
              "'{t}': '{d}' は正しいドメイン名ではないため一致しません"),
             (r"'(?P<t>.*)' did not match", "'{t}' に一致しません")],
    "default": [(r"no mechanism matched -> (?P<r>\w+)", "どのメカニズムにも一致しません → {r}")],
    "include-result": [(r"(?P<d>\S+) -> (?P<r>\w+)", "{d} → {r}")],
    "exp": [(r"(?P<n>\S+): no single TXT record, explanation ignored",
             "{n}: TXT レコードが 1 個ではないため説明文は使いません"),
            (r"(?P<n>\S+): explanation text is invalid, ignored", "{n}: 説明文が正しくないため使いません"),
            (r"explanation: None", "説明文なし"),
            (r"explanation: (?P<x>.*)", "説明文: {x}")],
}.items()}


def step_ja(action: str, detail: str) -> tuple[str, str]:
    """One trace step (``action``, ``detail``) in Japanese; record texts, names and result words kept as they are,
    a detail of an unknown shape unchanged."""
    word = ACTIONS_JA.get(action, action)
    if action == "result":
        res, sep, why = detail.partition(": ")
        return word, f"{res}: {reason_ja(why)}" if sep else detail
    for rx, ja in _STEPS.get(action, ()):
        m = rx.match(detail)
        if m:
            g = m.groupdict()
            if "s" in g:
                g["s"] = _STATUS_JA.get(g["s"], g["s"])
            if "e" in g:
                g["e"] = f" ({value_ja(g['e'])})" if g["e"] else ""
            return word, ja.format(**g)
    return word, detail
