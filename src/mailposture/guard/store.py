"""Guard state: users' sending-abroad state, the operator allow-list and the audit log (SQLAlchemy 2 Core).

SQLite (WAL) by default; PostgreSQL by URL (``postgresql+psycopg://…``) so several MTA nodes share one state.
Every change to a user or to the allow-list increases one counter (``change_counter()``) and stamps the
changed user row with the new value (``seq``): policy servers poll the counter and fetch only the rows changed
since their last poll (``changes_since``), so a change made on the web page reaches every node within a poll.
The counter row is updated inside the same transaction as the change, which serialises writers on that row,
so sequence numbers become visible in order (a poller never skips a change).

Times are stored as naive UTC and returned as aware UTC datetimes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from mailposture.guard.allowlist import normalise_allow_entry
from mailposture.guard.model import AuditEntry, Contact, UserRecord, UserState, normalise_username

__all__ = ["AuditEntry", "Contact", "Store", "StoreError", "UserLocked", "UserRecord", "UserState", "check_allow_entry",
           "normalise_username", "open_store", "utcnow"]


class StoreError(RuntimeError):
    """The store cannot be opened or reached, with a message fit for an operator (no traceback)."""


class UserLocked(ValueError):
    """An owner's change was refused because the account is locked (only an admin may unlock it)."""


def _naive(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.astimezone(UTC).replace(tzinfo=None)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = sa.MetaData()
users = sa.Table(
    "guard_users", metadata,
    sa.Column("username", sa.String(320), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("abroad_until", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Column("updated_by", sa.String(320), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("seq", sa.BigInteger, nullable=False, default=0, index=True),
)
allowlist_t = sa.Table(
    "guard_allowlist", metadata,
    sa.Column("entry", sa.String(255), primary_key=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("added_at", sa.DateTime, nullable=True),
)
audit = sa.Table(
    "guard_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.DateTime, nullable=False, index=True),
    sa.Column("username", sa.String(320), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("country", sa.String(8), nullable=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Index("ix_guard_audit_user_time", "username", "time"),
)
# Second-factor data of an owner (issue 17): an alternate contact registered by the administrator (notices and
# confirmation links go there: the mailbox password does not open it) and an RFC 6238 TOTP secret. A separate
# table, so that stores made before it get it from create_all without a migration.
contacts = sa.Table(
    "guard_contacts", metadata,
    sa.Column("username", sa.String(320), primary_key=True),
    sa.Column("alt_contact", sa.String(320), nullable=True),
    sa.Column("totp_secret", sa.String(64), nullable=True),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),  # last accepted time step: a code works once
    sa.Column("updated_at", sa.DateTime, nullable=True),
)
meta_t = sa.Table(
    "guard_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
counters = sa.Table(
    "guard_counters", metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    sa.Column("name", sa.String(64), primary_key=True),  # e.g. "domestic:home", "foreign:refused"
    sa.Column("count", sa.BigInteger, nullable=False),
)

_COUNTER = "counter"
_ALLOWLIST_VERSION = "allowlist"


def _describe_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


class Store:
    def __init__(self, url: str, *, create: bool = True, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.safe_url = _describe_url(url)
        try:
            parsed = sa.engine.make_url(url)
        except ArgumentError:
            raise StoreError(f"bad store URL {url!r}: expected e.g. sqlite:///path/guard.db or "
                             "postgresql+psycopg://user@host/db") from None
        kwargs: dict[str, Any] = {"future": True}
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path: str | None = None  # the SQLite file, watched for replacement (file_changed)
        self._identity: tuple[int, int] | None = None
        self._abandoned: list[Engine] = []
        self._side: dict[str, tuple[int, int]] = {}  # (device, inode) of our <path>-wal and <path>-shm
        if self.is_sqlite:
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                self.path = str(Path(db).expanduser())
                try:
                    Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise StoreError(f"cannot create the directory for {db}: {e.strerror or e}") from None
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": connect_timeout}
            if not db or db == ":memory:":
                kwargs["poolclass"] = sa.pool.StaticPool
        elif parsed.get_backend_name().startswith("postgresql"):
            kwargs["connect_args"] = {"connect_timeout": max(1, int(connect_timeout))}
            kwargs["pool_pre_ping"] = True
        self._kwargs = kwargs
        self.engine: Engine = self._make_engine()
        if create:
            self._create()

    def _make_engine(self) -> Engine:
        try:
            engine = sa.create_engine(self.url, **self._kwargs)
        except (NoSuchModuleError, ModuleNotFoundError, ImportError) as e:
            raise StoreError(f"store URL {self.safe_url}: database driver not available ({e})") from None
        except (ArgumentError, ValueError, TypeError) as e:
            raise StoreError(f"bad store URL {self.safe_url}: {e}") from None
        if self.is_sqlite:
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def _create(self) -> None:
        self._guard(self._ping, "connect")  # an unreachable server is named as such, not as a table problem
        # Two processes may create a new store at once (a running server reopening a replaced file while the
        # admin CLI creates it): the loser of that race sees "table … already exists" and simply tries again.
        for attempt in range(5):
            try:
                metadata.create_all(self.engine)
                self._init_meta()
                break
            except SQLAlchemyError:
                if attempt == 4:
                    self._guard(lambda: metadata.create_all(self.engine), "create the tables")
                    self._guard(self._init_meta, "initialise")
                time.sleep(0.05 * (attempt + 1))
        self._identity = self._stat()
        self._side = self._side_ids()

    # -- the SQLite file under a running server ---------------------------------------------------------
    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def file_changed(self) -> str | None:
        """For a SQLite store: "deleted" or "replaced" when the file at the path is no longer the one this
        object has open (device and inode differ), else None. An open SQLite connection keeps using a deleted
        or renamed-over file, so changes made through the path would never be seen."""
        if self.path is None or self._identity is None:
            return None
        now = self._stat()
        if now is None:
            return "deleted"
        if now != self._identity:
            return "replaced"
        self._side = self._side_ids()  # while the file is ours, so are its -wal and -shm at the path
        return None

    def _side_ids(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for suffix in ("-wal", "-shm"):
            try:
                st = os.stat(f"{self.path}{suffix}")
            except OSError:
                continue
            out[suffix] = (st.st_dev, st.st_ino)
        return out

    def reopen(self) -> None:
        """Open the file now at the path (creating the tables if it is new).

        A file renamed over ours leaves our ``-wal`` and ``-shm`` at the path: SQLite would take them for the
        new file's and replay our log into it, so they are removed first (only when they are still the very
        files we used: a log the new file's writer made is another inode and stays). No checkpoint is run:
        a connection opened now would open the new file with our old log. The old connections are kept open,
        not closed: a closing last connection deletes ``<path>-wal`` by name, which may by then be the new
        file's log (a few descriptors per replacement, a rare event)."""
        self._abandoned.append(self.engine)
        for suffix, ident in self._side_ids().items():
            if self._side.get(suffix) == ident:
                try:
                    os.unlink(f"{self.path}{suffix}")
                except OSError:
                    pass
        self.engine = self._make_engine()
        self._create()

    # -- plumbing ---------------------------------------------------------------------------------------
    def _guard(self, fn, what: str):
        try:
            return fn()
        except SQLAlchemyError as e:
            orig = getattr(e, "orig", None) or e
            msg = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
            raise StoreError(f"store {self.safe_url}: cannot {what}: {msg}") from None

    def _ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(sa.text("SELECT 1"))

    def _init_meta(self) -> None:
        with self.engine.begin() as c:
            have = {r[0] for r in c.execute(sa.select(meta_t.c.key))}
            for key in (_COUNTER, _ALLOWLIST_VERSION):
                if key not in have:
                    c.execute(meta_t.insert().values(key=key, value=0))

    @staticmethod
    def _bump(c: Connection, allowlist: bool = False) -> int:
        c.execute(meta_t.update().where(meta_t.c.key == _COUNTER).values(value=meta_t.c.value + 1))
        if allowlist:
            c.execute(meta_t.update().where(meta_t.c.key == _ALLOWLIST_VERSION)
                      .values(value=meta_t.c.value + 1))
        return int(c.execute(sa.select(meta_t.c.value).where(meta_t.c.key == _COUNTER)).scalar_one())

    @staticmethod
    def _row(r: Any) -> UserRecord:
        try:
            state = UserState(r.state)
        except ValueError:
            state = UserState.RESTRICTED  # an unknown state in the table never lets mail through
        return UserRecord(r.username, state, _aware(r.abroad_until), _aware(r.updated_at), r.updated_by, r.note)

    def close(self) -> None:
        self.engine.dispose()

    # -- users ------------------------------------------------------------------------------------------
    def get_user(self, username: str) -> UserRecord:
        name = normalise_username(username)

        def q() -> UserRecord:
            with self.engine.connect() as c:
                r = c.execute(sa.select(users).where(users.c.username == name)).first()
            return self._row(r) if r is not None else UserRecord(name, UserState.RESTRICTED)
        return self._guard(q, "read a user")

    def _set(self, username: str, state: UserState, by: str, until: datetime | None = None,
             note: str | None = None, keep_note: bool = False, unless_locked: bool = False) -> UserRecord:
        name = normalise_username(username)
        if not name:
            raise ValueError("empty user name")
        now = utcnow()

        def q() -> UserRecord:
            with self.engine.begin() as c:
                seq = self._bump(c)
                values: dict[str, Any] = {"state": state.value, "abroad_until": _naive(until) if until else None,
                                          "updated_at": _naive(now), "updated_by": by, "seq": seq}
                if not keep_note:
                    values["note"] = note
                cond = users.c.username == name
                if unless_locked:  # one conditional UPDATE: a lock set meanwhile by an admin is never overwritten
                    cond = cond & (users.c.state != UserState.LOCKED.value)
                n = c.execute(users.update().where(cond).values(**values)).rowcount
                if not n and unless_locked and c.execute(
                        sa.select(users.c.username).where(users.c.username == name)).first() is not None:
                    raise UserLocked(f"{name} is locked")
                if not n:
                    values.setdefault("note", note)
                    c.execute(users.insert().values(username=name, **values))
                r = c.execute(sa.select(users).where(users.c.username == name)).first()
            return self._row(r)
        return self._guard(q, "change a user")

    def allow_abroad(self, username: str, until: datetime, by: str, *, unless_locked: bool = False) -> UserRecord:
        """``unless_locked=True`` (the owner's page): refuse with :class:`UserLocked` if the account is locked."""
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        return self._set(username, UserState.ABROAD_UNTIL, by, until=until, unless_locked=unless_locked)

    def restrict(self, username: str, by: str, *, unless_locked: bool = False) -> UserRecord:
        return self._set(username, UserState.RESTRICTED, by, unless_locked=unless_locked)

    def allow_always(self, username: str, by: str) -> UserRecord:
        return self._set(username, UserState.ABROAD_ALWAYS, by)

    def lock(self, username: str, by: str, note: str | None = None) -> UserRecord:
        return self._set(username, UserState.LOCKED, by, note=note)

    def unlock(self, username: str, by: str) -> UserRecord:
        return self._set(username, UserState.RESTRICTED, by)

    def list_users(self, state: UserState | None = None, limit: int = 100, offset: int = 0) -> list[UserRecord]:
        stmt = sa.select(users).order_by(users.c.username).limit(limit).offset(offset)
        if state is not None:
            stmt = stmt.where(users.c.state == UserState(state).value)

        def q() -> list[UserRecord]:
            with self.engine.connect() as c:
                return [self._row(r) for r in c.execute(stmt)]
        return self._guard(q, "list users")

    def count_users(self) -> dict[str, int]:
        """Stored users per state (users never stored are RESTRICTED and not counted)."""
        def q() -> dict[str, int]:
            with self.engine.connect() as c:
                rows = c.execute(sa.select(users.c.state, sa.func.count()).group_by(users.c.state)).all()
            out = {s.value: 0 for s in UserState}
            for state, n in rows:
                out[str(state)] = int(n)
            return out
        return self._guard(q, "count users")

    def count_effective(self, now: datetime | None = None) -> int:
        """Users whose abroad_until period is still running."""
        now = now or utcnow()

        def q() -> int:
            with self.engine.connect() as c:
                return int(c.execute(sa.select(sa.func.count()).select_from(users).where(
                    users.c.state == UserState.ABROAD_UNTIL.value, users.c.abroad_until > _naive(now))
                ).scalar_one())
        return self._guard(q, "count users")

    def bulk_set(self, records: Iterable[UserRecord], by: str = "import") -> int:
        """Insert or replace many users in one transaction (imports, benchmarks). Returns the number written."""
        now = _naive(utcnow())
        rows = [{"username": normalise_username(r.username), "state": UserState(r.state).value,
                 "abroad_until": _naive(r.abroad_until) if r.abroad_until else None,
                 "updated_at": now, "updated_by": by, "note": r.note} for r in records]

        def q() -> int:
            with self.engine.begin() as c:
                seq = self._bump(c)
                names = [r["username"] for r in rows]
                for i in range(0, len(names), 500):
                    c.execute(users.delete().where(users.c.username.in_(names[i:i + 500])))
                for r in rows:
                    r["seq"] = seq
                if rows:
                    c.execute(users.insert(), rows)
            return len(rows)
        return self._guard(q, "import users")

    # -- second factor: alternate contact and TOTP ------------------------------------------------------
    def get_contact(self, username: str) -> Contact:
        name = normalise_username(username)

        def q() -> Contact:
            with self.engine.connect() as c:
                r = c.execute(sa.select(contacts).where(contacts.c.username == name)).first()
            if r is None:
                return Contact(name)
            return Contact(name, r.alt_contact, r.totp_secret, r.totp_last_step)
        return self._guard(q, "read a contact")

    def _set_contact(self, username: str, **values: Any) -> Contact:
        name = normalise_username(username)
        if not name:
            raise ValueError("empty user name")

        def q() -> None:
            with self.engine.begin() as c:
                vals = {**values, "updated_at": _naive(utcnow())}
                if not c.execute(contacts.update().where(contacts.c.username == name).values(**vals)).rowcount:
                    c.execute(contacts.insert().values(username=name, **vals))
        self._guard(q, "change a contact")
        return self.get_contact(name)

    def set_alt_contact(self, username: str, address: str | None) -> Contact:
        """Register (or with None remove) the alternate contact address of a user (administrator only)."""
        return self._set_contact(username, alt_contact=address)

    def set_totp(self, username: str, secret: str | None) -> Contact:
        """Enrol (or with None remove) a user's TOTP secret (base32)."""
        return self._set_contact(username, totp_secret=secret, totp_last_step=None)

    def use_totp_step(self, username: str, step: int) -> bool:
        """Record that the code of time step ``step`` was used; False when it (or a later one) was used before,
        so that a code seen over a shoulder cannot be replayed (RFC 6238 §5.2). One conditional UPDATE."""
        name = normalise_username(username)

        def q() -> bool:
            with self.engine.begin() as c:
                cond = (contacts.c.username == name) & contacts.c.totp_secret.is_not(None) & (
                    contacts.c.totp_last_step.is_(None) | (contacts.c.totp_last_step < step))
                return bool(c.execute(contacts.update().where(cond).values(totp_last_step=step)).rowcount)
        return self._guard(q, "record a TOTP code")

    # -- change tracking ----------------------------------------------------------------------------------
    def change_counter(self) -> int:
        def q() -> int:
            with self.engine.connect() as c:
                return int(c.execute(sa.select(meta_t.c.value).where(meta_t.c.key == _COUNTER)).scalar_one())
        return self._guard(q, "read the change counter")

    def changes_since(self, seq: int, include_restricted: bool = True) -> tuple[int, list[UserRecord], int]:
        """(counter, users changed after ``seq``, allow-list version). Read the counter first: every row
        with a sequence number up to it is committed, so nothing between ``seq`` and it is missed.
        ``include_restricted=False`` (a first full load) skips rows in the default state."""
        def q() -> tuple[int, list[UserRecord], int]:
            with self.engine.connect() as c:
                vals = dict(c.execute(sa.select(meta_t.c.key, meta_t.c.value)).all())
                counter = int(vals.get(_COUNTER, 0))
                changed: list[UserRecord] = []
                if counter != seq:
                    stmt = sa.select(users).where(users.c.seq > seq)
                    if not include_restricted:
                        stmt = stmt.where(users.c.state != UserState.RESTRICTED.value)
                    changed = [self._row(r) for r in c.execute(stmt)]
            return counter, changed, int(vals.get(_ALLOWLIST_VERSION, 0))
        return self._guard(q, "poll for changes")

    # -- audit --------------------------------------------------------------------------------------------
    def add_audit(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        rows = [{"time": _naive(e.time), "username": normalise_username(e.username)[:320], "ip": e.ip[:64],
                 "country": (e.country or None) and e.country[:8], "verdict": e.verdict[:16],
                 "reason": e.reason[:64]} for e in entries]

        if self.is_sqlite:
            # Hot batch path of the policy server: plain DB-API executemany (SQLAlchemy's per-row processing
            # would hold the GIL for tens of ms per batch and delay the event loop). Same text format as
            # SQLAlchemy's SQLite DateTime, so reads through SQLAlchemy are unchanged.
            tuples = [(r["time"].strftime("%Y-%m-%d %H:%M:%S.%f"), r["username"], r["ip"], r["country"],
                       r["verdict"], r["reason"]) for r in rows]

            def raw() -> None:
                conn = self.engine.raw_connection()
                try:
                    conn.cursor().executemany(
                        "INSERT INTO guard_audit (time, username, ip, country, verdict, reason) "
                        "VALUES (?, ?, ?, ?, ?, ?)", tuples)
                    conn.commit()
                finally:
                    conn.close()
            try:
                raw()
            except Exception as e:  # sqlite3.Error and friends
                raise StoreError(f"store {self.safe_url}: cannot write the audit log: {e}") from None
            return

        def q() -> None:
            with self.engine.begin() as c:
                c.execute(audit.insert(), rows)
        self._guard(q, "write the audit log")

    def _audit_rows(self, stmt) -> list[AuditEntry]:
        with self.engine.connect() as c:
            return [AuditEntry(_aware(r.time), r.username, r.ip, r.country, r.verdict, r.reason)  # type: ignore[arg-type]
                    for r in c.execute(stmt)]

    def recent_audit(self, username: str | None = None, limit: int = 50) -> list[AuditEntry]:
        stmt = sa.select(audit).order_by(audit.c.time.desc(), audit.c.id.desc()).limit(limit)
        if username is not None:
            stmt = stmt.where(audit.c.username == normalise_username(username))
        return self._guard(lambda: self._audit_rows(stmt), "read the audit log")

    def recent_refusals(self, username: str, limit: int = 10) -> list[AuditEntry]:
        stmt = (sa.select(audit).where(audit.c.username == normalise_username(username),
                                       audit.c.verdict == "refused")
                .order_by(audit.c.time.desc(), audit.c.id.desc()).limit(limit))
        return self._guard(lambda: self._audit_rows(stmt), "read the audit log")

    def refusals_by_country(self, since: datetime) -> list[tuple[str, int]]:
        country = sa.func.coalesce(audit.c.country, "??")
        stmt = (sa.select(country, sa.func.count()).where(audit.c.verdict == "refused",
                                                          audit.c.time >= _naive(since))
                .group_by(country).order_by(sa.func.count().desc(), country))

        def q() -> list[tuple[str, int]]:
            with self.engine.connect() as c:
                return [(str(cc), int(n)) for cc, n in c.execute(stmt)]
        return self._guard(q, "read the audit log")

    def refusals_by_day(self, since: datetime) -> list[tuple[str, int]]:
        def q() -> list[tuple[str, int]]:
            stmt = (sa.select(audit.c.time).where(audit.c.verdict == "refused", audit.c.time >= _naive(since)))
            out: dict[str, int] = {}
            with self.engine.connect() as c:
                for (t,) in c.execute(stmt):
                    day = t.strftime("%Y-%m-%d")
                    out[day] = out.get(day, 0) + 1
            return sorted(out.items())
        return self._guard(q, "read the audit log")

    def prune_audit(self, before: datetime) -> int:
        """Delete audit rows older than ``before``; returns how many were deleted."""
        def q() -> int:
            with self.engine.begin() as c:
                return int(c.execute(audit.delete().where(audit.c.time < _naive(before))).rowcount or 0)
        return self._guard(q, "prune the audit log")

    # -- counters (domestic decisions are counted, not logged one by one) --------------------------------
    def add_counts(self, day: str, counts: dict[str, int]) -> None:
        def q() -> None:
            with self.engine.begin() as c:
                for name, n in counts.items():
                    upd = c.execute(counters.update().where(counters.c.day == day, counters.c.name == name)
                                    .values(count=counters.c.count + n)).rowcount
                    if not upd:
                        c.execute(counters.insert().values(day=day, name=name, count=n))
        self._guard(q, "write counters")

    def counts(self, since_day: str) -> dict[str, int]:
        def q() -> dict[str, int]:
            with self.engine.connect() as c:
                rows = c.execute(sa.select(counters.c.name, sa.func.sum(counters.c.count))
                                 .where(counters.c.day >= since_day).group_by(counters.c.name)).all()
            return {str(k): int(v) for k, v in rows}
        return self._guard(q, "read counters")

    # -- allow-list ---------------------------------------------------------------------------------------
    def allowlist_add(self, entry: str, note: str | None = None) -> None:
        key = check_allow_entry(entry)  # ValueError names the problem

        def q() -> None:
            with self.engine.begin() as c:
                n = c.execute(allowlist_t.update().where(allowlist_t.c.entry == key).values(note=note)).rowcount
                if not n:
                    c.execute(allowlist_t.insert().values(entry=key, note=note, added_at=_naive(utcnow())))
                self._bump(c, allowlist=True)
        self._guard(q, "change the allow-list")

    def allowlist_remove(self, entry: str) -> bool:
        try:
            key = normalise_allow_entry(entry)
        except ValueError:
            key = entry.strip().lower()

        def q() -> bool:
            with self.engine.begin() as c:
                n = c.execute(allowlist_t.delete().where(allowlist_t.c.entry == key)).rowcount
                if n:
                    self._bump(c, allowlist=True)
            return bool(n)
        return self._guard(q, "change the allow-list")

    def allowlist(self) -> list[tuple[str, str | None]]:
        def q() -> list[tuple[str, str | None]]:
            with self.engine.connect() as c:
                return [(r.entry, r.note) for r in
                        c.execute(sa.select(allowlist_t).order_by(allowlist_t.c.entry))]
        return self._guard(q, "read the allow-list")


# An allow-list entry lets mail from abroad through for every account, so a slip (or a stolen admin session)
# must not open a whole provider's or country's address space: the bounds live in guard.allowlist.
def check_allow_entry(entry: str) -> str:
    """The normalised allow-list entry, or ValueError when it is malformed or too broad (one rule, shared with
    the policy server: :func:`mailposture.guard.allowlist.normalise_allow_entry`)."""
    return normalise_allow_entry(entry)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    import sqlite3
    import time

    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout=5000")  # first: the journal-mode switch below may have to wait too
        for attempt in range(5):
            try:
                # readers (policy servers) never wait for the web page's writes
                cur.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as e:  # another process is creating the same new file
                if "locked" not in str(e) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def open_store(url: str) -> Store:
    """Open (and create) a store; the URL may use ``~`` and environment variables in a SQLite path."""
    if url.startswith("sqlite:///") and ("~" in url or "$" in url):
        url = "sqlite:///" + os.path.expandvars(os.path.expanduser(url[len("sqlite:///"):]))
    return Store(url)
