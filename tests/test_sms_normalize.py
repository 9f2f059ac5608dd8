"""SMS text handling: de-obfuscated links, width folding, emoji, phone numbers, language, templates."""

from __future__ import annotations

import pytest

from mailposture.sms.normalize import (
    extract_phones,
    extract_urls,
    is_personal_mobile,
    language,
    registrable,
    template,
    template_key,
)


@pytest.mark.parametrize(("text", "url", "how"), [
    ("荷物 hxxps://sagawa-exp[.]delivery-jp[.]top/abc 確認", "https://sagawa-exp.delivery-jp.top/abc", ["[.]", "hxxp"]),
    ("see hxxp://evil(.)example(.)com/x now", "http://evil.example.com/x", ["[.]", "hxxp"]),
    ("go evil[dot]top/pay", "http://evil.top/pay", ["[.]"]),
    ("https://sagawa-exp . delivery . top/a", "https://sagawa-exp.delivery.top/a", ["spaces"]),
    ("不在です sagawa-exp。top/xx ご確認", "http://sagawa-exp.top/xx", ["full-width dot"]),
    ("ｈｔｔｐｓ：／／ｓａｇａｗａ．ｔｏｐ／ａ", "https://sagawa.top/a", ["full-width dot"]),
    ("https[:]//jppost-ji.com/a", "https://jppost-ji.com/a", ["[:]"]),
    ("h**ps://amazon-jp.top/", "https://amazon-jp.top/", ["hxxp"]),
])
def test_obfuscated_links_are_recovered_and_the_trick_named(text: str, url: str, how: list[str]) -> None:
    urls, _ = extract_urls(text)
    assert [u.url for u in urls] == [url]
    assert sorted(urls[0].obfuscation) == sorted(how)


def test_plain_links_bare_hosts_and_ips() -> None:
    urls, rest = extract_urls("Visit www.getzed.co.uk or bit.ly/3abc, or http://192.0.2.7/login. Ok lar... wif u")
    assert [(u.url, u.host, u.is_ip, u.obfuscation) for u in urls] == [
        ("http://www.getzed.co.uk", "www.getzed.co.uk", False, []),
        ("http://bit.ly/3abc", "bit.ly", False, []),
        ("http://192.0.2.7/login", "192.0.2.7", True, [])]
    assert "getzed" not in rest and "Ok lar..." in rest


def test_sentences_are_not_links() -> None:
    for text in ("Ok lar... Joking wif u oni...", "I am at home.so what", "end. Next time", "了解です。明日ね。"):
        assert extract_urls(text)[0] == []


def test_emoji_and_full_width_text_around_links() -> None:
    urls, rest = extract_urls("📦【ヤマト運輸】😀お荷物👉https://kuronekoyamato-jp.top/r🙏ご確認ください")
    assert [u.host for u in urls] == ["kuronekoyamato-jp.top"]
    assert "ご確認ください" in rest and "📦" in rest


def test_punycode_host_is_kept_in_ascii_form() -> None:
    urls, _ = extract_urls("https://аmazon.com/login")  # Cyrillic а
    assert urls[0].host == "xn--mazon-3ve.com"


def test_phone_numbers_and_mobile_senders() -> None:
    assert extract_phones("お電話 090-1234-5678 か 0120-123-456 へ、call 09061701461") == [
        "090-1234-5678", "0120-123-456", "09061701461"]
    assert extract_phones("認証番号 483920 です") == []
    assert is_personal_mobile("090-1234-5678") and is_personal_mobile("+81 80 1234 5678")
    assert is_personal_mobile("０７０１２３４５６７８")
    assert not is_personal_mobile("0120-123-456") and not is_personal_mobile("Docomo")


def test_language_and_registrable_domain() -> None:
    assert language("お荷物のお知らせ") == "ja" and language("Free entry 2 win") == "en"
    assert registrable("www.kuronekoyamato.co.jp") == "kuronekoyamato.co.jp"
    assert registrable("a.b.delivery-jp.top") == "delivery-jp.top"
    assert registrable("192.0.2.1") == "192.0.2.1"


def test_template_ignores_numbers_links_and_phones() -> None:
    a = "【日本郵便】お荷物 12345 の配達ができませんでした https://jppost-aa.top/1 090-1111-2222"
    b = "【日本郵便】お荷物 98 の配達ができませんでした http://other-bb.cyou/zz 080-3333-4444"
    assert template(a) == template(b)
    assert template_key(a) == template_key(b)
    assert template_key(a) != template_key("【日本郵便】別の文面です https://jppost-aa.top/1")
