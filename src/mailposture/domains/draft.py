"""Report e-mails to abuse desks, one per registrar, in Japanese or English.

The content follows what registrars' abuse desks ask for in the M3AAWG and ICANN DNS-abuse practice papers:
who reports, which domains, what kind of abuse (spam; the DNS set-up that enables it), evidence a desk can
verify itself (names seen with times, the DNS query and answer of the wildcard SPF proof), and the action
asked for. Nothing is sent: the drafts are text for a person to review.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_T = {
    "en": {
        "subject": "Abuse report: {n} domain(s) used for spam with rotating random subdomains and wildcard SPF",
        "hello": "Dear {registrar} abuse team,",
        "intro": ("We report domains registered through you that send spam from random, single-use subdomains. "
                  "Each subdomain is used once or a few times, so block lists keyed on the full name never catch "
                  "up, and a wildcard SPF record authorizes mail from any name the sender invents."),
        "domain": "Domain", "registered": "Registered", "labels": "Distinct subdomains seen",
        "examples": "Examples", "seen": "First / last seen", "proof": "DNS proof (any resolver shows it)",
        "query": "Query", "answer": "Answer", "verdict": "Our assessment", "ns": "Name servers",
        "ask": ("We ask you to investigate these domains under your registrar agreement's abuse provisions "
                "(ICANN RAA §3.18) and to suspend them if the abuse is confirmed."),
        "contact": "Reporter: {reporter}",
        "none": "(none)",
    },
    "ja": {
        "subject": "不正利用の報告: ランダムなサブドメインとワイルドカード SPF で迷惑メールを送る {n} ドメイン",
        "hello": "{registrar} 不正利用窓口 ご担当者様",
        "intro": ("貴社を通じて登録されたドメインが、使い捨てのランダムなサブドメインから迷惑メールを送信しています。"
                  "サブドメインは 1 回ないし数回しか使われないため、完全一致のブロックリストでは防げず、"
                  "ワイルドカードの SPF レコードが送信者の作るあらゆる名前からの送信を許可しています。"),
        "domain": "ドメイン", "registered": "登録日", "labels": "観測したサブドメインの種類数",
        "examples": "例", "seen": "初観測 / 最終観測", "proof": "DNS による証拠 (どのリゾルバでも確認できます)",
        "query": "問い合わせ", "answer": "応答", "verdict": "当方の判定", "ns": "ネームサーバ",
        "ask": ("登録事業者としての不正利用対応 (ICANN RAA §3.18 等) に基づき調査いただき、"
                "不正利用が確認された場合は利用停止をお願いいたします。"),
        "contact": "報告者: {reporter}",
        "none": "(なし)",
    },
}


def group_by_registrar(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        reg = (rec.get("registration") or {}).get("registrar") or {}
        groups[reg.get("name") or "unknown registrar"].append(rec)
    return dict(sorted(groups.items()))


def draft(registrar: str, records: list[dict[str, Any]], lang: str, reporter: str) -> dict[str, str]:
    t = _T["ja" if lang == "ja" else "en"]
    abuse = next(((r.get("registration") or {}).get("abuse") or {} for r in records
                  if (r.get("registration") or {}).get("abuse")), {})
    lines = [t["hello"].format(registrar=registrar), "", t["intro"], ""]
    for rec in records:
        ev = rec.get("evidence") or {}
        regn = rec.get("registration") or {}
        labels = ev.get("labels") or {}
        spf = ev.get("spf") or {}
        lines += [f"{t['domain']}: {rec['domain']}",
                  f"  {t['registered']}: {regn.get('registered') or t['none']}",
                  f"  {t['ns']}: {', '.join(regn.get('nameservers') or []) or t['none']}"]
        if ev:
            lines += [f"  {t['verdict']}: {ev.get('verdict')} ({ev.get('score')})",
                      f"  {t['labels']}: {labels.get('distinct')}",
                      f"  {t['examples']}: {', '.join(labels.get('examples') or []) or t['none']}",
                      f"  {t['seen']}: {ev.get('first_seen') or '-'} / {ev.get('last_seen') or '-'}"]
            if spf.get("wildcard"):
                lines += [f"  {t['proof']}:",
                          f"    {t['query']}: {spf.get('probe')} IN TXT",
                          f"    {t['answer']}: \"{spf.get('record')}\""]
        lines.append("")
    lines += [t["ask"], "", t["contact"].format(reporter=reporter)]
    return {"registrar": registrar, "to": abuse.get("email") or "", "subject": t["subject"].format(n=len(records)),
            "body": "\n".join(lines) + "\n"}
