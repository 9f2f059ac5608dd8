"""Tables of the 踏み台 facts in the guard store (issue 12), kept apart from store.py's own tables:

* ``guard_dnsbl_current``: the last status of each (address, list); ``guard_dnsbl_history``: every change.
* ``guard_watch_events``: what ``guard watch`` did (lock, dry-run detection, skipped within an unlock grace).

Created on the same database as the guard store (SQLite or PostgreSQL) by :func:`attach`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mailposture.guard.store import Store

meta = sa.MetaData()
dnsbl_current = sa.Table(
    "guard_dnsbl_current", meta,
    sa.Column("ip", sa.String(64), primary_key=True),
    sa.Column("zone", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("codes", sa.String(255), nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("since", sa.DateTime, nullable=False),
    sa.Column("checked_at", sa.DateTime, nullable=False),
)
dnsbl_history = sa.Table(
    "guard_dnsbl_history", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.DateTime, nullable=False, index=True),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("zone", sa.String(255), nullable=False),
    sa.Column("old_status", sa.String(16), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("codes", sa.String(255), nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=True),
)
watch_events = sa.Table(
    "guard_watch_events", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.DateTime, nullable=False, index=True),
    sa.Column("username", sa.String(320), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),  # locked | dry-run | grace | already-locked
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON [{code, detail}]
)


def _naive(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


class FactsStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        store._guard(lambda: meta.create_all(self.engine), "create the facts tables")

    # -- DNSBL ------------------------------------------------------------------------------------------------
    def record_dnsbl(self, results: list[Any]) -> list[dict[str, Any]]:
        """Store results; return the changes between listed and not listed (``error``/``unusable`` rounds
        keep the last known status and are not changes)."""
        changes: list[dict[str, Any]] = []

        def q() -> None:
            with self.engine.begin() as c:
                for r in results:
                    now = _naive(r.checked_at)
                    cur = c.execute(sa.select(dnsbl_current).where(dnsbl_current.c.ip == r.ip,
                                                                   dnsbl_current.c.zone == r.zone)).first()
                    codes = " ".join(r.codes)
                    if cur is None:
                        c.execute(dnsbl_current.insert().values(ip=r.ip, zone=r.zone, status=r.status, codes=codes,
                                                                reason=r.reason, detail=r.detail, since=now,
                                                                checked_at=now))
                        c.execute(dnsbl_history.insert().values(time=now, ip=r.ip, zone=r.zone, old_status=None,
                                                                status=r.status, codes=codes, reason=r.reason))
                        if r.status == "listed":
                            changes.append({"ip": r.ip, "list": r.zone, "from": None, "to": r.status,
                                            "reason": r.reason, "codes": r.codes})
                        continue
                    if r.status in ("error", "unusable") or r.status == cur.status:
                        c.execute(dnsbl_current.update().where(dnsbl_current.c.ip == r.ip,
                                                               dnsbl_current.c.zone == r.zone)
                                  .values(checked_at=now, detail=r.detail))
                        continue
                    c.execute(dnsbl_current.update().where(dnsbl_current.c.ip == r.ip, dnsbl_current.c.zone == r.zone)
                              .values(status=r.status, codes=codes, reason=r.reason, detail=r.detail, since=now,
                                      checked_at=now))
                    c.execute(dnsbl_history.insert().values(time=now, ip=r.ip, zone=r.zone, old_status=cur.status,
                                                            status=r.status, codes=codes, reason=r.reason))
                    if "listed" in (r.status, cur.status):
                        changes.append({"ip": r.ip, "list": r.zone, "from": cur.status, "to": r.status,
                                        "reason": r.reason, "codes": r.codes})
        self.store._guard(q, "record block-list results")
        return changes

    def listings(self) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                rows = c.execute(sa.select(dnsbl_current).where(dnsbl_current.c.status == "listed")
                                 .order_by(dnsbl_current.c.ip, dnsbl_current.c.zone)).all()
            return [{"ip": r.ip, "list": r.zone, "codes": r.codes.split(), "reason": r.reason,
                     "since": r.since.replace(tzinfo=UTC).isoformat()} for r in rows]
        return self.store._guard(q, "read block-list listings")

    def dnsbl_history(self, limit: int = 100) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                rows = c.execute(sa.select(dnsbl_history).order_by(dnsbl_history.c.id.desc()).limit(limit)).all()
            return [{"time": r.time.replace(tzinfo=UTC).isoformat(), "ip": r.ip, "list": r.zone,
                     "from": r.old_status, "to": r.status, "reason": r.reason} for r in rows]
        return self.store._guard(q, "read block-list history")

    # -- watch --------------------------------------------------------------------------------------------------
    def add_watch_event(self, username: str, action: str, score: float, reasons: list[dict[str, str]],
                        when: float) -> None:
        def q() -> None:
            with self.engine.begin() as c:
                c.execute(watch_events.insert().values(time=_naive(when), username=username, action=action,
                                                       score=score, reasons=json.dumps(reasons, ensure_ascii=False)))
        self.store._guard(q, "record a watch event")

    def watch_events(self, username: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = sa.select(watch_events).order_by(watch_events.c.id.desc()).limit(limit)
        if username:
            stmt = stmt.where(watch_events.c.username == username)

        def q() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                rows = c.execute(stmt).all()
            return [{"time": r.time.replace(tzinfo=UTC).isoformat(), "user": r.username, "action": r.action,
                     "score": r.score, "reasons": json.loads(r.reasons)} for r in rows]
        return self.store._guard(q, "read watch events")
