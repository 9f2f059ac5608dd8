"""Lure rules: pressure words, requests for credentials or payment, unsolicited offers (Japanese and English).

Words alone decide nothing: the verdict only counts a lure when the message also carries a way to act on it that
is not the brand's own (a link off the genuine domains, or a number to call) — genuine notices also say 不在,
ご確認ください or "please check". The word lists follow the wording quoted in the anti-phishing council's and
the carriers' public warnings about smishing (fake parcel notices, bank and card alerts, carrier bills, tax).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

URGENCY = (
    # ja: unpaid, stopped, seizure, legal action, today only, frozen, locked, unauthorised use, final notice
    "未納", "未払", "滞納", "停止", "差し押さえ", "差押", "法的措置", "法的手続", "強制執行", "至急", "本日中",
    "24時間以内", "48時間以内", "期限切れ", "期限内", "凍結", "ロック", "不正利用", "不正ログイン", "不審な",
    "異常", "制限", "最終通知", "最終警告", "最終のお知らせ", "確認が取れ", "確認できません", "失効", "無効",
    "解約", "督促", "延滞", "罰金", "保管期限", "返送",
    # en
    "suspended", "suspend", "locked", "unusual activity", "unusual sign", "final notice", "final warning",
    "within 24 hours", "within 24h", "overdue", "unpaid", "expired", "expire", "blocked", "frozen",
    "deactivated", "restricted", "immediately", "urgent", "legal action",
)
CREDENTIAL = (
    "パスワード", "暗証番号", "カード番号", "セキュリティコード", "有効期限", "ログイン", "本人確認", "認証",
    "アカウント情報", "口座番号", "ワンタイム", "再登録", "情報更新", "情報を更新", "登録情報",
    "password", "passcode", "pin", "card number", "cvv", "log in", "login", "sign in", "verify your",
    "verify account", "confirm your", "update your", "account details",
)
PAYMENT = (
    "再配達料", "関税", "手数料", "お支払い", "支払い", "支払", "料金", "送料", "決済", "納付", "還付",
    "customs fee", "delivery fee", "redelivery", "pay now", "payment", "refund", "fee",
)
OFFER = (
    "当選", "無料", "副業", "稼げ", "稼ぐ", "高収入", "日給", "月収", "即日融資", "融資", "借入", "ギフト券",
    "プレゼント", "配当", "投資", "出会い", "会員登録", "キャンペーン", "ポイント付与", "受け取り",
    "won", "winner", "prize", "free", "claim", "cash", "award", "guaranteed", "bonus", "voucher", "gift card",
    "loan", "txt", "text stop", "reply stop", "18+", "ringtone", "dating",
)
ACTION = (
    "こちら", "下記", "以下", "アクセス", "タップ", "クリック", "ログイン", "手続", "更新", "登録", "入力",
    "お電話", "電話", "連絡", "ご確認", "確認してください", "確認下さい", "詳細",
    "click", "tap", "visit", "go to", "log in", "call", "reply", "text", "verify", "open", "follow", "link",
)


_CODE = re.compile(r"(?:認証|確認|ワンタイム|セキュリティ|ログイン用の?)(?:コード|番号|パスワード)[^0-9]{0,12}?(\d{4,8})(?!\d)"
                   r"|(?<![0-9a-z])(?:code|passcode|otp|pin)(?![a-z])[^0-9]{0,20}?(\d{4,8})(?!\d)"
                   r"|(?<!\d)(\d{4,8})(?!\d)[^0-9]{0,20}?(?<![a-z])(?:is your|は)[^0-9]{0,30}?(?:code|コード)")


def one_time_code(text_without_urls: str) -> str:
    """The code of a one-time-code message ("認証コード: 123456", "123456 is your login code"), or ''."""
    m = _CODE.search(text_without_urls.lower())
    return next((g for g in m.groups() if g), "") if m else ""


def _rx(words: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        if w.isascii():
            parts.append(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])")
        else:
            parts.append(re.escape(w))
    return re.compile("|".join(parts))


_URGENCY = _rx(URGENCY)
_CREDENTIAL = _rx(CREDENTIAL)
_PAYMENT = _rx(PAYMENT)
_OFFER = _rx(OFFER)
_ACTION = _rx(ACTION)


@dataclass(frozen=True, slots=True)
class Lures:
    urgency: str = ""
    credential: str = ""
    payment: str = ""
    offer: str = ""
    action: str = ""


def find(text_without_urls: str) -> Lures:
    """The first word of each family in a folded message (links already removed), lower-cased for English."""
    t = text_without_urls.lower()

    def first(rx: re.Pattern[str]) -> str:
        m = rx.search(t)
        return m.group(0) if m else ""

    return Lures(first(_URGENCY), first(_CREDENTIAL), first(_PAYMENT), first(_OFFER), first(_ACTION))
