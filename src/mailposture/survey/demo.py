"""`mailposture demo`: a whole survey round against a synthetic DNS world on 127.0.0.1, no network needed.

The world (:mod:`mailposture.survey.world`) is served by the in-process authoritative server
(:class:`mailposture.dns.server.LocalDnsServer`) behind a fault-injecting proxy (broken zones answer SERVFAIL,
flaky ones fail their first tries); the real engine queries it over UDP, the round is stored like any other and
the HTML report is written. The report says that the data is synthetic.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import parse_list
from mailposture.survey.rounds import ProgressFactory, _no_progress, run_round, run_sync
from mailposture.survey.world import build_world

ROUND = "demo"
ENGINE_RETRIES = 1


async def demo_round(cat: Catalog, n_bodies: int, seed: int, *, lang: str = "ja",
                     progress: ProgressFactory = _no_progress, dns_timeout: float = 1.5) -> tuple[Any, Any]:
    from mailposture.dns.engine import Engine
    from mailposture.dns.server import FaultyProxy, LocalDnsServer

    world = build_world(n_bodies, seed)
    lst = parse_list(world.csv_text().encode(), "demo-fictitious")
    async with LocalDnsServer(world.served_zone(), origins=world.origins()) as server, \
            FaultyProxy(server.address, servfail=world.fault_rule(ENGINE_RETRIES + 1)) as proxy, \
            Engine([proxy.address], timeout=dns_timeout, retries=ENGINE_RETRIES, concurrency=200) as engine:
        info = await run_round(cat, lst, ROUND, engine, resolvers=[f"{proxy.address} "
                               + ("(架空の DNS)" if lang == "ja" else "(synthetic world)")],
                               concurrency=100, lang=lang, synthetic=True, progress=progress, replace=True)
    return info, world


def run_demo(out: Path, *, n_bodies: int = 400, seed: int = 2017, lang: str = "ja",
             progress: ProgressFactory = _no_progress) -> dict[str, Any]:
    from mailposture.report.html import render_html
    from mailposture.report.tables import aggregate
    from mailposture.survey.rounds import load_results, load_round_list

    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    cat = Catalog(out / "data")
    info, _world = run_sync(demo_round(cat, n_bodies, seed, lang=lang, progress=progress))
    lst = load_round_list(cat, info)
    results = load_results(cat, info)
    rep = aggregate(lst.bodies, results, by="region", round_name=info.name, lang=lang)
    title = ("送信ドメイン認証の普及状況 (デモ: 架空のデータ)" if lang == "ja" else
             "Sender authentication adoption (demo: fictitious data)")
    html = out / "report.html"
    meta = {"round": info.to_json(), "synthetic": True, "title": title, "count": "any"}
    html.write_text(render_html(rep, meta, lang, content=content_sections(lst.bodies, results, info.name, lang)),
                    encoding="utf-8")
    o = rep["overall"]
    secs = time.monotonic() - t0
    spf = f"SPF {o['spf']['rate']:.1f}% ({o['spf']['count']}/{o['total']})"
    dmarc = f"DMARC {o['dmarc']['rate']:.1f}% ({o['dmarc']['count']}/{o['total']})"
    if lang == "ja":
        summary = (f"デモ調査 (架空の {info.bodies} 団体・{info.domains} ドメイン、{secs:.1f} 秒): {spf}、{dmarc}。"
                   f"再試行 {info.retried} ドメイン、再試行後も DNS エラーが残ったもの {info.errors} ドメイン (「不明」として集計)。\n"
                   f"次の例: mailposture survey report --data-dir {cat.dir} --by region --format xlsx")
    else:
        summary = (f"demo round: {info.bodies} fictitious bodies, {info.domains} domains in {secs:.1f} s; {spf}, "
                   f"{dmarc}; {info.retried} retried, {info.errors} still with a failed lookup (counted as unknown).\n"
                   f"Next, try: mailposture survey report --data-dir {cat.dir} --by region --format xlsx")
    return {"html": html, "info": info, "report": rep, "summary": summary, "seconds": secs}


def content_sections(bodies: Any, results: dict[str, Any], round_name: str, lang: str) -> list[dict[str, Any]]:
    """The configuration-content survey by region, one section (chart, table, definitions) per table."""
    from mailposture.report.content import TABLE_NAMES, content_report
    from mailposture.report.content_render import section

    out = []
    for name in TABLE_NAMES:
        if name == "adoption":
            continue
        rep = content_report(bodies, results, name, by=["region"], round_name=round_name, lang=lang)
        out.append(section(rep, {"synthetic": True}, lang))
    return out
