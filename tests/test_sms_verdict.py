"""SMS verdicts: every reason code on a message that shows it, genuine notices left alone, the JSON shape."""

from __future__ import annotations

import pytest

from mailposture.sms.lookalike import lookalike, osa_distance, skeleton
from mailposture.sms.reasons import REASONS
from mailposture.sms.verdict import Analyzer, Landing


@pytest.fixture(scope="module")
def an() -> Analyzer:
    return Analyzer()


def codes(r) -> list[str]:
    return [x.code for x in r.reasons]


# message, sender, the reason it must show, the verdict
CASES = [
    ("SMS_URL", "写真はこちら https://example.com/p.jpg", None, None),
    ("SMS_URL_OBFUSCATED", "お荷物の件 hxxps://parcel-info[.]top/x ご確認ください", None, None),
    ("SMS_URL_SHORTENER", "Check this out https://bit.ly/3xyz", None, None),
    ("SMS_URL_RAW_IP", "【ヤマト運輸】ご不在の為持ち帰りました http://192.0.2.45/yamato", None, "smishing"),
    ("SMS_TLD_RISKY", "お荷物の件 https://parcel-info.top/x", None, None),
    ("SMS_PUNYCODE", "Amazonご利用確認: 不審なログインがありました https://xn--mazon-3ve.com/", None, "smishing"),
    ("SMS_LOOKALIKE_EDIT", "お荷物のお届けにあがりましたが不在の為持ち帰りました https://sagawa-exq.co.jp/", None, "smishing"),
    ("SMS_LOOKALIKE_HOMOGLYPH", "【Amazon】アカウントが一時停止されました https://amaz0n.co.jp/verify", None, "smishing"),
    ("SMS_LOOKALIKE_KEYWORD", "お客様宛のお荷物を保管しています http://sagawa-exp.delivery-jp.top/", None, "smishing"),
    ("SMS_BRAND_MISMATCH", "【ヤマト運輸】お荷物のお届けについて https://parcel-check.com/a", None, "smishing"),
    ("SMS_SENDER_PHONE", "【三井住友カード】カードのご利用を制限しました https://verify-card.com/", "090-1234-5678",
     "smishing"),
    ("SMS_LURE_URGENCY", "【国税庁】未払いの税金があります。本日中に差し押さえ https://tax-pay.com/", None, "smishing"),
    ("SMS_LURE_CREDENTIAL", "パスワードの再登録をお願いします https://account-update.com/", None, None),
    ("SMS_LURE_PAYMENT", "再配達料のお支払いをお願いします https://redeliver-pay.com/", None, None),
    ("SMS_SPAM_OFFER", "【当選のお知らせ】100万円が当選しました。受け取りはこちら http://prize-get.xyz/", None, "spam"),
    ("SMS_PHONE_NUMBER", "即日融資OK！今すぐお電話ください 090-1234-5678", None, "spam"),
    ("SMS_URL_OFFICIAL", "【ヤマト運輸】本日ご不在のためお荷物を持ち帰りました。再配達は https://www.kuronekoyamato.co.jp/ から",
     None, "ham"),
    ("SMS_ONE_TIME_CODE", "認証コード: 482913(5分間有効)", None, "ham"),
    ("SMS_MODEL", "Ok lar... Joking wif u oni...", None, "ham"),
    ("SMS_VERDICT_BASIS", "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
     None, "spam"),
]
RESOLVE_ONLY = {"SMS_SHORTENER_TO_LOOKALIKE", "SMS_LANDING", "SMS_LANDING_NXDOMAIN", "SMS_LANDING_DNS_ERROR",
                "SMS_RESOLVE_FAILED"}


def test_every_code_has_a_case_here_or_in_the_resolve_tests() -> None:
    assert {c for c, *_ in CASES} | RESOLVE_ONLY == set(REASONS)


@pytest.mark.parametrize(("code", "text", "sender", "verdict"), CASES, ids=[c[0] for c in CASES])
def test_reason_codes(an: Analyzer, code: str, text: str, sender: str | None, verdict: str | None) -> None:
    r = an.check(text, sender)
    assert code in codes(r), codes(r)
    if verdict:
        assert r.verdict == verdict, (codes(r), r.score)
    for x in r.reasons:
        for lang in ("ja", "en"):
            d = x.detail(lang)
            assert d and "{" not in d, (x.code, d)


@pytest.mark.parametrize("code", sorted(RESOLVE_ONLY))
def test_resolve_reason_codes_from_landings(an: Analyzer, code: str) -> None:
    text = "【佐川急便】お荷物のお届けについてご確認ください https://bit.ly/abc"
    land = {
        "SMS_SHORTENER_TO_LOOKALIKE": Landing("https://bit.ly/abc", "http://sagawa-exp.delivery-jp.top/x",
                                              "sagawa-exp.delivery-jp.top", dns_status="ok", addresses=("192.0.2.8",)),
        "SMS_LANDING": Landing("https://bit.ly/abc", "https://plain.example/", "plain.example", dns_status="ok"),
        "SMS_LANDING_NXDOMAIN": Landing("https://bit.ly/abc", "https://gone.example/", "gone.example",
                                        dns_status="nxdomain"),
        "SMS_LANDING_DNS_ERROR": Landing("https://bit.ly/abc", "https://slow.example/", "slow.example",
                                         dns_status="error", dns_error="timeout"),
        "SMS_RESOLVE_FAILED": Landing("https://bit.ly/abc", error="HTTP 404 without a redirect"),
    }[code]
    r = an.check(text, landings={"https://bit.ly/abc": land})
    assert code in codes(r)
    if code == "SMS_SHORTENER_TO_LOOKALIKE":
        assert r.urls[0].lookalike_of == "sagawa" and r.verdict == "smishing"
        assert r.score > an.check(text).score or r.score == 1.0


GENUINE = [
    "【ヤマト運輸】本日ご不在のためお荷物を持ち帰りました。再配達のご依頼は https://www.kuronekoyamato.co.jp/ からどうぞ",
    "【日本郵便】ご不在のためお荷物を持ち帰りました。ご確認ください https://www.post.japanpost.jp/",
    "佐川急便です。お荷物の配達予定をお知らせします。お問い合わせ番号でご確認ください https://www.sagawa-exp.co.jp/",
    "【ドコモ】ご利用料金が確定しました。ご確認ください。https://www.docomo.ne.jp/mydocomo/",
    "【三井住友カード】カードのご利用がありました。ご利用内容はVpassでご確認ください https://www.smbc-card.com/",
    "【楽天カード】今月のご請求金額が確定しました。楽天e-NAVIでご確認ください https://www.rakuten-card.co.jp/e-navi/",
    "【りそな銀行】ワンタイムパスワードは 483920 です。この番号を他人に教えないでください。",
    "国税庁です。確定申告の期限は3月15日です。e-Taxのご利用はこちら https://www.e-tax.nta.go.jp/",
    "荷物届いた？不在票入ってたら再配達お願いしておいて。",
    "ご確認ください。",
    "【楽天カード】ポイント付与のお知らせです。ご確認ください https://www.rakuten.co.jp/",  # the group's site
    # transactional messages of senders outside the catalogue
    "【横浜市】防災訓練のお知らせです。詳細は市のホームページをご覧ください https://www.city.yokohama.lg.jp/",
    "○○歯科です。明日のご予約の確認です。変更はこちら https://reserve.example-dental.jp/",
    "Your verification code is 482913",
    "Your appointment at City Dental is tomorrow at 3pm. Reply C to confirm.",
]


@pytest.mark.parametrize("text", GENUINE)
def test_genuine_notices_with_the_same_words_are_ham(an: Analyzer, text: str) -> None:
    r = an.check(text)
    assert r.verdict == "ham", [(x.code, x.detail("en")) for x in r.reasons]
    assert not {"SMS_LURE_URGENCY", "SMS_LURE_CREDENTIAL", "SMS_LURE_PAYMENT"} & set(codes(r))


def test_a_code_request_with_a_link_is_no_code_notice(an: Analyzer) -> None:
    r = an.check("【三井住友カード】認証コード 482913 を入力してください https://smbc-card-verify.top/")
    assert "SMS_ONE_TIME_CODE" not in codes(r) and r.verdict == "smishing"


def test_same_words_with_a_lookalike_link_are_smishing(an: Analyzer) -> None:
    genuine = an.check(GENUINE[0])
    fake = an.check(GENUINE[0].replace("www.kuronekoyamato.co.jp", "kuronekoyamato-jp.top"))
    assert (genuine.verdict, fake.verdict) == ("ham", "smishing")
    assert fake.urls[0].lookalike_of == "yamato" and genuine.urls[0].brand == "yamato"


def test_mobile_sender_only_for_short_code_brands_and_only_when_given(an: Analyzer) -> None:
    text = "【三井住友カード】カードのご利用を制限しました https://verify-card.com/"
    assert "SMS_SENDER_PHONE" not in codes(an.check(text))
    assert "SMS_SENDER_PHONE" not in codes(an.check(text, "SMBC"))
    assert "SMS_SENDER_PHONE" in codes(an.check(text, "+81 90 1234 5678"))
    assert "SMS_SENDER_PHONE" not in codes(an.check("Amazonから https://amzn-check.com/", "09012345678"))


def test_json_keeps_exactly_the_issue_keys(an: Analyzer) -> None:
    r = an.check("Amazonご利用確認: 不審なログインがありました https://xn--mazon-3ve.com/")
    j = r.to_json("ja")
    assert list(j) == ["text", "verdict", "score", "reasons", "urls", "campaign"]
    assert all(list(x) == ["code", "detail"] for x in j["reasons"])
    assert j["urls"] == [{"url": "https://xn--mazon-3ve.com/", "domain": "xn--mazon-3ve.com", "brand": None,
                          "lookalike_of": "amazon"}]
    assert 0.0 <= j["score"] <= 1.0 and j["campaign"].startswith("c-")
    assert any("аmazon.com" in x["detail"] for x in j["reasons"])  # punycode shown decoded


def test_reason_texts_follow_the_language(an: Analyzer) -> None:
    r = an.check("お荷物の件 hxxps://parcel-info[.]top/x")
    ja = {x["code"]: x["detail"] for x in r.to_json("ja")["reasons"]}
    en = {x["code"]: x["detail"] for x in r.to_json("en")["reasons"]}
    assert "崩して" in ja["SMS_URL_OBFUSCATED"] and "disguised" in en["SMS_URL_OBFUSCATED"]


def test_english_smishing_and_ham(an: Analyzer) -> None:
    assert an.check("Your Apple ID has been locked. Verify your account within 24 hours: "
                    "http://appleid-support.xyz/").verdict == "smishing"
    assert an.check("Sorry, I'll call later").verdict == "ham"


@pytest.mark.parametrize(("host", "brand", "kind"), [
    ("sagawa-exq.co.jp", "sagawa", "edit"), ("kuronekoyamoto.com", "yamato", "edit"),
    ("amaz0n.co.jp", "amazon", "homoglyph"), ("rnercari.com", "mercari", "homoglyph"),
    ("xn--mazon-3ve.com", "amazon", "homoglyph"), ("jppost-ji.com", "japanpost", "keyword"),
    ("smbc-card-verify.xyz", "smbccard", "keyword"), ("au-pay.top", "au", "keyword"),
    ("docomo.ne.jp.abc.cn", "docomo", "keyword"),
])
def test_lookalikes(host: str, brand: str, kind: str) -> None:
    la = lookalike(host)
    assert la is not None and (la.brand, la.kind) == (brand, kind)


@pytest.mark.parametrize("host", ["www.kuronekoyamato.co.jp", "paypay-bank.co.jp", "google.com", "auto.com",
                                  "example.com", "bucket.s3.amazonaws.com", "e-tax.nta.go.jp"])
def test_not_lookalikes(host: str) -> None:
    assert lookalike(host) is None


def test_distance_and_skeleton() -> None:
    assert osa_distance("sagawa", "sagwaa") == 1 and osa_distance("abc", "abc") == 0
    assert osa_distance("kitten", "sitting") == 3
    assert skeleton("аррӏе") == "apple" and skeleton("paypa1") == "paypal"
