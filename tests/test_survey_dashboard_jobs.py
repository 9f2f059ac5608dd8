"""Starting a survey round from the dashboard (issue 16): the background worker runs the round against the synthetic
DNS world served on 127.0.0.1, the job page shows its progress, a job whose server died is resumed by another
worker (and a live one is left alone), and the monthly schedule names its round."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from mailposture.survey.catalog import Catalog
from mailposture.survey.world import build_world
from mailposture.web.members import add_member
from mailposture.web.survey_jobs import JOBS, JobRunner, due_round
from mailposture.web.survey_pages import DashContext, create_dashboard_app
from test_survey_cli import _ServerThread


def _setup(tmp_path, srv_address):
    from mailposture.dns.engine import Engine

    data = tmp_path / "data"
    (data / "lists").mkdir(parents=True)
    world = build_world(40, seed=77)
    (data / "lists" / "fict.csv").write_text(world.csv_text(), encoding="utf-8")
    users = tmp_path / "members"
    add_member(users, "ed", "ed-pw", "editor")
    add_member(users, "vi", "vi-pw", "viewer")
    ctx = DashContext.create(data, users, f"sqlite:///{tmp_path / 's.sqlite'}", b"k" * 40,
                             engine_factory=lambda: Engine([srv_address], timeout=0.5, retries=0), retry_delay=0)
    return world, data, ctx


def _login(c, name, pw):
    page = c.get("/survey/login")
    tok = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    assert c.post("/survey/login", data={"csrf": tok, "username": name, "password": pw}).status_code == 303


def test_start_a_round_from_the_page(tmp_path):
    world = build_world(40, seed=77)
    with _ServerThread(world.served_zone(), world.origins()) as srv:
        world, data, ctx = _setup(tmp_path, srv.address)
        c = TestClient(create_dashboard_app(ctx), follow_redirects=False)
        _login(c, "vi", "vi-pw")
        assert c.get("/survey/run").status_code == 403
        c = TestClient(create_dashboard_app(ctx), follow_redirects=False)
        _login(c, "ed", "ed-pw")
        page = c.get("/survey/run")
        assert page.status_code == 200 and "<option>fict.csv</option>" in page.text
        tok = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
        assert c.post("/survey/run", data={"csrf": "x", "round": "r1", "list": "fict.csv"}).status_code == 403
        bad = c.post("/survey/run", data={"csrf": tok, "round": "r1", "list": "../../etc/passwd"})
        assert bad.status_code == 400 and "is not one of the bundled lists" in bad.text
        r = c.post("/survey/run", data={"csrf": tok, "round": "r1", "list": "fict.csv"})
        assert r.status_code == 303
        job_url = r.headers["location"]
        queued = c.get(job_url)
        assert 'data-status="queued"' in queued.text and 'http-equiv="refresh"' in queued.text
        assert ctx.jobs.tick() is True
        done = c.get(job_url)
        assert 'data-status="complete"' in done.text and 'http-equiv="refresh"' not in done.text
        m = re.search(r"\((\d+)/(\d+)\)", done.text)
        assert m and m[1] == m[2] and int(m[2]) > 0
        info = Catalog(data).require("r1")
        assert info.status == "complete" and info.bodies == 40
        assert c.get("/survey/r/r1").status_code == 200
        # the same name again is refused with a clear message
        again = c.post("/survey/run", data={"csrf": tok, "round": "r1", "list": "fict.csv"})
        assert again.status_code == 400 and "already exists" in again.text
        log = ctx.state.audit_log()
        assert any(e["action"] == "start-round" and e["username"] == "ed" and "r1" in e["detail"] for e in log)


def test_a_dead_servers_job_is_resumed_a_live_one_is_not(tmp_path):
    world = build_world(40, seed=77)
    with _ServerThread(world.served_zone(), world.origins()) as srv:
        world, data, ctx = _setup(tmp_path, srv.address)
        jobs = ctx.jobs
        now = time.time()
        with ctx.state.engine.begin() as c:
            for rnd, updated in (("dead", now - 300), ("alive", now - 1)):
                c.execute(sa.insert(JOBS).values(round=rnd, list_spec="fict.csv", status="running",
                                                 started_by="ed", owner="gone", created=now - 400,
                                                 updated=updated, phase="pass 1 / 1 回目", done=3, total=40,
                                                 message=""))
        other = JobRunner(ctx.state, data, jobs.engine_factory, retry_delay=0)
        assert other.tick() is True
        assert other.tick() is False          # "alive" still beats: not taken
        by_round = {j["round"]: j for j in other.jobs()}
        assert by_round["dead"]["status"] == "complete" and by_round["dead"]["owner"] == other.owner
        assert by_round["alive"]["status"] == "running" and by_round["alive"]["owner"] == "gone"
        assert Catalog(data).require("dead").status == "complete"


def test_monthly_schedule_names_the_jst_month():
    assert due_round("monthly", datetime(2026, 11, 30, 15, 30, tzinfo=UTC)) == "2026-12"   # 00:30 JST on Dec 1
    assert due_round("monthly", datetime(2026, 11, 30, 14, 59, tzinfo=UTC)) == "2026-11"
    assert due_round(None, datetime(2026, 11, 30, tzinfo=UTC)) is None


def test_dashboard_config_is_checked(tmp_path):
    import pytest

    from mailposture.web.dashboard_cli import load_dashboard_config

    p = tmp_path / "dashboard.toml"
    assert load_dashboard_config(p) == {}
    p.write_text('schedule = "monthly"\nschedule_list = "jp-localgov"\nnameservers = ["127.0.0.1:5353"]\n')
    assert load_dashboard_config(p)["schedule"] == "monthly"
    for text, msg in (('schedule = "weekly"\nschedule_list = "x"\n', "schedule must be"),
                      ('schedule = "monthly"\n', "needs schedule_list"),
                      ('colour = "red"\n', "unknown setting 'colour'"),
                      ("nameservers = 1\n", "nameservers must be a list"),
                      ("schedule = \n", "dashboard.toml")):
        p.write_text(text)
        with pytest.raises(ValueError, match=msg):
            load_dashboard_config(p)


def test_editors_edit_lists(tmp_path):
    _, data, ctx = _setup(tmp_path, "127.0.0.1:9")
    c = TestClient(create_dashboard_app(ctx), follow_redirects=False)
    _login(c, "vi", "vi-pw")
    assert c.get("/survey/lists").status_code == 403
    c = TestClient(create_dashboard_app(ctx), follow_redirects=False)
    _login(c, "ed", "ed-pw")
    page = c.get("/survey/lists")
    assert "fict.csv" in page.text
    tok = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    bad = c.post("/survey/lists", data={"csrf": tok, "name": "mine", "text": "name,domain\nA市,a.example\nB市,not a domain\n"})
    assert bad.status_code == 400 and "line 3" in bad.text and not (data / "lists" / "mine.csv").exists()
    assert c.post("/survey/lists", data={"csrf": tok, "name": "../x", "text": "domain\na.example\n"}).status_code == 400
    assert c.post("/survey/lists", data={"csrf": "no", "name": "mine", "text": "domain\na.example\n"}).status_code == 403
    ok = c.post("/survey/lists", data={"csrf": tok, "name": "mine", "text": "name,domain\r\nA市,a.example\r\n"})
    assert ok.status_code == 303
    assert (data / "lists" / "mine.csv").read_text(encoding="utf-8") == "name,domain\nA市,a.example\n"
    assert "<option>mine.csv</option>" in c.get("/survey/run").text
    assert "A市,a.example" in c.get("/survey/lists?file=mine.csv").text
    assert c.get("/survey/lists?file=../members").status_code == 404
    assert any(e["action"] == "edit-list" and "mine.csv 1 bodies" in e["detail"] for e in ctx.state.audit_log())
