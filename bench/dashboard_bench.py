"""Page latency of the survey dashboard (/survey/) for a round of 25,000 domains, and the xlsx download time.

    .venv/bin/python bench/dashboard_bench.py [--domains 25000] [--requests 60] [--runs 3]

A real round of the synthetic world (mailposture.survey.world, 300 bodies, scanned over UDP from the in-process DNS
server) is cloned into a round of ``--domains`` bodies (each clone's domain renamed, its stored result kept), written
the way ``survey run`` writes a round (list.csv, Parquet, catalog). The dashboard then runs under uvicorn on
127.0.0.1 and is asked, over HTTP with a logged-in session, for the region table (``/survey/r/R?by=region``), a
group page (the bodies of one region) and a body page, ``--requests`` times each per run; the first request of a
run after a restart (cold: the round is read from Parquet) is reported apart.

Printed, as medians over ``--runs`` runs: p50/p95 per page, the xlsx download time, and ratios to baselines measured
in the same run: ``/healthz`` (the HTTP stack alone) for the pages, and the report code called directly (build_report
+ render, no HTTP) for the xlsx. Targets (issue 16): p95 < 200 ms per page, xlsx < 5 s on the 2-core machine.
Nothing is asserted: figures are for people to read; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

from mailposture.survey.catalog import Catalog, RoundInfo, now  # noqa: E402
from mailposture.survey.demo import demo_round  # noqa: E402
from mailposture.survey.lists import parse_list  # noqa: E402
from mailposture.survey.rounds import load_results, load_round_list, run_sync  # noqa: E402


def build_big_round(data: Path, n_domains: int) -> str:
    """A complete round of n_domains bodies cloned from a real 300-body round; returns its name."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cat = Catalog(data)
    info, _ = run_sync(demo_round(cat, 300, 2017, lang="ja"))
    lst = load_round_list(cat, info)
    results = load_results(cat, info)
    base = [b for b in lst.bodies if not b.mail_domains and b.domain in results]
    rows, doms, texts = [], [], []
    i = 0
    while len(rows) < n_domains:
        b = base[i % len(base)]
        k = i // len(base)
        dom = b.domain if k == 0 else f"c{k}.{b.domain}"
        rows.append({**b.attrs, "name": f"{b.attrs.get('name', '')}{k or ''}", "domain": dom, "mail_domains": ""})
        text = json.dumps(results[b.domain], ensure_ascii=False)
        doms.append(dom)
        texts.append(text.replace(f'"{b.domain}"', f'"{dom}"') if k else text)
        i += 1
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    big = parse_list(buf.getvalue().encode(), "bench-clone")
    name = "big"
    rdir = cat.round_dir(name)
    gdir = cat.gen_dir(name, 0)
    gdir.mkdir(parents=True, exist_ok=True)
    (rdir / "list.csv").write_text(big.text, encoding="utf-8")
    pq.write_table(pa.table({"domain": doms, "result": texts}), gdir / "pass1.parquet")
    t = now()
    cat.upsert(RoundInfo(name=name, list_name=big.name, list_sha256=big.sha256, bodies=len(big.bodies),
                         domains=len(doms), status="complete", phase="done", started=t, finished=t,
                         resolvers=["bench clone"], synthetic=True, notes="{}"))
    return name


class Server:
    def __init__(self, app) -> None:
        import uvicorn

        from conftest import free_port

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Client:
    """One keep-alive HTTP connection with the session cookie."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""

    def get(self, path: str) -> tuple[int, bytes, float]:
        t = time.perf_counter()
        self.conn.request("GET", path, headers={"Cookie": self.cookie} if self.cookie else {})
        r = self.conn.getresponse()
        body = r.read()
        return r.status, body, time.perf_counter() - t

    def login(self, name: str, password: str) -> None:
        self.conn.request("GET", "/survey/login")
        r = self.conn.getresponse()
        page = r.read().decode()
        self.cookie = r.getheader("set-cookie").split(";")[0]
        tok = re.search(r'name="csrf" value="([^"]+)"', page)[1]
        body = urlencode({"csrf": tok, "username": name, "password": password})
        self.conn.request("POST", "/survey/login", body=body, headers={
            "Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"})
        r = self.conn.getresponse()
        r.read()
        assert r.status == 303, r.status
        self.cookie = r.getheader("set-cookie").split(";")[0]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def one_run(data: Path, name: str, users: Path, store: str, n: int) -> dict[str, float]:
    from mailposture.web.survey_pages import DashContext, create_dashboard_app

    ctx = DashContext.create(data, users, store, b"b" * 40)
    lst = load_round_list(Catalog(data), Catalog(data).require(name))
    region = lst.bodies[0].attrs["region"]
    body = lst.bodies[len(lst.bodies) // 2].domain
    pages = {"table": f"/survey/r/{name}?by=region",
             "group": f"/survey/r/{name}/bodies?" + urlencode({"column": "region", "value": region}),
             "body": f"/survey/r/{name}/body/{quote(body)}", "healthz": "/healthz"}
    out: dict[str, float] = {}
    with Server(create_dashboard_app(ctx)) as srv:
        c = Client(srv.port)
        c.login("bench", "bench-pw")
        for key in ("table", "group", "body"):
            status, _, secs = c.get(pages[key])
            assert status == 200, (key, status)
            out[f"cold {key}"] = secs
        for key, path in pages.items():
            times = []
            for _ in range(n):
                status, _, secs = c.get(path)
                assert status == 200, (key, status)
                times.append(secs)
            out[f"{key} p50"] = pct(times, 50)
            out[f"{key} p95"] = pct(times, 95)
        status, blob, secs = c.get(f"/survey/r/{name}/download/xlsx?by=region")
        assert status == 200 and blob[:2] == b"PK"
        out["xlsx download"] = secs
        status, blob2, secs = c.get(f"/survey/r/{name}/download/xlsx?by=region")
        assert status == 200 and blob2 == blob
        out["xlsx again"] = secs
    from mailposture.survey import reporting

    t = time.perf_counter()
    info, rep = reporting.build_report(Catalog(data), name, "region", "any", "ja", with_bodies=True)
    reporting.render(rep, reporting.report_meta(info, None), "xlsx", "ja")
    out["xlsx direct"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--domains", type=int, default=25000)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    from mailposture.web.members import add_member

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t = time.perf_counter()
        name = build_big_round(data, a.domains)
        print(f"round of {a.domains:,} domains built in {time.perf_counter() - t:.1f} s", flush=True)
        users = Path(tmp) / "members"
        add_member(users, "bench", "bench-pw", "viewer")
        runs = [one_run(data, name, users, f"sqlite:///{tmp}/s.sqlite", a.requests) for _ in range(a.runs)]
    keys = list(runs[0])
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(f"\nmedians of {a.runs} runs, {a.requests} requests per page per run, {a.domains:,} domains")
    for k in keys:
        print(f"  {k:16s} {med[k] * 1000:9.1f} ms")
    base = med["healthz p95"]
    print("\nratios (p95 page / p95 /healthz, same run):")
    for key in ("table", "group", "body"):
        verdict = "ok" if med[f"{key} p95"] < 0.2 else "OVER the 200 ms target"
        print(f"  {key:6s} {med[f'{key} p95'] / base:7.1f}x   p95 {med[f'{key} p95'] * 1000:.1f} ms  {verdict}")
    verdict = "ok" if med["xlsx download"] < 5 else "OVER the 5 s target"
    print(f"  xlsx download / report code alone: {med['xlsx download'] / med['xlsx direct']:.2f}x   "
          f"{med['xlsx download']:.2f} s  {verdict}")


if __name__ == "__main__":
    main()
