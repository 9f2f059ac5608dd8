"""Rounds started from the dashboard: a background worker runs :func:`mailposture.survey.rounds.run_round` (the code
behind ``mailposture survey run``), shows its progress live and resumes after a restart of the server.

Jobs are rows in the shared store. A worker (one thread per server process) claims a queued job, or a running one
whose heartbeat stopped (its server died), with one conditional UPDATE, so exactly one process runs it; run_round
itself resumes from the round's journal, so nothing already scanned is scanned again. A monthly schedule
(``schedule="monthly"``) queues the round ``YYYY-MM`` once per month.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mailposture.survey.catalog import Catalog, CatalogError, check_round_name
from mailposture.web.members import META, SharedState

log = logging.getLogger(__name__)
STALE = 30.0          # seconds without a heartbeat: the job's server is gone, another may resume it

JOBS = sa.Table(
    "dash_jobs", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round", sa.String(64), nullable=False),
    sa.Column("list_spec", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),      # queued / running / complete / failed / error
    sa.Column("started_by", sa.String(254), nullable=False),
    sa.Column("owner", sa.String(32), nullable=False, default=""),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("phase", sa.String(40), nullable=False, default=""),
    sa.Column("done", sa.Integer, nullable=False, default=0),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.String(500), nullable=False, default=""),
)
_LIST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class JobError(ValueError):
    """A job that cannot be started, with a message naming the problem."""


def list_choices(data_dir: Path) -> list[str]:
    """Lists a round may be started with: the bundled ones and the CSV files in ``DATA_DIR/lists/``."""
    from mailposture.survey.lists import BUNDLED

    own = sorted(p.name for p in (data_dir / "lists").glob("*.csv")) if (data_dir / "lists").is_dir() else []
    return [*BUNDLED, *own]


def due_round(schedule: str | None, now: datetime) -> str | None:
    """The round a schedule wants now: ``monthly`` -> ``YYYY-MM`` (JST month)."""
    if schedule != "monthly":
        return None
    from mailposture.web.i18n import JST

    j = now.astimezone(JST)
    return f"{j.year:04d}-{j.month:02d}"


class JobRunner:
    def __init__(self, state: SharedState, data_dir: Path, engine_factory: Callable[[], Any], *,
                 lang: str = "ja", schedule: str | None = None, schedule_list: str | None = None,
                 clock: Callable[[], float] = time.time, retry_delay: float = 5.0) -> None:
        META.create_all(state.engine)
        self.state, self.data_dir = state, Path(data_dir)
        self.engine_factory, self.lang, self.clock = engine_factory, lang, clock
        self.schedule, self.schedule_list = schedule, schedule_list
        self.retry_delay = retry_delay
        self.owner = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- submitting --------------------------------------------------------------------------------------------
    def submit(self, round_name: str, list_spec: str, by: str) -> int:
        try:
            check_round_name(round_name)
        except CatalogError as exc:
            raise JobError(str(exc)) from None
        if list_spec not in list_choices(self.data_dir) or not _LIST_RE.match(list_spec):
            raise JobError(f"list {list_spec[:60]!r} is not one of the bundled lists or {self.data_dir}/lists/*.csv")
        cat = Catalog(self.data_dir)
        info = cat.get(round_name) if cat.db.exists() else None
        if info is not None and info.status in ("complete", "failed"):
            raise JobError(f"round '{round_name}' already exists ({info.status}); choose another name")
        now = self.clock()
        with self.state.engine.begin() as c:
            busy = c.execute(sa.select(JOBS.c.id).where(JOBS.c.round == round_name,
                                                        JOBS.c.status.in_(("queued", "running")))).first()
            if busy is not None:
                return int(busy.id)
            return int(c.execute(sa.insert(JOBS).values(round=round_name, list_spec=list_spec, status="queued",
                                                        started_by=by, owner="", created=now, updated=now, phase="",
                                                        done=0, total=0, message="")).inserted_primary_key[0])

    def jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.state.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.select(JOBS).order_by(JOBS.c.id.desc()).limit(limit))]

    def job(self, job_id: int) -> dict[str, Any] | None:
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(JOBS).where(JOBS.c.id == job_id)).first()
        return dict(row._mapping) if row else None

    # -- the worker --------------------------------------------------------------------------------------------
    def claim(self) -> dict[str, Any] | None:
        """Take one queued job, or a running one whose server stopped beating; None when there is none."""
        now = self.clock()
        with self.state.engine.begin() as c:
            rows = c.execute(sa.select(JOBS).where(sa.or_(
                JOBS.c.status == "queued",
                sa.and_(JOBS.c.status == "running", JOBS.c.updated < now - STALE))).order_by(JOBS.c.id)).all()
            for r in rows:
                n = c.execute(sa.update(JOBS).where(JOBS.c.id == r.id, JOBS.c.status == r.status,
                                                    JOBS.c.updated == r.updated)
                              .values(status="running", owner=self.owner, updated=now)).rowcount
                if n == 1:
                    return {**dict(r._mapping), "status": "running", "owner": self.owner}
        return None

    def _set(self, job_id: int, **values: Any) -> None:
        with self.state.engine.begin() as c:
            c.execute(sa.update(JOBS).where(JOBS.c.id == job_id, JOBS.c.owner == self.owner)
                      .values(updated=self.clock(), **values))

    def run_job(self, job: dict[str, Any]) -> None:
        """Run (or resume) one claimed job to its end; its row says how it went."""
        from mailposture.survey.lists import ListError, load_list
        from mailposture.survey.rounds import Progress, run_round, run_sync

        job_id = job["id"]
        runner = self
        state = {"done": 0, "total": 0, "phase": "", "last": 0.0}

        class Bar(Progress):
            def __init__(self, label: str, total: int) -> None:
                state.update(done=0, total=total, phase=label)
                runner._set(job_id, phase=label, done=0, total=total)

            def advance(self, n: int = 1) -> None:
                state["done"] += n
                if time.monotonic() - state["last"] > 0.5:
                    state["last"] = time.monotonic()
                    runner._set(job_id, done=state["done"])

            def close(self) -> None:
                runner._set(job_id, done=state["done"])

        beat = threading.Event()

        def heartbeat() -> None:
            while not beat.wait(STALE / 3):
                self._set(job_id)

        hb = threading.Thread(target=heartbeat, daemon=True)
        hb.start()
        try:
            spec = job["list_spec"]
            path = self.data_dir / "lists" / spec
            lst = load_list(spec if not path.exists() else path)
            cat = Catalog(self.data_dir)
            engine = self.engine_factory()

            async def go() -> Any:
                async with engine:
                    return await run_round(cat, lst, job["round"], engine,
                                           resolvers=[str(s) for s in getattr(engine, "nameservers", [])],
                                           lang=self.lang, progress=Bar, retry_delay=self.retry_delay)

            info = run_sync(go())
            self._set(job_id, status=info.status, phase="done", message="")
        except (CatalogError, ListError, OSError, ValueError) as exc:
            self._set(job_id, status="error", message=str(exc)[:500])
        except Exception as exc:  # a job never takes the worker down; the row says why
            log.exception("survey job %s failed", job_id)
            self._set(job_id, status="error", message=f"{type(exc).__name__}: {exc}"[:500])
        finally:
            beat.set()
            hb.join(5)

    def tick(self) -> bool:
        """One round of the worker: queue a scheduled round when due, run one job. True when a job ran."""
        due = due_round(self.schedule, datetime.now(UTC))
        if due and self.schedule_list:
            cat = Catalog(self.data_dir)
            if (not cat.db.exists() or cat.get(due) is None) and not self._known(due):
                try:
                    self.submit(due, self.schedule_list, "schedule")
                except JobError as exc:
                    log.warning("scheduled round %s: %s", due, exc)
        job = self.claim()
        if job is None:
            return False
        self.run_job(job)
        return True

    def _known(self, round_name: str) -> bool:
        with self.state.engine.connect() as c:
            return c.execute(sa.select(JOBS.c.id).where(JOBS.c.round == round_name)).first() is not None

    def start(self, poll: float = 2.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    ran = self.tick()
                except Exception:  # keep the worker alive; the log says why
                    log.exception("survey job worker")
                    ran = False
                if not ran:
                    self._stop.wait(poll)

        self._thread = threading.Thread(target=loop, name="survey-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
