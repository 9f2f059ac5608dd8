"""Japanese and English texts of the web pages, language choice and date formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")
LANGS = ("ja", "en")

TEXT: dict[str, tuple[str, str]] = {
    # key: (ja, en)
    "site": ("国外からのメール送信設定", "Sending mail from abroad"),
    "skip": ("本文へ移動", "Skip to content"),
    "lang_other": ("English", "日本語"),
    "login_title": ("ログイン", "Log in"),
    "admin_login_title": ("管理者ログイン", "Administrator log in"),
    "login_intro": ("メールアドレスとメールのパスワードでログインしてください。",
                    "Log in with your mail address and mail password."),
    "username": ("メールアドレス", "Mail address"),
    "admin_username": ("管理者名", "Administrator name"),
    "password": ("パスワード", "Password"),
    "login_button": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "logged_out": ("ログアウトしました。", "You have logged out."),
    "bad_login": ("メールアドレスまたはパスワードが正しくありません。",
                  "The mail address or password is not correct."),
    "try_later": ("ログインの失敗が続いたため、しばらく受け付けません。15 分ほど後にもう一度お試しください。",
                  "Too many failed log-ins. Please try again in about 15 minutes."),
    "auth_unavailable": ("認証サービスに接続できません。しばらくしてからもう一度お試しください。",
                         "The authentication service cannot be reached. Please try again later."),
    "session_expired": ("セッションの有効期限が切れました。もう一度ログインしてください。",
                        "Your session has expired. Please log in again."),
    "csrf_failed": ("フォームの有効期限が切れたか、不正な送信です。ページを開き直してください。",
                    "The form has expired or was not sent from this site. Please reload the page."),
    "form_error": ("送信された内容を処理できません。", "The form could not be processed."),
    "account": ("アカウント", "Account"),
    "current_state": ("現在の設定", "Current setting"),
    "state_restricted": ("国外からの送信: 停止中", "Sending from abroad: off"),
    "state_abroad_until": ("国外からの送信: 許可中", "Sending from abroad: allowed"),
    "state_abroad_always": ("国外からの送信: 常に許可 (管理者設定)", "Sending from abroad: always allowed (set by the administrator)"),
    "state_locked": ("このアカウントは管理者により停止されています", "This account has been locked by the administrator"),
    "short_restricted": ("停止中", "restricted"),
    "short_abroad_until": ("期間許可", "allowed until"),
    "short_abroad_always": ("常に許可", "always allowed"),
    "short_locked": ("停止 (ロック)", "locked"),
    "restricted_help": ("日本国内からの送信のみ受け付けています。海外へ行かれる場合は、期間を指定して許可してください。",
                        "Mail is accepted only when sent from Japan. If you travel abroad, allow sending for a "
                        "number of days."),
    "locked_help": ("不正利用が疑われるため送信を止めています。サポート窓口へご連絡ください。",
                    "Sending is stopped because of suspected misuse. Please contact support."),
    "until": ("終了日時", "Ends"),
    "allow_title": ("国外からの送信を許可する", "Allow sending from abroad"),
    "days_label": ("許可する日数 (1〜{max} 日)", "Number of days (1–{max})"),
    "allow_button": ("許可する", "Allow"),
    "extend_button": ("期間を変更する", "Change the period"),
    "off_title": ("国外からの送信を停止する", "Switch off sending from abroad"),
    "off_button": ("停止する", "Switch off"),
    "days_error": ("日数は 1 から {max} までの整数で指定してください。",
                   "The number of days must be a whole number from 1 to {max}."),
    "done_allowed": ("国外からの送信を {until} まで許可しました。確認のメールをお送りしました。",
                     "Sending from abroad is allowed until {until}. A confirmation mail is on its way."),
    "done_off": ("国外からの送信を停止しました。確認のメールをお送りしました。",
                 "Sending from abroad is switched off. A confirmation mail is on its way."),
    "done_off_already": ("国外からの送信はすでに停止しています。", "Sending from abroad is already switched off."),
    "locked_no_change": ("ロック中のため変更できません。", "The account is locked; it cannot be changed here."),
    "refusals_title": ("最近拒否された送信", "Recently refused attempts"),
    "refusals_none": ("拒否された送信はありません。", "No refused attempts."),
    "time": ("日時", "Time"),
    "country": ("国", "Country"),
    "ip": ("IP アドレス", "IP address"),
    "reason": ("理由", "Reason"),
    "unknown": ("不明", "unknown"),
    "notice_footer": ("設定を変更するたびに、このメールアドレス宛てに通知メールをお送りします。",
                      "Each change sends a notice mail to this address."),
    # admin
    "admin_title": ("管理", "Administration"),
    "lookup_title": ("利用者の検索", "Look up a user"),
    "lookup_button": ("表示", "Show"),
    "users_title": ("制限を解除している利用者", "Users not restricted"),
    "users_none": ("該当する利用者はいません。", "None."),
    "state": ("状態", "State"),
    "updated": ("更新", "Updated"),
    "by": ("変更者", "By"),
    "note": ("メモ", "Note"),
    "actions": ("操作", "Actions"),
    "allow_always_button": ("常に許可", "Always allow"),
    "restrict_button": ("制限に戻す", "Restrict"),
    "lock_button": ("ロックする", "Lock"),
    "unlock_button": ("ロック解除", "Unlock"),
    "admin_done": ("{user} を更新しました: {state}", "Updated {user}: {state}"),
    "allowlist_title": ("許可リスト (CIDR またはホスト名の末尾)", "Allow-list (CIDR or host-name suffix)"),
    "allowlist_none": ("許可リストは空です。", "The allow-list is empty."),
    "entry": ("エントリ", "Entry"),
    "add_button": ("追加", "Add"),
    "remove_button": ("削除", "Remove"),
    "entry_error": ("CIDR (例 192.0.2.0/24) またはホスト名の末尾 (例 .google.com) を指定してください。",
                    "Give a CIDR (e.g. 192.0.2.0/24) or a host-name suffix (e.g. .google.com)."),
    "entry_added": ("{entry} を追加しました。", "Added {entry}."),
    "entry_removed": ("{entry} を削除しました。", "Removed {entry}."),
    "entry_missing": ("{entry} は登録されていません。", "{entry} is not in the list."),
    "user_error": ("利用者名が正しくありません。", "That user name is not valid."),
    "stats_country": ("国別の拒否件数 (30 日間)", "Refusals per country (30 days)"),
    "stats_day": ("日別の拒否件数 (30 日間)", "Refusals per day (30 days)"),
    "count": ("件数", "Count"),
    "day": ("日付", "Day"),
    "no_data": ("データはありません。", "No data."),
    "geo_title": ("国判定データ", "IP-to-country data"),
    "geo_source": ("データ源", "Source"),
    "geo_date": ("データの日付", "Data date"),
    "geo_kind": ("種類", "Kind"),
    "geo_kind_iptocc": ("RIR の割り当てデータ (オフライン、パッケージに同梱)", "RIR delegation data (offline, inside the wheel)"),
    "geo_version": ("版", "Version"),
    "geo_path": ("ファイル", "File"),
    "geo_error": ("エラー", "Error"),
    "store_error": ("設定を保存できませんでした。しばらくしてからもう一度お試しください。",
                    "The setting could not be saved. Please try again later."),
    "not_found": ("ページが見つかりません。", "Page not found."),
    # issue 17: the setting may be switched on only from home, with an optional second factor
    "change_abroad_title": ("国外からは許可できません", "This cannot be allowed from abroad"),
    "change_abroad": ("国外からの送信の許可 (期間の延長を含む) は、日本国内からのみ設定できます。"
                      "このページには国外のアドレス {ip} ({country}) から接続されています。"
                      "海外へ行かれる前に、日本国内で設定してください。停止はどこからでもできます。"
                      "この操作は記録され、登録されたアドレスへ通知されました。",
                      "Sending from abroad can be allowed (or extended) only from Japan. This page was opened "
                      "from an address outside Japan, {ip} ({country}). Please make the setting before you "
                      "leave. Switching it off works from anywhere. This attempt has been recorded and a "
                      "notice sent to the registered addresses."),
    "abroad_hint": ("国外からの送信の許可は、日本国内からのみ設定できます (出発前に設定してください)。",
                    "Sending from abroad can be allowed only from Japan: set it before you leave."),
    "code_label": ("確認コード (認証アプリの 6 桁)", "Confirmation code (6 digits from your authenticator app)"),
    "code_wrong": ("確認コードが正しくありません。この操作は記録され、通知されました。",
                   "The confirmation code is not correct. This attempt has been recorded and notified."),
    "code_try_later": ("確認コードの誤りが続いたため、15 分ほど受け付けません。",
                       "Too many wrong confirmation codes. Please try again in about 15 minutes."),
    "totp_title": ("認証アプリ (2 段階認証)", "Authenticator app (second factor)"),
    "totp_enrolled": ("認証アプリは登録済みです。変更や再登録は管理者にご依頼ください。",
                      "An authenticator app is registered. Ask the administrator to reset it."),
    "totp_needed": ("国外からの送信を許可するには、先に認証アプリを登録してください。",
                    "Register an authenticator app first: allowing sending from abroad needs its code."),
    "totp_home_only": ("認証アプリの登録は日本国内からのみできます。", "An authenticator app can be registered only from Japan."),
    "totp_setup": ("認証アプリ (Google Authenticator など) に次のキーを登録し、表示された 6 桁のコードを入力してください。",
                   "Add this key to an authenticator app (Google Authenticator or similar), then enter the "
                   "6-digit code it shows."),
    "totp_key": ("キー", "Key"),
    "totp_button": ("登録する", "Register"),
    "totp_done": ("認証アプリを登録しました。", "The authenticator app is registered."),
    "totp_bad": ("コードが正しくありません。もう一度お試しください。", "The code is not correct. Please try again."),
    "contact_needed": ("この操作には、管理者が登録した連絡先での確認が必要ですが、連絡先が登録されていません。管理者にご連絡ください。",
                       "This change must be confirmed at a contact address registered by the administrator, and "
                       "none is registered. Please contact the administrator."),
    "contact_sent": ("確認のリンクを {contact} へ送りました。30 分以内にリンクを開いて確定してください。",
                     "A confirmation link has been sent to {contact}. Open it within 30 minutes to confirm."),
    "contact_hint": ("許可は、管理者が登録した連絡先へ送る確認リンクで確定します。",
                     "The change is confirmed with a link sent to the contact address registered by the administrator."),
    "confirm_title": ("国外からの送信の許可を確定", "Confirm: allow sending from abroad"),
    "confirm_text": ("{user} の国外からの送信を {days} 日間許可します。", "Allow {user} to send from abroad for {days} days."),
    "confirm_button": ("確定する", "Confirm"),
    "confirm_invalid": ("このリンクは無効か、期限が切れています。", "This link is not valid or has expired."),
    "alt_contact": ("代替連絡先 (パスワードで開けないアドレス)", "Alternate contact (an address the password does not open)"),
    "contact_button": ("連絡先を保存", "Save contact"),
    "contact_error": ("代替連絡先には、このメールボックス以外のメールアドレスを 1 つ指定してください。",
                      "The alternate contact must be one mail address other than this mailbox."),
    "totp_state": ("認証アプリ", "Authenticator app"),
    "totp_yes": ("登録済み", "registered"),
    "totp_no": ("未登録", "not registered"),
    "totp_reset_button": ("認証アプリの登録を解除", "Remove the authenticator app"),
    "done_contact": ("代替連絡先を更新", "alternate contact updated"),
    "done_totp_reset": ("認証アプリの登録を解除", "authenticator app removed"),
    "what": ("内容", "What"),
    "what_send": ("送信", "sending"),
    "what_change": ("設定変更", "setting change"),
}


def t(key: str, lang: str, **params: object) -> str:
    ja, en = TEXT[key]
    s = ja if lang == "ja" else en
    return s.format(**params) if params else s


def pick_lang(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """?lang= wins, then the remembered cookie, then Accept-Language (q-weighted); Japanese by default."""
    for v in (query, cookie):
        if v in LANGS:
            return v
    best, best_q = "ja", -1.0
    for order, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > best_q or (q == best_q and order == 0):
            best, best_q = primary, q
    return best if best_q > 0 else "ja"


_WD_JA = "月火水木金土日"


def fmt_time(dt: datetime | None, lang: str) -> str:
    """A time for people: JST in Japanese (with the zone shown); JST and UTC in English."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    j = dt.astimezone(JST)
    if lang == "ja":
        return f"{j.year}年{j.month}月{j.day}日({_WD_JA[j.weekday()]}) {j:%H:%M} JST"
    u = dt.astimezone(UTC)
    return f"{j:%a} {j.day} {j:%b %Y, %H:%M} JST ({u:%H:%M} UTC)"


def fmt_short(dt: datetime | None, lang: str) -> str:
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return f"{dt.astimezone(JST):%Y-%m-%d %H:%M} JST"


def fmt_remaining(until: datetime | None, now: datetime, lang: str) -> str:
    """'あと 7 日' / '7 days left' (hours, then minutes, when less than a day is left)."""
    if until is None or until <= now:
        return ""
    secs = (until - now).total_seconds()
    if secs >= 86400:
        n, unit_ja, unit_en = round(secs / 86400), "日", "day"
    elif secs >= 3600:
        n, unit_ja, unit_en = round(secs / 3600), "時間", "hour"
    else:
        n, unit_ja, unit_en = max(1, round(secs / 60)), "分", "minute"
    if lang == "ja":
        return f"あと {n} {unit_ja}"
    return f"{n} {unit_en}{'' if n == 1 else 's'} left"
