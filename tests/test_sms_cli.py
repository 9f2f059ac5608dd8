"""`mailposture sms check` and `sms campaigns` through typer's CliRunner: input formats, order, exit codes,
reports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app

SMISH = "【日本郵便】お荷物の配達ができませんでした。保管期限が過ぎると返送されます http://jppost-ji.com/{n}"
SMISH2 = "【日本郵便】住所不備のため荷物を保管しております。24時間以内に更新してください https://jppost-ji.com/q{n}"
GENUINE = "【ヤマト運輸】本日ご不在のためお荷物を持ち帰りました。再配達は https://www.kuronekoyamato.co.jp/ から"
SPAM = "【当選のお知らせ】{n}万円が当選しました。受け取りはこちら http://prize-get{n}.xyz/"


def run(*args: str, input: str | None = None):
    return CliRunner(env={"LC_ALL": "C.UTF-8"}).invoke(app, ["sms", *args], input=input)


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_one_message_as_argument_json_and_text() -> None:
    r = run("check", "--format", "json", "--lang", "en", SMISH.format(n=1))
    assert r.exit_code == 0, r.output
    (obj,) = lines(r.stdout)
    assert list(obj) == ["text", "verdict", "score", "reasons", "urls", "campaign"]
    assert obj["verdict"] == "smishing" and obj["urls"][0]["lookalike_of"] == "japanpost"
    t = run("check", "--lang", "ja", SMISH.format(n=1))
    assert t.exit_code == 0 and t.stdout.startswith("smishing") and "SMS_LOOKALIKE_KEYWORD" in t.stdout
    assert "日本郵便" in t.stdout


def test_text_file_one_message_a_line_in_input_order(tmp_path: Path) -> None:
    msgs = [SMISH.format(n=1), GENUINE, "", SPAM.format(n=3), "Ok lar... Joking wif u oni... 😀"]
    f = tmp_path / "msgs.txt"
    f.write_text("\n".join(msgs) + "\n", encoding="utf-8")
    r = run("check", str(f), "--format", "json")
    assert r.exit_code == 0, r.output
    got = lines(r.stdout)
    assert [o["text"] for o in got] == [m for m in msgs if m]
    assert [o["verdict"] for o in got] == ["smishing", "ham", "spam", "ham"]


def test_stdin(tmp_path: Path) -> None:
    r = run("check", "-", "--format", "json", input=GENUINE + "\n" + SMISH.format(n=2) + "\n")
    assert r.exit_code == 0, r.output
    assert [o["verdict"] for o in lines(r.stdout)] == ["ham", "smishing"]


def test_csv_with_sender_and_time(tmp_path: Path) -> None:
    f = tmp_path / "in.csv"
    with f.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["received_at", "sender", "text"])
        w.writerow(["2025-06-01T10:00:00+09:00", "090-1234-5678",
                    "【三井住友カード】カードのご利用を制限しました。\nhttps://verify-card.com/"])
        w.writerow(["2025-06-01T11:00:00+09:00", "", GENUINE])
    r = run("check", str(f), "--format", "json")
    assert r.exit_code == 0, r.output
    a, b = lines(r.stdout)
    assert "SMS_SENDER_PHONE" in [x["code"] for x in a["reasons"]] and b["verdict"] == "ham"
    assert "\n" in a["text"]


def test_jsonl_and_bad_records(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join([json.dumps({"text": SMISH.format(n=1)}, ensure_ascii=False), "{not json",
                            json.dumps({"body": "x"}), json.dumps({"text": GENUINE, "sender": "Yamato"},
                                                                  ensure_ascii=False)]) + "\n", encoding="utf-8")
    r = run("check", str(f), "--format", "json")
    assert r.exit_code == 2
    assert [o["verdict"] for o in lines(r.stdout)] == ["smishing", "ham"]  # the good ones are kept
    assert "line 2" in r.stderr and "line 3" in r.stderr


def test_input_format_forced_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "msgs.data"
    f.write_text(json.dumps({"text": SPAM.format(n=1)}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = run("check", str(f), "--input-format", "jsonl", "--format", "json")
    assert r.exit_code == 0 and lines(r.stdout)[0]["verdict"] == "spam"
    bad = tmp_path / "no_text.csv"
    bad.write_text("body,sender\nhello,x\n", encoding="utf-8")
    r = run("check", str(bad), "--lang", "en")
    assert r.exit_code == 2 and "text" in r.stderr and "Traceback" not in r.output
    r = run("check", "  ", "--lang", "en")
    assert r.exit_code == 2 and "empty" in r.stderr
    r = run("check", "x", "--input-format", "xml")
    assert r.exit_code == 2 and "--input-format" in r.stderr
    r = run("check", str(tmp_path / "missing.csv"), "--input-format", "csv", "--lang", "en")
    assert r.exit_code == 2 and "no such file" in r.stderr
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    r = run("check", str(latin), "--lang", "en")
    assert r.exit_code == 2 and "not UTF-8" in r.stderr


def test_long_and_hostile_lines_are_judged(tmp_path: Path) -> None:
    f = tmp_path / "odd.txt"
    f.write_text("a." * 200_000 + "\n" + "\x00\x1b[31m hxxp://[.][.] ::: http:// \n" + "😀" * 5000 + "\n",
                 encoding="utf-8")
    r = run("check", str(f), "--format", "json")
    assert r.exit_code == 0, r.output
    got = lines(r.stdout)
    assert len(got) == 3 and len(got[0]["text"]) == 400_000   # the text is kept whole in the output


def _campaign_file(tmp_path: Path) -> Path:
    rows = []
    for i in range(6):
        rows.append({"text": SMISH.format(n=i), "received_at": f"2025-06-0{1 + i % 3}T09:00:00+09:00",
                     "sender": f"0901111000{i}"})
    for i in range(3):   # another wording on the same domain: the same campaign
        rows.append({"text": SMISH2.format(n=i), "received_at": "2025-06-04T09:00:00+09:00"})
    for i in range(4):
        rows.append({"text": SPAM.format(n=i), "received_at": "2025-06-02T12:00:00+09:00"})
    rows.append({"text": GENUINE, "received_at": "2025-06-02T12:00:00+09:00"})
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return f


def test_campaigns_group_by_template_and_domain(tmp_path: Path) -> None:
    f = _campaign_file(tmp_path)
    r = run("campaigns", str(f), "--format", "json")
    assert r.exit_code == 0, r.output
    camps = lines(r.stdout)
    first = camps[0]
    assert first["messages"] == 9 and first["templates"] == 2 and first["verdicts"] == {"smishing": 9}
    assert first["brands"] == ["japanpost"] and first["domains"] == {"jppost-ji.com": 9}
    assert first["by_day"] == {"2025-06-01": 2, "2025-06-02": 2, "2025-06-03": 2, "2025-06-04": 3}
    assert first["first_seen"].startswith("2025-06-01") and first["last_seen"].startswith("2025-06-04")
    # each prize message has its own domain but one template
    assert camps[1]["messages"] == 4 and camps[1]["templates"] == 1 and len(camps[1]["domains"]) == 4
    assert len(camps) == 2   # the genuine notice is no campaign
    # `check` gives each message its template key; the campaign's id is the commonest one
    chk = lines(run("check", str(f), "--format", "json").stdout)
    assert first["campaign"] == chk[0]["campaign"]


@pytest.mark.parametrize("ext", ["md", "html", "xlsx"])
def test_campaign_reports(tmp_path: Path, ext: str) -> None:
    f = _campaign_file(tmp_path)
    out = tmp_path / f"report.{ext}"
    r = run("campaigns", str(f), "--report", str(out), "--lang", "ja")
    assert r.exit_code == 0, r.output
    assert "キャンペーン" in r.stdout
    if ext == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(out.read_bytes()))
        assert wb.sheetnames == ["概要", "キャンペーン", "ブランド", "ドメイン", "日別件数"]
        ws = wb["ドメイン"]
        assert ws.cell(row=2, column=1).value == "jppost-ji.com" and ws.cell(row=2, column=2).value == 9
        assert ws.cell(row=2, column=3).value == "japanpost"
    else:
        body = out.read_text(encoding="utf-8")
        assert "jppost-ji.com" in body and "日本郵便" in body
        if ext == "html":
            assert body.count("<svg") == 3 and "<script" not in body.lower()


def test_campaigns_bad_report_name(tmp_path: Path) -> None:
    r = run("campaigns", str(_campaign_file(tmp_path)), "--report", str(tmp_path / "r.pdf"), "--lang", "en")
    assert r.exit_code == 2 and ".md, .html or .xlsx" in r.stderr
