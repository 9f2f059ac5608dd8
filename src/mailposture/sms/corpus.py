"""The training and evaluation corpora: the SMS Spam Collection (English, CC BY 4.0), the hand-written Japanese
examples and a seeded generator of Japanese smishing and of the same brands' genuine notices.

The generator's wording follows the campaigns described publicly by the Council of Anti-Phishing Japan
(fake parcel notices, bank/card alerts, carrier bills, tax and utility arrears) and the brands' genuine notices
(delivery schedules, bills, one-time codes), which also say 不在 and ご確認ください and carry links to the brands'
own domains. Templates are split: every fourth template of each family only appears in the held-back part, so
that the held-back evaluation sees wording the model was not trained on.
"""

from __future__ import annotations

import random
from importlib import resources

from mailposture.sms.brands import Brand, catalogue

Labelled = tuple[str, str]  # (label: "ham" | "spam" | "smishing", text)


def _corpus_file(name: str) -> str:
    return resources.files("mailposture").joinpath(f"data/sms/corpus/{name}").read_text("utf-8")


def sms_spam_collection() -> list[Labelled]:
    """The UCI SMS Spam Collection: 5,574 (label, text), label "ham" or "spam"."""
    out = []
    for line in _corpus_file("SMSSpamCollection").splitlines():
        if not line.strip():
            continue
        label, _, text = line.partition("\t")
        out.append((label, text))
    return out


def handwritten_ja() -> list[tuple[str, str, str]]:
    """(label, basis, text) of ja_handwritten.tsv."""
    out = []
    for line in _corpus_file("ja_handwritten.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, basis, text = line.split("\t", 2)
        out.append((label, basis, text))
    return out


# ------------------------------------------------------------------------------------------------ generator

_TAG = ("【{name}】", "[{name}]", "{name}より", "{name}です。", "{name}からのお知らせ:", "<{name}>", "")
_SMISH = {
    "parcel": [
        "{tag}お荷物のお届けにあがりましたが不在の為持ち帰りました。下記よりご確認ください {url}",
        "{tag}お客様宛のお荷物が住所不明のため配達できません。{url} で住所を確認してください",
        "{tag}配送料金が未払いのためお荷物を保管しています。{hours}時間以内にお支払いください {url}",
        "{tag}ご不在のため荷物を持ち帰りました。再配達の手続きはこちら {url}",
        "{tag}お届け予定のお荷物について確認が取れておりません。至急ご確認ください {url}",
        "{tag}保管期限が過ぎるとお荷物は返送されます。再配達の依頼はこちら {url}",
        "{tag}関税の支払いが未納のため配達が停止されています。{url}",
        "{tag}お荷物の発送に問題が発生しました。詳細はこちら {url}",
    ],
    "money": [
        "{tag}お客様のカードが第三者に不正利用された可能性があります。ご確認ください {url}",
        "{tag}不審な取引を検知したため、ご利用を一時停止しました。本人確認はこちら {url}",
        "{tag}お客様の口座が凍結されました。解除の手続きはこちら {url}",
        "{tag}セキュリティ強化のため登録情報の更新が必要です。{hours}時間以内にログインしてください {url}",
        "{tag}お取引目的の確認が必要です。回答がない場合、お取引を制限します {url}",
        "{tag}カードのご利用確認が取れないため利用制限をかけております {url}",
        "{tag}異常なログインがありました。パスワードを変更してください {url}",
        "{tag}ご利用代金の引き落としができませんでした。至急お支払い手続きを {url}",
    ],
    "mobile": [
        "{tag}ご利用料金のお支払い確認が取れておりません。ご確認が必要です {url}",
        "{tag}ご利用料金が未納です。本日中にお支払いがない場合、回線を停止します {url}",
        "{tag}ご利用料金が高額となっております。ご確認ください {url}",
        "{tag}アカウントのセキュリティ確認が必要です。こちらからログインしてください {url}",
        "{tag}ポイントの有効期限が本日までです。受け取りはこちら {url}",
        "{tag}契約内容の確認が必要です。{hours}時間以内に手続きをしてください {url}",
        "{tag}お客様の回線が不正利用されている可能性があります {url}",
        "{tag}料金未払いのため、ご利用を制限しております。{url}",
    ],
    "shop": [
        "{tag}お支払い方法に問題があります。お支払い情報を更新してください {url}",
        "{tag}お客様のアカウントが一時停止されました。本人確認はこちら {url}",
        "{tag}不審なログインがありました。ご確認ください {url}",
        "{tag}会費のお支払いができませんでした。カード情報を更新してください {url}",
        "{tag}アカウントがロックされました。{hours}時間以内に解除の手続きを {url}",
        "{tag}ご注文の確認が取れません。詳細はこちら {url}",
        "{tag}お客様の登録情報に誤りがあります。ログインして更新してください {url}",
        "{tag}ご利用のアカウントが不正利用されている可能性があります {url}",
    ],
    "bill": [
        "{tag}未払いの料金があります。本日中にお支払いがない場合、差し押さえの対象となります {url}",
        "{tag}料金のお支払いが確認できません。本日中に手続きがない場合、供給を停止します {url}",
        "{tag}最終通知: 未納の税金があります。至急納付してください {url}",
        "{tag}期限内に納付がない場合、財産の差押えを行います {url}",
        "{tag}還付金のお受け取り手続きが完了していません。{hours}時間以内にこちらから {url}",
        "{tag}滞納のお知らせ。法的手続に移行する前にご確認ください {url}",
        "{tag}料金が未納のため、停止の手続きを開始します {url}",
        "{tag}督促状: お支払い期限を過ぎています。{url}",
    ],
}
_LEGIT = {
    "parcel": [
        "{tag}お荷物のお届け予定日時をお知らせします。日時の変更はこちら {url}",
        "{tag}本日ご不在のためお荷物を持ち帰りました。再配達のご依頼は {url} からどうぞ",
        "{tag}{date}にお荷物をお届けします。お受け取り日時の変更は {url}",
        "{tag}お荷物のお届けが完了しました。ご利用ありがとうございました。",
        "{tag}ご不在連絡票を投函しました。再配達はこちらからご確認ください {url}",
        "{tag}お荷物は{date}に宅配ボックスへお届けしました。",
        "{tag}お問い合わせ番号{num}のお荷物を発送しました。配達状況は {url}",
        "{tag}明日{date}のお届け予定です。ご確認ください {url}",
    ],
    "money": [
        "{tag}カードのご利用がありました。ご利用金額{amount}円。詳細はアプリでご確認ください {url}",
        "{tag}ワンタイムパスワードは{code}です。この番号を他人に教えないでください。",
        "{tag}認証番号{code}を入力してください。お心当たりのない場合は破棄してください。",
        "{tag}{date}のお引き落とし金額が確定しました。ご確認ください {url}",
        "{tag}ご登録の住所変更を受け付けました。お心当たりのない場合はお電話ください。",
        "{tag}今月のご請求金額が確定しました。会員サイトでご確認ください {url}",
        "{tag}お振込を受け付けました。金額{amount}円。",
        "{tag}キャンペーンのエントリーを受け付けました。詳細 {url}",
    ],
    "mobile": [
        "{tag}ご利用料金が確定しました。ご確認ください {url}",
        "{tag}データ容量の残りが少なくなっています。追加はこちら {url}",
        "{tag}機種変更のお手続きが完了しました。ご確認ください {url}",
        "{tag}認証番号は{code}です。他人に教えないでください。",
        "{tag}{date}にメンテナンスを実施します。詳細は {url}",
        "{tag}ご契約内容の変更を受け付けました。",
        "{tag}今月のご請求額は{amount}円です。詳細は {url}",
        "{tag}ポイントが付与されました。ご確認ください {url}",
    ],
    "shop": [
        "{tag}ご注文の商品は本日配達予定です。詳細はアプリでご確認ください {url}",
        "{tag}ご注文ありがとうございます。注文番号{num}。{url}",
        "{tag}確認コードは{code}です。この番号を他人に教えないでください。",
        "{tag}商品が発送されました。配送状況はこちら {url}",
        "{tag}出品した商品が購入されました。発送をお願いします {url}",
        "{tag}ご返品を受け付けました。返金は{date}頃の予定です。",
        "{tag}セールのお知らせ。詳細は {url}",
        "{tag}ログインがありました。お心当たりのない場合はご確認ください {url}",
    ],
    "bill": [
        "{tag}今月のご使用量のお知らせです。会員サイトでご確認ください {url}",
        "{tag}確定申告の期限は{date}です。e-Taxのご利用はこちら {url}",
        "{tag}{date}に口座振替を行います。ご確認ください {url}",
        "{tag}検針結果をお知らせします。使用量{num}。",
        "{tag}お支払いを確認しました。ありがとうございました。",
        "{tag}お手続きの受付が完了しました。{url}",
        "{tag}{date}に点検に伺います。ご不在の場合はご連絡ください。",
        "{tag}ご契約プランの案内です。詳細は {url}",
    ],
}
_FAMILY = {"parcel": "parcel", "post": "parcel", "bank": "money", "card": "money", "payment": "money",
           "mobile": "mobile", "ecommerce": "shop", "utility": "bill", "tax": "bill"}
_PERSONAL = [
    "明日の{what}、{h}時からに変更になりました。よろしくお願いします。", "了解です！{place}で待ってるね。",
    "今日は遅くなるので先にご飯食べてて。", "不在票が入ってたから再配達頼んでおくね。",
    "{place}に着いたら連絡して。", "資料は机の上に置いておいたよ。", "{what}の件、ありがとうございました！",
    "ごめん、{h}時過ぎになりそう。", "今週末の{what}どうする？", "{place}のお店、予約取れたよ。",
    "お疲れさま。資料確認しておきます。", "風邪ひいたので今日は休みます。", "{what}楽しかったね！また行こう。",
    "駐車場の場所がわからないので電話します。", "{h}時に{place}集合でお願いします。",
    "{what}の日程、来週に変えてもいい？",
]
_SPAM = [
    "【当選のお知らせ】おめでとうございます！{amount}円が当選しました。受け取りはこちら {url}",
    "副業で月収{amount}円！スマホだけで簡単に稼げます。詳細は {url}", "即日融資OK！今すぐお電話ください {tel}",
    "【無料】今なら会員登録で{amount}円分のギフト券をプレゼント {url}", "高配当の投資案件をご紹介！{url}",
    "素敵な出会いをお探しの方へ。無料で登録できます {url}",
    "未払いの有料サイト利用料金があります。本日中にご連絡がない場合、法的措置に移行します {tel}",
    "限定キャンペーン！先着100名様に現金{amount}円をプレゼント {url}",
]
# transactional messages of senders outside the catalogue (clinics, shops, schools, towns): the bulk of real
# A2P traffic; their links are on their own domains
_SERVICE = [
    "{org}です。明日{h}時のご予約の確認です。変更はこちら {url}",
    "【{org}】ご予約ありがとうございます。{date} {h}:00 にお待ちしております。{url}",
    "認証コード: {code}({h}分間有効)。このコードを他人に教えないでください。",
    "【{org}】確認コードは{code}です。",
    "ご注文の商品を発送しました。配送状況はこちら {url}",
    "【{org}】本日の{what}は中止です。詳細はホームページをご確認ください {url}",
    "【{org}】{date}に防災訓練を行います。詳細 {url}",
    "{org}です。お預かりしていた商品のお渡し準備ができました。",
    "【{org}】ご来店ありがとうございました。アンケートにご協力ください {url}",
    "{org}からのお知らせ: {date}は臨時休業とさせていただきます。",
    "【{org}】お申し込みを受け付けました。受付番号{num}。{url}",
    "ログイン用のワンタイムパスワードは{code}です。有効期限は{h}分です。",
    "【{org}】順番が近づきました。{h}分以内にお越しください。",
    "{org}です。検査結果が出ましたのでご来院ください。",
    "【{org}】ポイントカードの更新手続きが完了しました。{url}",
    "【{org}】次回の収集日は{date}です。詳細 {url}",
]
_EN_SERVICE = [
    "Your verification code is {code}. Do not share it with anyone.",
    "{code} is your login code. It expires in {h} minutes.",
    "Your appointment at {org_en} is on {date_en} at {h}:00. Reply C to confirm or call us to reschedule.",
    "Your order has shipped. Track it here: {url}",
    "Your parcel will be delivered today between {h}:00 and {h2}:00. Track: {url}",
    "{org_en}: your table for {n} is booked for {h}:00 tonight. See you soon!",
    "Reminder: {org_en} is closed on {date_en}. Opening hours: {url}",
    "Your prescription is ready for collection at {org_en}.",
    "Thanks for shopping at {org_en}. Your receipt: {url}",
    "Your {org_en} account password was changed. If this wasn't you, contact support in the app.",
    "Your ride code is {code}. Never share this code.",
    "{org_en}: school is closed today due to the storm. Details: {url}",
]
_ORG = ["○○歯科", "さくら内科", "みどり美容室", "青葉小学校", "市役所", "中央図書館", "ひまわり保育園", "駅前薬局",
        "山田整骨院", "市民病院", "北町クリーニング", "こども園", "町内会", "スポーツクラブ", "区役所", "公民館"]
_ORG_EN = ["City Dental", "Green Clinic", "Oak Pharmacy", "Riverside School", "Main Street Cafe", "Sunrise Gym",
           "Town Library", "Blue Salon"]
_SERVICE_DOMAINS = ["{w}-clinic.jp", "www.city.{w}.lg.jp", "{w}.co.jp", "www.{w}.ed.jp", "{w}-shop.com",
                    "reserve.{w}.jp", "www.{w}.or.jp", "{w}.ac.jp", "{w}-salon.net"]

_WHAT = ["会議", "飲み会", "打ち合わせ", "練習", "授業", "面談", "ランチ", "買い物"]
_PLACE = ["駅", "改札", "駅前", "コンビニ", "公園", "会社", "家", "カフェ"]
_WORDS = ["jp", "info", "delivery", "secure", "pay", "support", "login", "verify", "account", "center", "service",
          "help", "online", "check", "update", "redelivery", "post", "card", "web", "my"]
_TLDS = ["top", "xyz", "icu", "buzz", "shop", "club", "online", "site", "cyou", "vip", "sbs", "bond", "com", "net",
         "cn", "cc", "work", "live"]
_SHORT = ["bit.ly", "t.ly", "is.gd", "x.gd", "cutt.ly", "tinyurl.com", "rb.gy"]


def _rand_word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 8)))


def _bad_url(rng: random.Random, b: Brand) -> str:
    kw = rng.choice(b.keywords) if b.keywords else _rand_word(rng)
    style = rng.random()
    path = rng.choice(["", "/", "/" + _rand_word(rng), "/?id=" + str(rng.randint(1000, 99999))])
    if style < 0.45:
        host = f"{kw}-{rng.choice(_WORDS)}.{rng.choice(_TLDS)}"
    elif style < 0.6:
        host = f"{rng.choice(_WORDS)}-{kw}.{rng.choice(_TLDS)}"
    elif style < 0.72:
        host = f"{kw}.{_rand_word(rng)}.{rng.choice(_TLDS)}"
    elif style < 0.86:
        return f"https://{rng.choice(_SHORT)}/{_rand_word(rng)}{rng.randint(1, 99)}"
    elif style < 0.93:
        host = f"{_rand_word(rng)}{rng.randint(1, 999)}.{rng.choice(_TLDS)}"
    else:
        host = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    url = f"{rng.choice(['https://', 'http://', 'https://', ''])}{host}{path}"
    r = rng.random()
    if r < 0.06:
        url = url.replace("http", "hxxp", 1).replace(".", "[.]")
    elif r < 0.1:
        url = url.replace(".", "。")
    return url


def _good_url(rng: random.Random, b: Brand) -> str:
    d = rng.choice(b.domains)
    host = d if d.count(".") >= 2 and not d.endswith((".co.jp", ".ne.jp", ".go.jp", ".or.jp")) else "www." + d
    return f"https://{host}/{rng.choice(['', 'mypage', 'info', 'support', 'notice', 'app'])}"


def _fill(rng: random.Random, tpl: str, b: Brand | None, url: str) -> str:
    name = rng.choice(b.names[:3]) if b else ""
    tag = rng.choice(_TAG).format(name=name) if b else ""
    return tpl.format(tag=tag, url=url, hours=rng.choice([12, 24, 48]), amount=f"{rng.randint(1, 500) * 1000:,}",
                      date=f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日", num=rng.randint(100000, 999999),
                      code=f"{rng.randint(0, 999999):06d}", what=rng.choice(_WHAT), h=rng.randint(9, 21),
                      place=rng.choice(_PLACE), tel=f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}")


def _fill_service(rng: random.Random, tpl: str) -> str:
    w = _rand_word(rng)
    url = "https://" + rng.choice(_SERVICE_DOMAINS).format(w=w) + rng.choice(["/", "/info", "/r?id=" + str(
        rng.randint(1000, 99999)), ""])
    h = rng.randint(5, 20)
    return tpl.format(org=rng.choice(_ORG), org_en=rng.choice(_ORG_EN), url=url, h=h, h2=h + 2,
                      code=f"{rng.randint(0, 999999):06d}", date=f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                      date_en=f"{rng.randint(1, 28)} {rng.choice(['May', 'June', 'July', 'Oct'])}",
                      num=rng.randint(100000, 999999), what=rng.choice(_WHAT), n=rng.randint(2, 6))


def _templates(tpls: list[str], part: str) -> list[str]:
    return [t for i, t in enumerate(tpls) if (i % 4 == 3) == (part == "heldout")]


def generate_ja(n: int, seed: int, part: str = "train") -> list[Labelled]:
    """``n`` messages: about 40% smishing, 35% genuine brand notices, 10% personal, 5% spam (Japanese), and 10%
    transactional messages of senders outside the catalogue (Japanese, and English one time in three)."""
    if part not in ("train", "heldout"):
        raise ValueError("part must be 'train' or 'heldout'")
    rng = random.Random(seed)
    brands = [b for b in catalogue() if b.category in _FAMILY]
    out: list[Labelled] = []
    for _ in range(n):
        r = rng.random()
        b = rng.choice(brands)
        fam = _FAMILY[b.category]
        if r < 0.40:
            out.append(("smishing", _fill(rng, rng.choice(_templates(_SMISH[fam], part)), b, _bad_url(rng, b))))
        elif r < 0.50:
            tpls = _EN_SERVICE if rng.random() < 1 / 3 else _SERVICE
            out.append(("ham", _fill_service(rng, rng.choice(_templates(tpls, part)))))
        elif r < 0.85:
            out.append(("ham", _fill(rng, rng.choice(_templates(_LEGIT[fam], part)), b, _good_url(rng, b))))
        elif r < 0.95:
            out.append(("ham", _fill(rng, rng.choice(_templates(_PERSONAL, part)), None, "")))
        else:
            out.append(("spam", _fill(rng, rng.choice(_templates(_SPAM, part)), None,
                                      f"https://{_rand_word(rng)}.{rng.choice(_TLDS)}/")))
    return out


TRAIN_SEED = 20251
HELDOUT_SEED = 90210
N_TRAIN_JA = 3000
N_HELDOUT_JA = 2000


def ja_train() -> list[Labelled]:
    hw = [(lab, text) for i, (lab, _, text) in enumerate(handwritten_ja()) if i % 4 != 3]
    return hw + generate_ja(N_TRAIN_JA, TRAIN_SEED, "train")


def ja_heldout() -> list[Labelled]:
    hw = [(lab, text) for i, (lab, _, text) in enumerate(handwritten_ja()) if i % 4 == 3]
    return hw + generate_ja(N_HELDOUT_JA, HELDOUT_SEED, "heldout")
