"""The members' survey dashboard (/survey/, issue 16) over HTTP, against two real rounds of the synthetic DNS world
(the in-process authoritative server behind the fault proxy): the numbers on the pages are compared with what
``mailposture survey report --format json`` prints, the drill-down with the report's own counts, and the security
bar (login, CSRF, limits in the shared store, roles, body-restricted logins, audit, share links) is exercised."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from html.parser import HTMLParser
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailposture.cli import app as cli_app
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import Body, parse_list
from mailposture.survey.rounds import run_round, run_sync
from mailposture.survey.world import build_world
from mailposture.web.members import SharedState, add_member
from mailposture.web.survey_data import SearchIndex, readings
from mailposture.web.survey_pages import DashContext, create_dashboard_app

runner = CliRunner()
SECRET = b"s" * 40
ROUNDS = ("2026-11", "2026-12")
PW = {"alice": "alice-pw-1", "vera@example.jp": "vera-pw-2", "bob": "bob-pw-3"}


async def _two_rounds(cat: Catalog, n: int) -> list[Body]:
    from mailposture.dns.engine import Engine
    from mailposture.dns.server import FaultyProxy, LocalDnsServer

    world = build_world(n, 4242)
    lst = parse_list(world.csv_text().encode(), "world")
    async with LocalDnsServer(world.served_zone(), origins=world.origins()) as server, \
            FaultyProxy(server.address, servfail=world.fault_rule(2)) as proxy, \
            Engine([proxy.address], timeout=1.5, retries=1, concurrency=100) as engine:
        for name in ROUNDS:
            await run_round(cat, lst, name, engine, resolvers=[proxy.address], concurrency=50, lang="ja",
                            synthetic=True)
    return lst.bodies


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("dash")
    data = base / "data"
    bodies = run_sync(_two_rounds(Catalog(data), 90))
    users = base / "members"
    add_member(users, "alice", PW["alice"], "admin")
    add_member(users, "vera@example.jp", PW["vera@example.jp"], "viewer")
    add_member(users, "bob", PW["bob"], "viewer", body=bodies[3].domain)
    return {"data": data, "users": users, "store": f"sqlite:///{base / 'dash.sqlite'}", "bodies": bodies}


def make_client(world, **kw) -> TestClient:
    ctx = DashContext.create(world["data"], world["users"], world["store"], SECRET, **kw)
    return TestClient(create_dashboard_app(ctx), follow_redirects=False, client=("127.0.0.1", 50000))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def login(c: TestClient, name: str, password: str | None = None, nxt: str = "/survey/") -> object:
    page = c.get("/survey/login")
    return c.post("/survey/login", data={"csrf": csrf_of(page.text), "username": name,
                                         "password": PW[name] if password is None else password, "next": nxt})


class Cells(HTMLParser):
    """table id -> rows of (row header text, [td data-count/data-total/text])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[dict[str, str]]]]] = {}
        self.cur: str | None = None
        self.row: list | None = None
        self.cell: dict[str, str] | None = None
        self.in_th = False
        self.th = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.cur = a.get("id")
            self.tables[self.cur] = []
        elif tag == "tr" and self.cur:
            self.row, self.th = [], ""
        elif tag == "th" and self.row is not None:
            self.in_th = True
        elif tag == "td" and self.row is not None:
            self.cell = {**a, "text": ""}

    def handle_endtag(self, tag):
        if tag == "th":
            self.in_th = False
        elif tag == "td" and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.row:
                self.tables[self.cur].append((self.th.strip(), self.row))
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data
        elif self.in_th and self.row is not None:
            self.th += data


def cells(html: str) -> dict[str, list[tuple[str, list[dict[str, str]]]]]:
    p = Cells()
    p.feed(html)
    return p.tables


def cli_json(world, *args: str) -> dict:
    r = runner.invoke(cli_app, ["survey", "report", "--data-dir", str(world["data"]), "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


# ------------------------------------------------------------------------------------------------ members CLI

def test_user_add_list_remove_cli(tmp_path):
    f = tmp_path / "members"
    r = runner.invoke(cli_app, ["web", "user", "add", "Ann@Example.JP", "--users", str(f), "--role", "editor",
                                "--password-stdin"], input="secret one\nsecond line ignored\n")
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    line = f.read_text().strip()
    assert line.startswith("ann@example.jp:$argon2id$") and line.endswith(":editor")
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(line.split(":")[1], "secret one")
    r = runner.invoke(cli_app, ["web", "user", "add", "staff", "--users", str(f), "--role", "viewer", "--body",
                                "012025", "--password-stdin"], input="pw\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["web", "user", "list", "--users", str(f)])
    assert r.stdout.splitlines() == ["ann@example.jp\teditor\t-", "staff\tviewer\t012025"]
    r = runner.invoke(cli_app, ["web", "user", "add", "x", "--users", str(f), "--role", "boss", "--password-stdin"],
                      input="pw\n")
    assert r.exit_code == 2 and "--role must be one of viewer, editor, admin" in r.output
    r = runner.invoke(cli_app, ["web", "user", "remove", "ANN@example.jp", "--users", str(f)])
    assert r.exit_code == 0
    assert runner.invoke(cli_app, ["web", "user", "list", "--users", str(f)]).stdout.splitlines() == \
        ["staff\tviewer\t012025"]
    r = runner.invoke(cli_app, ["web", "user", "remove", "nobody", "--users", str(f)])
    assert r.exit_code == 2 and "no member named" in r.output


def test_serve_quick_start_refuses_bad_setup(tmp_path):
    r = runner.invoke(cli_app, ["web", "serve", "--data-dir", str(tmp_path / "nope"), "--users", "x"])
    assert r.exit_code == 2 and "no such directory" in r.output
    r = runner.invoke(cli_app, ["web", "serve", "--data-dir", str(tmp_path), "--users", str(tmp_path / "m")])
    assert r.exit_code == 2 and "no such file" in r.output
    (tmp_path / "m").write_text("")
    r = runner.invoke(cli_app, ["web", "serve", "--data-dir", str(tmp_path), "--users", str(tmp_path / "m"),
                                "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "loopback" in r.output


# ------------------------------------------------------------------------------------------------------ login

def test_every_page_needs_a_login(world):
    c = make_client(world)
    for path in ("/survey/", f"/survey/r/{ROUNDS[1]}?by=region", f"/survey/r/{ROUNDS[1]}/download/xlsx",
                 f"/survey/r/{ROUNDS[1]}/bodies-sheet/csv", f"/survey/r/{ROUNDS[1]}/chart.svg",
                 f"/survey/r/{ROUNDS[1]}/body/{world['bodies'][0].domain}", "/survey/trend", "/survey/search?q=a"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/survey/login?next="), path
    page = c.get("/survey/login")
    assert page.status_code == 200
    form = re.search(r'<form method="post" action="/survey/login".*?</form>', page.text, re.S)[0]
    assert 'type="hidden" name="csrf"' in form and 'name="username"' in form and 'name="password"' in form
    h = page.headers
    assert "default-src 'none'" in h["content-security-policy"] and h["x-frame-options"] == "DENY"
    assert h["cache-control"] == "no-store" and h["x-content-type-options"] == "nosniff"


# Who may use each route of the dashboard: "member" any login (a body login too), "staff" not a body login,
# "editor" / "admin" that role or higher and not a body login, "share" a share link (no login), "public" the login.
# A route added without an entry here fails the test below, so every page's checks are stated once.
ACCESS = {
    ("GET", "/survey"): "member", ("GET", "/survey/"): "member",
    ("GET", "/survey/login"): "public", ("POST", "/survey/login"): "public",
    ("POST", "/survey/logout"): "member",
    ("GET", "/survey/r/{name}"): "staff", ("GET", "/survey/r/{name}/chart.svg"): "staff",
    ("GET", "/survey/r/{name}/download/{fmt}"): "staff", ("GET", "/survey/r/{name}/bodies"): "staff",
    ("GET", "/survey/r/{name}/bodies-sheet/{fmt}"): "member", ("GET", "/survey/r/{name}/body/{key:path}"): "member",
    ("GET", "/survey/search"): "staff", ("GET", "/survey/trend"): "staff",
    ("GET", "/survey/trend/chart.svg"): "staff", ("GET", "/survey/diff"): "staff",
    ("GET", "/survey/run"): "editor", ("POST", "/survey/run"): "editor", ("GET", "/survey/jobs/{job_id}"): "editor",
    ("GET", "/survey/lists"): "editor", ("POST", "/survey/lists"): "editor",
    ("GET", "/survey/admin"): "admin", ("POST", "/survey/r/{name}/share"): "admin",
    ("POST", "/survey/shares/revoke"): "admin",
    ("GET", "/survey/share/{token}"): "share", ("GET", "/survey/share/{token}/chart.svg"): "share",
}
LEVEL = {"member": 0, "staff": 1, "editor": 2, "admin": 3}


def test_every_route_checks_login_role_and_csrf(world):
    """Each route, as anonymous, a body login (bob), a viewer (vera) and an admin (alice): the login form, 403,
    or the page; every POST also refuses a missing CSRF token (403) from a member allowed to post it."""
    from mailposture.web import survey_pages

    routes = {(m, survey_pages.PREFIX + r.path) for rt in survey_pages.ROUTERS for r in rt.routes for m in r.methods
              if m != "HEAD"}
    assert routes == set(ACCESS), routes ^ set(ACCESS)
    own = world["bodies"][3].domain      # bob's body
    fill = {"{name}": ROUNDS[1], "{fmt}": "csv", "{key:path}": own, "{job_id}": "1", "{token}": "no-such-link"}
    clients = {"anon": make_client(world)}
    for who_, name in (("body", "bob"), ("viewer", "vera@example.jp"), ("admin", "alice")):
        clients[who_] = make_client(world)
        assert login(clients[who_], name).status_code == 303
    may = {"body": lambda need: need == "member", "viewer": lambda need: LEVEL[need] <= 1,
           "admin": lambda need: True}
    checked = 0
    for (method, path), need in sorted(ACCESS.items()):
        if need == "public":
            continue
        url = path
        for k, v in fill.items():
            url = url.replace(k, v)
        for who_, c in clients.items():
            r = c.request(method, url, data={"csrf": "forged"} if method == "POST" else None)
            if need == "share":   # no login needed, and an unknown link is not found for everybody
                assert r.status_code == 404, (who_, method, url, r.status_code)
            elif who_ == "anon":
                assert r.status_code == 303 and r.headers["location"].startswith("/survey/login"), (method, url)
            elif not may[who_](need):
                assert r.status_code == 403, (who_, method, url, r.status_code)
            elif method == "POST":   # allowed to post here, but not without the session's token
                assert r.status_code == 403 and "csrf" not in r.headers.get("location", ""), (who_, method, url)
            else:
                assert r.status_code not in (303, 403), (who_, method, url, r.status_code)
            checked += 1
    assert checked == 4 * (len(ACCESS) - 2)


def test_login_csrf_password_and_next(world):
    c = make_client(world)
    c.get("/survey/login")
    r = c.post("/survey/login", data={"csrf": "forged", "username": "alice", "password": PW["alice"]})
    assert r.status_code == 403
    assert login(c, "alice", "wrong").status_code == 401
    r = login(c, "alice", nxt=f"/survey/r/{ROUNDS[1]}?by=region")
    assert r.status_code == 303 and r.headers["location"] == f"/survey/r/{ROUNDS[1]}?by=region"
    assert login(make_client(world), "alice", nxt="https://evil.example/").headers["location"] == "/survey/"
    page = c.get("/survey/")
    assert page.status_code == 200 and "alice (admin)" in page.text
    # log out needs the session's CSRF token
    assert c.post("/survey/logout", data={"csrf": "x"}).status_code == 403
    r = c.post("/survey/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert c.get("/survey/").status_code == 303


def test_sessions_and_limits_are_shared_between_processes(world, tmp_path):
    """Two app instances (two server processes) on one store: a login made on one is valid on the other, and the
    failures counted on one block the account on the other."""
    store = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    w = {**world, "store": store}
    a, b = make_client(w), make_client(w)
    assert login(a, "alice").status_code == 303
    b.cookies.update(a.cookies)
    assert b.get("/survey/").status_code == 200
    for _ in range(5):
        assert login(a, "vera@example.jp", "nope").status_code == 401
    r = login(b, "vera@example.jp")          # the right password, on the other process
    assert r.status_code == 429 and "15" in r.text
    assert SharedState(store, SECRET).count_sessions() == 1


def test_removed_member_loses_the_session(world, tmp_path):
    users = tmp_path / "m"
    add_member(users, "tmp", "tmp-pw", "viewer")
    c = make_client({**world, "users": users})
    PW["tmp"] = "tmp-pw"
    assert login(c, "tmp").status_code == 303
    assert c.get("/survey/").status_code == 200
    from mailposture.web.members import remove_member

    remove_member(users, "tmp")
    assert c.get("/survey/").status_code == 303


# ------------------------------------------------------------------------------------------------ the numbers

def test_region_table_equals_the_report_json(world):
    c = make_client(world)
    login(c, "vera@example.jp")
    rep = cli_json(world, "--round", ROUNDS[1], "--by", "region", "--lang", "ja")
    page = c.get(f"/survey/r/{ROUNDS[1]}?by=region&lang=ja")
    assert page.status_code == 200
    head = cells(page.text)["table-headline"]
    want = [(g["label"], g["spf"], g["dmarc"], g["total"]) for g in rep["groups"]] + \
        [("全国", rep["overall"]["spf"], rep["overall"]["dmarc"], rep["overall"]["total"])]
    assert len(head) == len(want) == len(rep["groups"]) + 1 >= 3
    for (label, tds), (wl, spf, dmarc, total) in zip(head, want, strict=True):
        assert label == wl
        assert tds[0]["text"] == f"{spf['rate']:.1f} ({spf['count']}/{total})"
        assert tds[1]["text"] == f"{dmarc['rate']:.1f} ({dmarc['count']}/{total})"
    pol = cells(page.text)["table-policy"]
    for (_, tds), g in zip(pol, rep["groups"], strict=False):
        assert [int(td["data-count"]) for td in tds[1:]] == [g["policy"][p]["count"] for p in
                                                              ("none", "quarantine", "reject")]
    # the chart is the report's SVG, drawn from the same numbers
    svg = c.get(f"/survey/r/{ROUNDS[1]}/chart.svg?by=region&lang=ja")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    assert rep["groups"][0]["label"] in svg.text


def test_downloads_are_the_cli_files_and_audited(world, tmp_path):
    c = make_client(world)
    login(c, "vera@example.jp")
    r = c.get(f"/survey/r/{ROUNDS[1]}/download/json?by=region&lang=en")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert json.loads(r.content) == cli_json(world, "--round", ROUNDS[1], "--by", "region", "--lang", "en")
    r = c.get(f"/survey/r/{ROUNDS[1]}/download/xlsx?by=region&lang=ja")
    out = tmp_path / "cli.xlsx"
    res = runner.invoke(cli_app, ["survey", "report", "--data-dir", str(world["data"]), "--round", ROUNDS[1],
                                  "--by", "region", "--format", "xlsx", "--lang", "ja", "-o", str(out)])
    assert res.exit_code == 0, res.output
    from openpyxl import load_workbook

    web = load_workbook(io.BytesIO(r.content))
    cli = load_workbook(out)
    assert web.sheetnames == cli.sheetnames and len(web.sheetnames) >= 2
    for name in cli.sheetnames:
        assert [[x.value for x in row] for row in web[name].iter_rows()] == \
            [[x.value for x in row] for row in cli[name].iter_rows()]
    assert c.get(f"/survey/r/{ROUNDS[1]}/download/png").content[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.get(f"/survey/r/{ROUNDS[1]}/download/exe").status_code == 404
    log = SharedState(world["store"], SECRET).audit_log()
    downloads = [e for e in log if e["action"] == "download" and e["username"] == "vera@example.jp"]
    assert any(f"{ROUNDS[1]} by=region xlsx" in e["detail"] for e in downloads)
    assert all(e["ip"] == "127.0.0.1" for e in downloads)


def test_bad_grouping_is_a_clear_error(world):
    c = make_client(world)
    login(c, "vera@example.jp")
    r = c.get(f"/survey/r/{ROUNDS[1]}?by=nosuch")
    assert r.status_code == 400 and "by=nosuch" in r.text
    assert c.get("/survey/r/..%2Fetc").status_code == 404
    assert c.get("/survey/r/nosuch").status_code == 404


# ------------------------------------------------------------------------------------------------ drill-down

def test_drill_down_group_filter_equals_report(world):
    c = make_client(world)
    login(c, "vera@example.jp")
    rep = cli_json(world, "--round", ROUNDS[1], "--by", "region", "--lang", "ja")
    page = c.get(f"/survey/r/{ROUNDS[1]}?by=region&lang=ja")
    g = max(rep["groups"], key=lambda g: g["policy"]["none"]["count"])
    assert g["policy"]["none"]["count"] > 0
    assert f'/bodies?column=region&amp;value={__import__("urllib.parse").parse.quote(g["group"])}' in page.text
    r = c.get(f"/survey/r/{ROUNDS[1]}/bodies", params={"column": "region", "value": g["group"], "lang": "ja"})
    rows = cells(r.text)["bodies"]
    assert len(rows) == g["total"]
    assert all(tds[0]["text"] == g["group"] for _, tds in rows)
    r = c.get(f"/survey/r/{ROUNDS[1]}/bodies", params={"column": "region", "value": g["group"], "policy": "none"})
    rows = cells(r.text)["bodies"]
    assert len(rows) == g["policy"]["none"]["count"]
    assert {tds[5]["text"] for _, tds in rows} == {"none"}
    # sorting by domain, descending
    r = c.get(f"/survey/r/{ROUNDS[1]}/bodies", params={"sort": "domain", "dir": "desc"})
    doms = [tds[2]["text"] for _, tds in cells(r.text)["bodies"]]
    assert doms == sorted(doms, reverse=True) and len(doms) == rep["overall"]["total"]
    assert c.get(f"/survey/r/{ROUNDS[1]}/bodies?policy=bogus").status_code == 400


def test_body_page_findings_fix_raw_answers_history(world):
    from mailposture.survey.rounds import load_results

    c = make_client(world)
    login(c, "vera@example.jp")
    cat = Catalog(world["data"])
    results = load_results(cat, cat.require(ROUNDS[1]))
    body = next(b for b in world["bodies"] if any(f.get("fix") for f in
                (results.get(b.domain) or {}).get("spf", {}).get("findings", [])))
    code = next(f["code"] for f in results[body.domain]["spf"]["findings"] if f.get("fix"))
    from mailposture.findings import CATALOG

    r = c.get(f"/survey/r/{ROUNDS[1]}/body/{body.domain}?lang=en")
    assert r.status_code == 200
    assert code in r.text and CATALOG[code].fix_en.split("'")[0][:30] in r.text.replace("&#39;", "'")
    r = c.get(f"/survey/r/{ROUNDS[1]}/body/{body.domain}?lang=ja")
    assert CATALOG[code].fix_ja[:15] in r.text.replace("&#39;", "'")
    answers = results[body.domain]["dns"]["answers"]
    raw = cells(r.text)["raw-1"]          # the primary domain's answers, one row per stored answer
    assert [(h, tds[0]["text"], tds[1]["text"]) for h, tds in raw] == \
        [(a["name"], a["type"], a["status"]) for a in answers]
    hist = cells(r.text)["history"]
    assert [h for h, _ in hist] == list(ROUNDS)


def test_search_kana_kanji_romaji_and_domain():
    bodies = [Body(0, "city.example.test", [], {"name": "八戸市", "region": "東北"}),
              Body(1, "town.other.test", [], {"name": "仙台市", "region": "東北"})]
    idx = SearchIndex(bodies)
    for q in ("八戸", "はちのへ", "ハチノヘ", "hachinohe", "Hachinohe", "hatinohe", "ﾊﾁﾉﾍ", "city.example"):
        assert [b.index for b in idx.find(q)] == [0], q
    assert [b.index for b in idx.find("sendai")] == [1]
    assert idx.find("osaka") == []
    assert "toukyou" in readings("東京") and any("tokyo" == r for r in readings("とうきょう"))


def test_search_page(world):
    c = make_client(world)
    login(c, "vera@example.jp")
    b = world["bodies"][5]
    kana = sorted(r for r in readings(b.attrs["name"]) if not r.isascii())
    r = c.get("/survey/search", params={"q": b.attrs["name"]})
    assert b.domain in r.text
    r = c.get("/survey/search", params={"q": b.domain.upper()})
    assert b.domain in r.text
    assert kana, "the name has a kana reading"


# ---------------------------------------------------------------------------------------- roles, body logins

def test_body_restricted_login_sees_its_body_only(world):
    c = make_client(world)
    mine, other = world["bodies"][3], world["bodies"][4]
    assert login(c, "bob").status_code == 303
    home = c.get("/survey/")
    assert f"/survey/r/{ROUNDS[1]}/body/{mine.domain}" in home.text
    assert c.get(f"/survey/r/{ROUNDS[1]}/body/{mine.domain}").status_code == 200
    for path in (f"/survey/r/{ROUNDS[1]}/body/{other.domain}", f"/survey/r/{ROUNDS[1]}?by=region",
                 f"/survey/r/{ROUNDS[1]}/bodies", f"/survey/r/{ROUNDS[1]}/download/xlsx", "/survey/search?q=a",
                 "/survey/trend", "/survey/diff", "/survey/admin"):
        assert c.get(path).status_code == 403, path
    sheet = c.get(f"/survey/r/{ROUNDS[1]}/bodies-sheet/json")
    rows = json.loads(sheet.content)["rows"]
    assert [r["domain"] for r in rows] == [mine.domain]


def test_share_link_make_use_revoke(world):
    admin = make_client(world)
    login(admin, "alice")
    page = admin.get(f"/survey/r/{ROUNDS[1]}")
    viewer = make_client(world)
    login(viewer, "vera@example.jp")
    vpage = viewer.get(f"/survey/r/{ROUNDS[1]}")
    assert viewer.post(f"/survey/r/{ROUNDS[1]}/share", data={"csrf": csrf_of(vpage.text)}).status_code == 403
    assert admin.post(f"/survey/r/{ROUNDS[1]}/share", data={"csrf": "bad"}).status_code == 403
    r = admin.post(f"/survey/r/{ROUNDS[1]}/share", data={"csrf": csrf_of(page.text)})
    link = re.search(r'id="share-link">(/survey/share/[^<]+)<', r.text)[1]
    anon = make_client(world)
    shared = anon.get(link + "?by=region")
    assert shared.status_code == 200 and "table-headline" in shared.text and "/bodies?" not in shared.text
    assert anon.get(link + "/chart.svg").status_code == 200
    assert anon.get(link + "?by=name").status_code == 400               # no per-body rows through a share link
    assert anon.get(link + "/chart.svg?by=name").status_code == 400
    assert anon.get(f"/survey/r/{ROUNDS[1]}").status_code == 303        # the link opens nothing else
    adm = admin.get("/survey/admin")
    h = re.search(r'name="token_hash" value="([0-9a-f]{64})"', adm.text)[1]
    assert link.rsplit("/", 1)[1] not in adm.text                         # the token itself is never shown again
    assert admin.post("/survey/shares/revoke", data={"csrf": csrf_of(adm.text), "token_hash": h}).status_code == 200
    assert anon.get(link).status_code == 404
    assert "share" in {e["action"] for e in SharedState(world["store"], SECRET).audit_log()}


def test_trend_diff_and_language_switch(world):
    c = make_client(world)
    login(c, "vera@example.jp")
    r = c.get("/survey/trend?by=region&lang=en")
    assert r.status_code == 200 and all(x in r.text for x in ROUNDS)
    assert c.cookies.get("mp_lang") == "en"
    assert "/survey/trend/chart.svg?metric=dmarc&amp;by=region&amp;lang=en" in r.text
    svg = c.get("/survey/trend/chart.svg?metric=dmarc&by=region&lang=en")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert all(x in svg.text for x in ROUNDS)
    assert c.get("/survey/trend/chart.svg?metric=nope").status_code == 400
    r = c.get("/survey/diff")            # the latest two complete rounds
    assert r.status_code == 200 and f"{ROUNDS[0]} → {ROUNDS[1]}" in r.text and "Compare" in r.text
    r = c.get("/survey/diff?lang=ja")
    assert "2 回の比較" in r.text and 'lang="ja"' in r.text
    assert c.get("/survey/diff?a=nope&b=2026-12").status_code == 400


def test_mounted_beside_the_guard_pages(world, tmp_path):
    """With a guard config the dashboard is one more router of the guard's app: both logins work, separately."""
    from mailposture.guard.store import Store
    from mailposture.web.app import create_app
    from mailposture.web.survey_pages import install
    from test_web_common import make_cfg

    cfg = make_cfg(tmp_path)
    app = create_app(cfg, Store(cfg.store_url))
    install(app, DashContext.create(world["data"], world["users"], f"sqlite:///{tmp_path / 'd.sqlite'}", SECRET))
    c = TestClient(app, follow_redirects=False)
    assert c.get("/abroad/login").status_code == 200
    assert login(c, "alice").status_code == 303
    page = c.get(f"/survey/r/{ROUNDS[1]}?by=region")
    assert page.status_code == 200 and "table-headline" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert c.get("/admin").status_code in (302, 303, 307)      # the survey login opens no guard page


def test_shared_state_sessions_expire_and_store_only_hashes(tmp_path):
    import sqlalchemy as sa

    now = [1_000_000.0]
    st = SharedState(f"sqlite:///{tmp_path / 's.sqlite'}", SECRET, lambda: now[0], idle=900, absolute=3600)
    s = st.login("alice")
    cookie = st.cookie_value(s)
    assert st.get(cookie).username == "alice"
    assert st.get(cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None      # a forged signature
    with st.engine.connect() as c:
        stored = [tuple(r) for r in c.execute(sa.text("SELECT * FROM dash_sessions"))]
    assert stored and all(s.sid not in str(row) for row in stored)
    now[0] += 899
    assert st.get(cookie) is not None          # used within the idle time: kept
    now[0] += 901
    assert st.get(cookie) is None              # idle too long
    s = st.login("alice")
    cookie = st.cookie_value(s)
    for _ in range(4):
        now[0] += 800
        assert st.get(cookie) is not None      # 3200 s after login, never idle for long
    now[0] += 800                              # 4000 s after login: past the absolute lifetime (3600 s)
    assert st.get(cookie) is None
    anon = st.anon()
    assert st.get(st.cookie_value(anon)).csrf == anon.csrf
    now[0] += 1801
    assert st.get(st.cookie_value(anon)) is None


def test_drill_down_pages(world, tmp_path):
    from mailposture.web import survey_bodies

    c = make_client(world)
    login(c, "vera@example.jp")
    old = survey_bodies.PAGE
    survey_bodies.PAGE = 25
    try:
        r = c.get(f"/survey/r/{ROUNDS[1]}/bodies?sort=domain")
        first = [tds[2]["text"] for _, tds in cells(r.text)["bodies"]]
        assert len(first) == 25 and 'rel="next"' in r.text and 'rel="prev"' not in r.text
        r2 = c.get(f"/survey/r/{ROUNDS[1]}/bodies?sort=domain&page=2")
        second = [tds[2]["text"] for _, tds in cells(r2.text)["bodies"]]
        assert len(second) == 25 and first[-1] < second[0] and 'rel="prev"' in r2.text
        last = c.get(f"/survey/r/{ROUNDS[1]}/bodies?sort=domain&page=999")
        assert len(cells(last.text)["bodies"]) == 90 - 75 and 'rel="next"' not in last.text
    finally:
        survey_bodies.PAGE = old


def test_every_table_of_the_report_matches_its_json(world):
    """Each table the report command has (adoption, and the content survey's where installed): the page's last
    row (overall) shows the JSON's numbers; the download in json is the CLI's."""
    from mailposture.web.survey_data import table_names

    c = make_client(world)
    login(c, "vera@example.jp")
    for table in table_names():
        if table == "adoption":
            continue          # compared cell by cell in test_region_table_equals_the_report_json
        rep = cli_json(world, "--round", ROUNDS[1], "--by", "region", "--table", table, "--lang", "en")
        page = c.get(f"/survey/r/{ROUNDS[1]}", params={"by": "region", "table": table, "lang": "en"})
        assert page.status_code == 200, table
        rows = cells(page.text)[f"table-{table}"]
        assert len(rows) == len(rep["groups"]) + 1
        last = rows[-1][1]
        o = rep["overall"]
        assert int(last[0]["text"]) == o["total"]
        assert [td["text"] for td in last[1:]] == [f"{r['pct']} ({r['count']}/{o['total']})" for r in o["rows"]]
        dl = c.get(f"/survey/r/{ROUNDS[1]}/download/json", params={"by": "region", "table": table, "lang": "en"})
        assert json.loads(dl.content) == rep
    assert c.get(f"/survey/r/{ROUNDS[1]}?table=nosuch").status_code == 400


def test_content_cells_drill_down_to_exactly_their_bodies(world):
    """'Bodies in a region with p=none' and 'bodies with a given mistake' are links from the content tables' cells:
    the bodies page lists exactly as many bodies as the cell counts."""
    from mailposture.web.survey_data import table_names

    if "dmarc-policy" not in table_names():
        pytest.skip("the content survey (issue 11) is not installed")
    c = make_client(world)
    login(c, "vera@example.jp")
    rep = cli_json(world, "--round", ROUNDS[1], "--by", "region", "--table", "dmarc-policy", "--lang", "ja")
    g, row = max(((g, r) for g in rep["groups"] for r in g["rows"] if r["key"] == "none"),
                 key=lambda gr: gr[1]["count"])
    assert row["count"] > 0
    page = c.get(f"/survey/r/{ROUNDS[1]}", params={"by": "region", "table": "dmarc-policy"})
    region = g["group"]["region"]
    href = re.search(r'href="(/survey/r/[^"]*?/bodies\?column=region&amp;value=REGION&amp;table=dmarc-policy'
                     r'&amp;key=none[^"]*)"', page.text.replace(quote_plus(region), "REGION")).group(1)
    r = c.get(href.replace("&amp;", "&").replace("REGION", quote_plus(region)))
    rows = cells(r.text)["bodies"]
    assert len(rows) == row["count"] and {tds[0]["text"] for _, tds in rows} == {region}
    # a mistake, over all bodies
    mis = cli_json(world, "--round", ROUNDS[1], "--table", "mistakes", "--lang", "en")
    top = max(mis["overall"]["rows"], key=lambda r: r["count"])
    r = c.get(f"/survey/r/{ROUNDS[1]}/bodies", params={"table": "mistakes", "key": top["key"]})
    assert len(cells(r.text)["bodies"]) == top["count"] > 0
    assert c.get(f"/survey/r/{ROUNDS[1]}/bodies", params={"table": "nosuch", "key": "x"}).status_code == 400
