"""`survey run --workers N` and `--cluster URL`: the same round as a single-process run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.survey.catalog import Catalog
from mailposture.survey.rounds import load_results
from mailposture.survey.world import build_world
from test_survey_cli import _ServerThread

runner = CliRunner()


def _canon(v):
    """Lists sorted: the order of records in an RRset (and of answers arriving concurrently) is not meaningful."""
    if isinstance(v, dict):
        return {k: _canon(x) for k, x in v.items() if k not in ("ttl", "checked_at", "cache_hits")}
    if isinstance(v, list):
        return sorted((_canon(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    return v


def _comparable(results: dict) -> dict:
    return {d: _canon(r) for d, r in results.items()}


def _round(tmp_path: Path, name: str, lst: Path, server: str, *extra: str) -> dict:
    data = tmp_path / name
    r = runner.invoke(app, ["survey", "run", str(lst), "--round", "r", "--data-dir", str(data), "-n", server,
                            "--retry-delay", "0", "-q", "--lang", "en", "--timeout", "5", "--retries", "3", *extra])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    cat = Catalog(data)
    info = cat.require("r")
    assert info.status == "complete"
    return load_results(cat, info)


@pytest.fixture(scope="module")
def world():
    return build_world(40, seed=5)


def test_workers_and_cluster_give_the_same_round(tmp_path: Path, world) -> None:
    distributed = pytest.importorskip("distributed")
    lst = tmp_path / "fict.csv"
    lst.write_text(world.csv_text(), encoding="utf-8")
    with _ServerThread(world.served_zone(), world.origins()) as srv:
        one = _round(tmp_path, "one", lst, srv.address)
        two = _round(tmp_path, "two", lst, srv.address, "--workers", "2")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as cluster:
            dask = _round(tmp_path, "dask", lst, srv.address, "--cluster", cluster.scheduler_address)
    assert set(one) == set(world.truth) and len(one) > 40
    assert _comparable(one) == _comparable(two) == _comparable(dask)


def test_unreachable_cluster_is_a_clean_error(tmp_path: Path, world) -> None:
    from conftest import free_port

    lst = tmp_path / "fict.csv"
    lst.write_text(world.csv_text(), encoding="utf-8")
    r = runner.invoke(app, ["survey", "run", str(lst), "--round", "r", "--data-dir", str(tmp_path / "d"),
                            "-n", "127.0.0.1:9", "-q", "--cluster", f"tcp://127.0.0.1:{free_port()}"])
    assert r.exit_code != 0 and "cannot reach the Dask scheduler" in r.output
    assert "Traceback" not in r.output
