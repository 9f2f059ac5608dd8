"""Examples at the end of every command's ``--help``, and the tidying of the help screens, in one place.

:data:`EXAMPLES` maps a command path (``"survey run"``, ``"guard user show"``; ``""`` is ``mailposture`` itself)
to two or three real command lines, each with a one-line bilingual note. :func:`apply_help` walks the Typer
application after every area registered its commands (``mailposture.cli``) and gives each command its examples
(the epilog) and a command class that tidies the help screen (:class:`HelpCommand`, :class:`HelpGroup`):

* help texts are shown as written: ``[addr]:port`` is text, not Rich markup;
* a flag shows no value type (Typer would show ``<bool>``), a repeatable option shows ``<str>...`` instead of
  ``<list[str]>``.

A new command needs only an entry here: ``tests/test_cli_help.py`` walks the command tree and fails for a
command without examples (or with examples for a command that does not exist).
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand, TyperGroup

# command path -> ((command line, "English note / 日本語の説明"), ...)
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (
        ("mailposture check example.jp", "check one domain / ドメインを 1 つ検査"),
        ("mailposture demo --out demo", "a whole survey on a fictitious world / 架空のデータで調査を一通り体験"),
        ("mailposture COMMAND --help", "each command's options and examples / 各コマンドの説明と例"),
    ),
    "check": (
        ("mailposture check example.jp", "every section, what to fix / 全項目を検査し修正点を表示"),
        ("mailposture check --core --lang en example.jp example.com",
         "SPF, DMARC and MX only, in English / SPF・DMARC・MX のみ、英語で"),
        ("mailposture check --format json -n 192.0.2.53 example.jp",
         "JSON through a chosen resolver / 指定したリゾルバを使い JSON で出力"),
    ),
    "findings": (
        ("mailposture findings", "every finding code / 指摘コードの一覧"),
        ("mailposture findings SPF_", "the SPF codes / SPF の指摘コード"),
        ("mailposture findings --format doc > docs/findings.md", "regenerate docs/findings.md / 一覧文書の再生成"),
    ),
    "message": (
        ("mailposture message check saved.eml", "verify one received message / 受信メッセージを 1 通検証"),
        ("mailposture message check inbox.mbox --mbox 3 --format json", "the third message of an mbox, as JSON / "
         "mbox の 3 通目を JSON で"),
    ),
    "message check": (
        ("mailposture message check saved.eml --trusted-hosts mx1.example.jp",
         "SPF identities from your MX's Received field / 自社 MX の Received から SPF の識別子を取得"),
        ("mailposture message check saved.eml --ip 192.0.2.1 --helo mail.example.com --mail-from a@example.com",
         "SPF for a given client / 接続元を指定して SPF を評価"),
        ("mailposture message check saved.eml --ar-header mx1.example.jp --format json",
         "JSON and an Authentication-Results field / JSON と Authentication-Results ヘッダ"),
    ),
    "domains": (
        ("mailposture domains hunt /var/log/maillog --only-flagged", "spam domains in a mail log / "
         "メールログから迷惑メール送信ドメインを検出"),
        ("mailposture domains abuse spam.example --draft ja", "who to tell, and the report / 通報先と報告文"),
    ),
    "domains hunt": (
        ("mailposture domains hunt /var/log/maillog --only-flagged", "flagged domains of a Postfix log / "
         "Postfix ログから検出したドメインのみ"),
        ("mailposture domains hunt names.csv --window 24h --format json", "a CSV of names with times, JSON Lines / "
         "時刻つき CSV を JSON Lines で"),
        ("mailposture domains hunt names.txt --no-dns", "labels only, no DNS queries / DNS を引かずラベルのみで判定"),
    ),
    "domains abuse": (
        ("mailposture domains abuse spam.example", "registrar, abuse contact, DNS operator, hosting / "
         "登録事業者・通報先・DNS 事業者・ホスティング"),
        ("mailposture domains abuse spam.example --evidence flagged.jsonl --draft ja --reporter 'WG <wg@example.jp>'",
         "a report e-mail per registrar / 登録事業者ごとの報告メール"),
    ),
    "sms": (
        ('mailposture sms check "【佐川急便】お荷物をお届けに上がりましたが不在の為持ち帰りました。http://sagawa-xx.top"',
         "one message / メッセージを 1 件判定"),
        ("mailposture sms campaigns collected.csv --report campaigns.html", "group into campaigns / キャンペーンに分類"),
    ),
    "sms check": (
        ('mailposture sms check "Your parcel is waiting: hxxp://bit[.]ly/x" --format json',
         "one message, JSON / 1 件を JSON で"),
        ("mailposture sms check messages.txt --format json > verdicts.jsonl", "one message a line / 1 行 1 件"),
        ("mailposture sms check collected.csv --resolve -n 127.0.0.1", "follow shortened links / 短縮 URL を辿る"),
    ),
    "sms campaigns": (
        ("mailposture sms campaigns collected.csv", "campaigns as a table / キャンペーンの一覧"),
        ("mailposture sms campaigns collected.jsonl --report campaigns.xlsx", "and a report / 報告書も作成"),
    ),
    "scan": (
        ("mailposture scan domains.txt -o results.jsonl", "one domain a line, JSON Lines out / 1 行 1 ドメイン"),
        ("mailposture scan list.csv --column site -o results.csv --checks all",
         "a CSV's 'site' column, every check / CSV の site 列を全項目で調査"),
        ("mailposture scan domains.txt -o results.jsonl --resume",
         "continue an interrupted scan / 中断した調査を続きから"),
    ),
    "demo": (
        ("mailposture demo", "400 fictitious bodies, report in ./mailposture-demo / 架空の 400 団体で調査"),
        ("mailposture demo --bodies 2000 --out demo --lang en", "a larger demo in English / 規模を大きく英語で"),
    ),
    "spf": (
        ('mailposture spf parse "v=spf1 mx -all"', "check a record's syntax / レコードの構文を検査"),
        ("mailposture spf eval example.jp --ip 192.0.2.1", "what a receiver decides / 受信側の判定を再現"),
    ),
    "spf parse": (
        ('mailposture spf parse "v=spf1 include:_spf.example.jp -all"', "one record / レコードを 1 つ検査"),
        ("mailposture spf parse --file records.txt --format json", "one record a line / 1 行 1 レコードのファイル"),
        ("dig +short TXT example.jp | mailposture spf parse -", "from standard input / 標準入力から"),
    ),
    "spf eval": (
        ("mailposture spf eval example.jp --ip 192.0.2.1", "check_host() for this client / この送信元で評価"),
        ("mailposture spf eval example.jp --ip 2001:db8::25 --sender info@example.jp --format json",
         "IPv6 client and sender, JSON / IPv6 と送信者を指定して JSON で"),
    ),
    "dmarc": (
        ('mailposture dmarc parse "v=DMARC1; p=reject; rua=mailto:d@example.jp"', "check a record / レコードを検査"),
        ("mailposture check example.jp", "the published record, with its policy / 公開中のレコードを含め検査"),
    ),
    "dmarc parse": (
        ('mailposture dmarc parse "v=DMARC1; p=quarantine; pct=50"', "one record / レコードを 1 つ検査"),
        ("mailposture dmarc parse --file records.txt --format json", "one record a line / 1 行 1 レコードのファイル"),
        ("dig +short TXT _dmarc.example.jp | mailposture dmarc parse -", "from standard input / 標準入力から"),
    ),
    "lists": (
        ("mailposture lists", "the bundled lists / 同梱のリスト一覧"),
        ("mailposture lists show jp-localgov --limit 20", "the first rows of one / 先頭 20 行を表示"),
    ),
    "lists show": (
        ("mailposture lists show jp-localgov --limit 20", "the first 20 bodies / 先頭 20 団体"),
        ("mailposture lists show my-list.csv", "check your own CSV before a round / 自前の CSV を事前確認"),
        ("mailposture lists show jp-localgov --format csv > localgov.csv", "export as CSV / CSV で書き出し"),
    ),
    "survey": (
        ("mailposture survey run jp-localgov --round 2026-12", "scan a list as a round / 調査回を実施"),
        ("mailposture survey report --by region --format html", "adoption by region / 地方別の普及率"),
    ),
    "survey run": (
        ("mailposture survey run jp-localgov --round 2026-12", "the bundled list of local governments / 同梱リスト"),
        ("mailposture survey run my-list.csv --round 2026-12 --workers 2",
         "your own CSV, two processes / 自前の CSV を 2 プロセスで"),
        ("mailposture survey run jp-localgov --round 2026-12", "run again: resumes where it stopped / 再実行で再開"),
    ),
    "survey recompute": (
        ("mailposture survey recompute --round 2026-12", "apply the current rules to the stored answers / 再集計"),
        ("mailposture survey recompute --round 2026-06 --lang en", "an older round, in English / 過去の調査回を英語で"),
    ),
    "survey report": (
        ("mailposture survey report --by region", "Markdown tables on standard output / 地方別の表"),
        ("mailposture survey report --by prefecture --format xlsx -o report.xlsx", "Excel / 都道府県別に Excel で"),
        ("mailposture survey report --format html --round 2026-12", "one round as a web page / HTML で"),
    ),
    "survey trend": (
        ("mailposture survey trend --by region", "adoption across rounds / 調査回ごとの推移"),
        ("mailposture survey trend --format png --metric dmarc -o dmarc.png", "a line chart / 推移のグラフ"),
    ),
    "survey diff": (
        ("mailposture survey diff 2026-06 2026-12", "what changed between two rounds / 2 回の調査の差分"),
        ("mailposture survey diff 2026-06 2026-12 --format csv > changes.csv", "as CSV / CSV で"),
    ),
    "survey rounds": (
        ("mailposture survey rounds", "the rounds kept in ./mailposture-data / 保存済みの調査回"),
        ("mailposture survey rounds --data-dir /srv/survey", "another data directory / 別の保存先"),
    ),
    "guard": (
        ("mailposture guard serve -c /etc/mailposture/guard.toml", "the policy server / ポリシーサーバを起動"),
        ("mailposture guard user show alice -c /etc/mailposture/guard.toml", "one user's state / 利用者の状態"),
    ),
    "guard serve": (
        ("mailposture guard serve -c /etc/mailposture/guard.toml", "as configured / 設定ファイルのとおりに"),
        ("mailposture guard serve -c guard.toml -l 127.0.0.1:10040 -l unix:/run/guard.sock",
         "two listeners / 2 か所で待ち受け"),
    ),
    "guard status": (
        ("mailposture guard status -c /etc/mailposture/guard.toml", "store, geo data and counts / 状態の表示"),
        ("mailposture guard status -c guard.toml --json", "for monitoring / 監視用に JSON で"),
    ),
    "guard check": (
        ("mailposture guard check alice 203.0.113.7 -c guard.toml", "would this login be allowed? / 判定を試す"),
        ("mailposture guard check alice 2001:db8::7 --client-name mail.example.jp -c guard.toml",
         "IPv6 client with its host name / IPv6 とホスト名で"),
    ),
    "guard user": (
        ("mailposture guard user show alice -c guard.toml", "one user's state / 利用者の状態"),
        ("mailposture guard user allow-abroad alice --days 14 -c guard.toml --by admin",
         "allow a trip abroad / 海外出張を許可"),
    ),
    "guard user show": (
        ("mailposture guard user show alice -c guard.toml", "state and recent refusals / 状態と直近の拒否"),
        ("mailposture guard user show alice -c guard.toml --json --refusals 50", "as JSON / JSON で"),
    ),
    "guard user allow-abroad": (
        ("mailposture guard user allow-abroad alice --days 14 -c guard.toml --by admin",
         "14 days from now / 今日から 14 日間"),
        ("mailposture guard user allow-abroad bob --always -c guard.toml --by admin",
         "no end date / 期限なしで許可"),
    ),
    "guard user restrict": (
        ("mailposture guard user restrict alice -c guard.toml --by admin", "domestic only again / 国内のみに戻す"),
        ("mailposture guard user restrict alice -c guard.toml --by admin --no-notify", "without mail / 通知なし"),
    ),
    "guard user unlock": (
        ("mailposture guard user unlock alice -c guard.toml --by admin", "lift a lock / ロックを解除"),
        ("mailposture guard user unlock alice -c guard.toml --by admin --json", "as JSON / JSON で"),
    ),
    "guard user lock": (
        ('mailposture guard user lock alice --note "password leaked" -c guard.toml --by admin',
         "stop all submission / 送信を止める"),
        ("mailposture guard user lock alice -c guard.toml --by admin --no-notify", "without mail / 通知なし"),
    ),
    "guard user contact": (
        ("mailposture guard user contact alice@example.jp alice.home@example.net -c guard.toml",
         "notices and confirmation links also to this address / 通知と確認リンクの送り先を追加"),
        ("mailposture guard user contact alice@example.jp --remove -c guard.toml", "remove it / 代替連絡先を削除"),
    ),
    "guard user totp-reset": (
        ("mailposture guard user totp-reset alice@example.jp -c guard.toml",
         "a lost phone: the owner enrols again from home / 端末紛失時に認証アプリを解除"),
        ("mailposture guard user totp-reset alice@example.jp --store sqlite:///var/lib/mailposture/guard.db",
         "the same on a given store / ストアを指定して"),
    ),
    "guard audit": (
        ("mailposture guard audit prune --older-than 400 -c guard.toml", "keep about a year / 約 1 年分を残す"),
        ("mailposture guard audit prune --older-than 90 --store sqlite:///var/lib/mailposture/guard.db",
         "keep 90 days of a given store / 指定したストアで 90 日分を残す"),
    ),
    "guard audit prune": (
        ("mailposture guard audit prune --older-than 400 -c guard.toml", "keep about a year / 約 1 年分を残す"),
        ("mailposture guard audit prune --older-than 30 -c guard.toml", "keep a month / 1 か月分を残す"),
    ),
    "guard analyze": (
        ("mailposture guard analyze '/var/log/maillog*' -o study.xlsx -f xlsx",
         "the study before rollout: who submits from where, who would be refused / 導入前の調査"),
        ("mailposture guard analyze /var/log/mail.log /var/log/mail.log.1.gz -c guard.toml -f json",
         "with your allow-list and home countries, as JSON / 設定の許可リストで JSON 出力"),
    ),
    "guard watch": (
        ("mailposture guard watch /var/log/maillog -c guard.toml --dry-run", "report only, lock nothing / "
         "検出の報告のみ"),
        ("mailposture guard watch /var/log/maillog -c guard.toml --act", "lock compromised accounts and mail the "
         "owner / 不正利用のアカウントをロックして通知"),
    ),
    "guard dnsbl": (
        ("mailposture guard dnsbl check 192.0.2.10 198.51.100.0/28", "your outbound addresses now / 送信元 IP を確認"),
        ("mailposture guard dnsbl status -c guard.toml", "current listings from the store / 現在の掲載状況"),
    ),
    "guard dnsbl check": (
        ("mailposture guard dnsbl check 192.0.2.10", "one address on the default lists / 既定のリストで 1 アドレス"),
        ("mailposture guard dnsbl check 198.51.100.0/28 -c guard.toml", "a range, history kept in the store / "
         "範囲を確認し履歴を保存"),
    ),
    "guard dnsbl status": (
        ("mailposture guard dnsbl status -c guard.toml", "current listings / 現在の掲載状況"),
        ("mailposture guard dnsbl status --store sqlite:///var/lib/mailposture/guard.db",
         "from a given store / ストアを指定して"),
    ),
    "guard dnsbl watch": (
        ("mailposture guard dnsbl watch -c guard.toml", "check again every interval, mail changes / 定期確認と通知"),
        ("mailposture guard dnsbl watch -c guard.toml --interval 3600 --rounds 24", "hourly for a day / "
         "1 時間ごとに 1 日"),
    ),
    "guard user list": (
        ("mailposture guard user list -c guard.toml", "every user with a state / 状態のある利用者"),
        ("mailposture guard user list --state restricted -c guard.toml --json", "one state, JSON / 状態で絞り込み"),
    ),
    "guard allowlist": (
        ("mailposture guard allowlist list -c guard.toml", "the entries / 許可リストの表示"),
        ('mailposture guard allowlist add 192.0.2.0/24 --note "branch office" -c guard.toml',
         "allow a network / ネットワークを許可"),
    ),
    "guard allowlist add": (
        ('mailposture guard allowlist add 192.0.2.0/24 --note "branch office" -c guard.toml', "a network / 拠点"),
        ("mailposture guard allowlist add mail.example.jp -c guard.toml", "a verified host-name suffix / ホスト名"),
    ),
    "guard allowlist remove": (
        ("mailposture guard allowlist remove 192.0.2.0/24 -c guard.toml", "a network / ネットワークを削除"),
        ("mailposture guard allowlist remove mail.example.jp -c guard.toml", "a host-name suffix / ホスト名を削除"),
    ),
    "guard allowlist list": (
        ("mailposture guard allowlist list -c guard.toml", "as a table / 表で"),
        ("mailposture guard allowlist list -c guard.toml --json", "as JSON / JSON で"),
    ),
    "web": (
        ("mailposture web serve -c guard.toml", "the owner's and admin pages / 利用者・管理ページ"),
        ("mailposture web passwd /etc/mailposture/users admin", "an admin password / 管理者パスワード"),
    ),
    "web serve": (
        ("mailposture web serve -c /etc/mailposture/guard.toml", "on 127.0.0.1:8080 / 既定のポートで"),
        ("mailposture web serve -c guard.toml --host 0.0.0.0 --port 8443", "on every interface / 全インタフェースで"),
        ("mailposture web serve --data-dir mailposture-data --users members --port 8080",
         "the survey dashboard /survey/ / 調査ダッシュボード"),
    ),
    "web user": (
        ("mailposture web user add alice@example.jp --users members --role viewer", "a member / 会員の追加"),
        ("mailposture web user list --users members", "who may log in / 会員の一覧"),
    ),
    "web user add": (
        ("mailposture web user add alice@example.jp --users members --role editor", "asks for the password / パスワードを入力"),
        ("printf '%s\\n' \"$PW\" | mailposture web user add staff --users members --body 012025 --password-stdin",
         "one body only, from a script / 1 団体のみ・スクリプトから"),
    ),
    "web user remove": (
        ("mailposture web user remove alice@example.jp --users members", "the member's sessions end / セッションも終了"),
        ("mailposture web user remove staff --users /etc/mailposture/members", "another file / 別のファイル"),
    ),
    "web user list": (
        ("mailposture web user list --users members", "name, role, body / 名前・役割・団体"),
        ("mailposture web user list --users /etc/mailposture/members", "another file / 別のファイル"),
    ),
    "web passwd": (
        ("mailposture web passwd /etc/mailposture/users admin", "asks for the password / パスワードを入力"),
        ("printf '%s\\n' \"$PW\" | mailposture web passwd users admin --password-stdin",
         "from a script / スクリプトから"),
    ),
}

HEADING = "Examples / 例:"


def epilog(path: str) -> str | None:
    """The examples of one command as help text (paragraphs: Typer's help joins single line breaks)."""
    rows = EXAMPLES.get(path)
    if not rows:
        return None
    return "\n\n".join([HEADING, *(f"  $ {cmd}\n\n      {note}" for cmd, note in rows)])


_LIST_TYPE = re.compile(r"^<list\[(.+)\]>$")


def tidy_text(command: Any) -> None:
    """Help texts as plain text: ``[addr]:port`` is not Rich markup."""
    from rich.markup import escape

    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(command, attr, escape(text))
    for p in command.params:
        if getattr(p, "help", None):
            p.help = escape(p.help)


def tidy_type(p: Any) -> Any:
    """No ``<bool>`` for a flag (it takes no value), ``<str>...`` instead of ``<list[str]>``."""
    if getattr(p, "_mp_tidy", False):
        return p
    p._mp_tidy = True
    if getattr(p, "name", None) == "help":
        p.help = "Show this help and exit. / この説明を表示して終了します。"
    if getattr(p, "is_flag", False):
        p.display_type_rich = lambda ctx: None
    elif getattr(p, "multiple", False) or getattr(p, "nargs", 1) != 1:
        original = p.display_type

        def shown(ctx: Any, original: Any = original) -> str:
            text = original(ctx)
            m = _LIST_TYPE.match(text or "")
            return f"<{m.group(1)}>..." if m else text
        p.display_type_rich = shown
    return p


class HelpCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_text(self)

    def get_params(self, ctx: Any) -> list[Any]:   # --help is added here, not in __init__
        return [tidy_type(p) for p in super().get_params(ctx)]


class HelpGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_text(self)

    def get_params(self, ctx: Any) -> list[Any]:
        return [tidy_type(p) for p in super().get_params(ctx)]


def fold_help_tables() -> None:
    """Typer draws the option and command tables of ``--help`` with Rich's default overflow, "ellipsis": a word
    wider than its column (a Japanese sentence has no spaces, ``--domains-concurrency`` in a narrow terminal)
    was cut with "…". Fold such words onto the next line instead, so nothing of the help is lost at any width.
    (Typer's table class is module state of ``typer.rich_utils``; the Typer version is pinned in pyproject.)"""
    import typer.rich_utils as ru
    from rich.table import Table

    if getattr(ru.Table, "_mp_fold", False):
        return

    class FoldTable(Table):
        _mp_fold = True

        def add_row(self, *renderables: Any, **kwargs: Any) -> None:
            super().add_row(*renderables, **kwargs)
            for column in self.columns:
                column.overflow = "fold"

    ru.Table = FoldTable  # type: ignore[misc]

    # An option's help is its text plus "[default: …]", laid out by rich.columns.Columns, which cuts a long word
    # with "…" too: stack them instead (the default then goes on the line below, as it does in a narrow terminal)
    def stacked(items: list[Any]) -> Any:
        from rich.console import Group

        return Group(*items)

    ru.Columns = stacked  # type: ignore[misc,assignment]


def command_name(info: Any) -> str:
    """The name Typer gives a registered command (its own, or the function's with ``_`` as ``-``)."""
    if info.name:
        return str(info.name)
    return info.callback.__name__.lower().replace("_", "-")


def apply_help(app: Any, path: str = "") -> None:
    """Give every command under ``app`` its examples and the tidy help classes (call after registration)."""
    from typer.models import DefaultPlaceholder

    def unset(v: Any) -> bool:
        return v is None or isinstance(v, DefaultPlaceholder)

    def plain(cls: Any) -> bool:          # Typer's own class: ours adds to it (a command's own class is kept)
        return unset(cls) or cls in (TyperCommand, TyperGroup)

    if path == "":
        fold_help_tables()
        if plain(app.info.cls):
            app.info.cls = HelpGroup
        if unset(app.info.epilog):
            app.info.epilog = epilog("")
    for info in app.registered_commands:
        sub = f"{path} {command_name(info)}".strip()
        if plain(info.cls):
            info.cls = HelpCommand
        if unset(info.epilog):
            info.epilog = epilog(sub)
    for group in app.registered_groups:
        name = group.name if not unset(group.name) else group.typer_instance.info.name
        sub = f"{path} {name}".strip()
        if plain(group.cls):
            group.cls = HelpGroup
        if plain(group.typer_instance.info.cls):
            group.typer_instance.info.cls = HelpGroup
        if unset(group.epilog):
            group.epilog = epilog(sub)
        apply_help(group.typer_instance, sub)
