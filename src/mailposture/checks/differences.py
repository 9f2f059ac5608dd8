"""Where mailposture and independent implementations disagree, and the RFC section that decides.

``tests/test_differential.py`` runs the same records through pyspf (RFC 7208 check_host(), strict) and
checkdmarc (DMARC parsing) and requires that the disagreements are exactly these; docs/findings.md lists them
(``mailposture findings --format doc``). Each entry: the implementation, the input, what each side says, the
deciding section and why mailposture follows it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Difference:
    peer: str          # "pyspf" | "checkdmarc"
    record: str        # the record (Python repr in the doc, so control characters stay visible)
    ours: str
    theirs: str
    section: str
    en: str
    ja: str


DIFFERENCES: tuple[Difference, ...] = (
    Difference("pyspf", "v=spf1 ptr:d.test -all", "fail", "temperror", "RFC 7208 §5.5",
               "A DNS error on the PTR lookup makes 'ptr' not match; evaluation goes on (to -all).",
               "PTR 参照の DNS エラーでは 'ptr' は一致しないだけで、評価は続きます (-all へ)。"),
    Difference("pyspf", "v=spf1 a:x\x01.test -all", "permerror", "temperror", "RFC 7208 §7.1, §4.6",
               "A control character is outside macro-literal (%x21-24 / %x26-7E): a syntax error, so permerror "
               "before any lookup.",
               "制御文字は macro-literal (%x21-24 / %x26-7E) の範囲外で構文エラーのため、参照前に permerror です。"),
    Difference("checkdmarc", " v=DMARC1; p=reject", "not a DMARC record (no policy)", "valid, p=reject",
               "RFC 7489 §6.6.3, RFC 9989 §4.8",
               "A record that does not start with 'v=' is discarded; whitespace before it is outside the grammar "
               "(finding DMARC_LEADING_SPACE says that some receivers still apply it).",
               "'v=' で始まらないレコードは破棄されます。前の空白は文法外です (一部の受信側は適用することを "
               "DMARC_LEADING_SPACE で示します)。"),
    Difference("checkdmarc", "v=DMARC1; p=reject; fo=0:1", "invalid (fo), fo=0 used", "valid with a warning",
               "RFC 9989 §4.7, §4.8",
               "0 and 1 exclude each other in dmarc-fo: the value is outside the ABNF, so the record is not valid; "
               "receivers discard the value for the default (reported, policy unchanged).",
               "dmarc-fo で 0 と 1 は排他です。ABNF の範囲外なのでレコードは有効ではありません。受信側は既定値を使います "
               "(ポリシーは変わりません)。"),
    Difference("checkdmarc", "v=DMARC1; p=reject; fo=d:d", "invalid (fo), fo=0 used", "valid with a warning",
               "RFC 9989 §4.7, §4.8",
               "d and s appear at most once in dmarc-fo: outside the ABNF, so not valid; the default applies.",
               "dmarc-fo で d と s は 1 回までです。ABNF の範囲外なので有効ではありません。既定値が使われます。"),
    Difference("checkdmarc", "v=DMARC1; p=reject; adkim=x", "invalid (adkim), adkim=r used", "valid with a warning",
               "RFC 9989 §4.7, §4.8",
               "dmarc-rors is r or s: 'x' is outside the ABNF, so the record is not valid; receivers use the "
               "default r, so the policy still applies.",
               "dmarc-rors は r か s です。'x' は ABNF の範囲外なので有効ではありません。受信側は既定値 r を使い、"
               "ポリシーは適用されます。"),
)


def markdown(lang: str) -> str:
    """The table for docs/findings.md."""
    if lang == "ja":
        head = "| 比較先 | 入力 | mailposture | 比較先の判定 | 根拠 | 理由 |"
    else:
        head = "| peer | input | mailposture | peer says | deciding section | why |"
    rows = [head, "|---|---|---|---|---|---|"]
    for d in DIFFERENCES:
        cells = [d.peer, f"`{d.record!r}`", d.ours, d.theirs, d.section, d.ja if lang == "ja" else d.en]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
