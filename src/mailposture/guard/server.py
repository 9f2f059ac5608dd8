"""The policy server: asyncio, many concurrent Postfix connections, each reused for many requests.

I/O only; parsing is protocol.py, the decision is decide.py, user state comes from the in-memory mirror
(cache.py) and audit writes are queued (logs.py): a request is answered without touching the database.
A malformed, oversized or too slow request is logged and its connection closed without an answer (Postfix
then applies its ``default_action``); an internal error does the same, never a permissive reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import stat
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from mailposture.guard.cache import StateCache
from mailposture.guard.config import GuardConfig
from mailposture.guard.decide import REQUEST_FIELDS, AllowList, Decision, Policy
from mailposture.guard.geo import GeoSource
from mailposture.guard.logs import Recorder
from mailposture.guard.protocol import RequestParser, format_response
from mailposture.guard.store import Store

log = logging.getLogger("mailposture.guard.server")


class ListenError(ValueError):
    pass


def parse_listen(spec: str) -> tuple[str, Any]:
    """``HOST:PORT``, ``[V6]:PORT``, ``inet:HOST:PORT`` or ``unix:PATH`` -> ("tcp", (host, port)) | ("unix", path)."""
    s = spec.strip()
    if s.startswith("unix:"):
        path = s[5:]
        if not path:
            raise ListenError("unix: needs a socket path, e.g. unix:/var/spool/postfix/private/guard")
        return "unix", path
    if s.startswith("inet:"):
        s = s[5:]
    if s.startswith("["):
        host, sep, port = s[1:].partition("]:")
    else:
        host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ListenError(f"bad listen address {spec!r}: expected HOST:PORT (e.g. 127.0.0.1:10040) or unix:PATH")
    return "tcp", (host, int(port))


class PolicyConnection(asyncio.Protocol):
    __slots__ = ("last_active", "parser", "partial_since", "peer", "server", "transport")

    def __init__(self, server: GuardServer) -> None:
        self.server = server
        self.parser = RequestParser(server.cfg.max_request_bytes, REQUEST_FIELDS)
        self.transport: asyncio.Transport | None = None
        self.partial_since: float | None = None
        self.last_active = time.monotonic()
        self.peer = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unix"
        server = self.server
        if len(server.conns) >= server.conn_limit:
            server.make_room()  # close the longest-idle connections: a new client (Postfix) is always answered
        server.conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.conns.discard(self)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_active = now
        requests, error = self.parser.feed(data)
        if requests:
            answer = self.server.answer
            try:
                out = answer(requests[0]) if len(requests) == 1 else b"".join([answer(r) for r in requests])
            except Exception:
                log.exception("internal error while deciding; closing %s without an answer", self.peer)
                self.close()
                return
            self.transport.write(out)  # type: ignore[union-attr]
        if error is not None:
            log.warning("protocol error from %s: %s; closing the connection", self.peer, error)
            self.server.protocol_errors += 1
            self.close()
            return
        if self.parser.pending:
            if self.partial_since is None:
                self.partial_since = now
        elif self.partial_since is not None:
            self.partial_since = None

    def eof_received(self) -> bool | None:
        if self.parser.pending:
            log.warning("connection from %s closed in the middle of a request (%d bytes, no blank line)",
                        self.peer, self.parser.pending)
            self.server.protocol_errors += 1
        return None  # close our side too

    def pause_writing(self) -> None:  # peer does not read its answers: stop reading its requests
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self.server.conns.discard(self)


class GuardServer:
    def __init__(self, cfg: GuardConfig, store: Store | None, geo: GeoSource) -> None:
        self.cfg = cfg
        self.store = store
        self.geo = geo
        self.policy = Policy(cfg, geo)
        self.cache = StateCache(store, ttl=cfg.cache_ttl, poll_interval=cfg.poll_interval,
                                store_timeout=cfg.store_timeout, on_allowlist=self._set_allow, geo=geo,
                                on_geo_reload=self.policy.clear_cache, on_replaced=cfg.on_store_replaced)
        self.recorder = Recorder(store, store_timeout=max(cfg.store_timeout, 5.0))
        self.conns: set[PolicyConnection] = set()
        self.servers: list[asyncio.base_events.Server] = []
        self.tasks: list[asyncio.Task] = []
        self.executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="guard-store")
        self.protocol_errors = 0
        self.requests = 0
        self.addresses: list[str] = []
        self._unix_paths: list[str] = []
        self._log_mode = cfg.log_decisions  # "none" (the audit log has every decision), "refused", "all"
        self.conn_limit = cfg.max_connections
        self.backlog = 1024
        self.evicted = 0
        self._evict_logged = 0.0
        self._responses: dict[str, bytes] = {}  # action -> encoded answer (a few distinct actions)
        self._stopped = False

    def _set_allow(self, allow: AllowList) -> None:
        self.policy.allow = allow

    # -- per request (event-loop thread, no I/O) ----------------------------------------------------------
    def answer(self, req: dict[str, str]) -> bytes:
        now = datetime.now(UTC)
        d: Decision = self.policy.decide(req, self.cache.user_state, now)
        self.requests += 1
        if d.verdict != "ignored":
            self.recorder.record(d, now)
            if self._log_mode != "none" and (d.verdict == "refused" or (self._log_mode == "all" and d.audit)):
                log.info("%s user=%r ip=%s country=%s reason=%s", d.verdict, d.username, d.ip,
                         d.country or "-", d.reason)
        out = self._responses.get(d.action)
        if out is None:
            out = format_response(d.action)
            if len(self._responses) < 4096:  # PREPEND texts vary with the country: bounded
                self._responses[d.action] = out
        return out

    # -- connection floods -----------------------------------------------------------------------------------
    def raise_fd_limit(self) -> None:
        """Raise the descriptor soft limit to the hard limit and keep the connections below it, with room for
        the listeners, the store and the log: at the limit accept() fails and new clients (Postfix's
        included) would be reset without an answer, so Postfix would apply its default_action."""
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            if soft != resource.RLIM_INFINITY and soft < want:
                try:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
                    log.info("descriptor limit raised from %d to %d", soft, want)
                    soft = want
                except (ValueError, OSError) as e:
                    log.warning("cannot raise the descriptor limit from %d to %d: %s", soft, want, e)
        except ImportError:  # pragma: no cover - not on Linux
            return
        if soft != resource.RLIM_INFINITY:
            # The event loop accepts up to the listen backlog in one burst before any connection_made runs, and
            # a closed connection's descriptor is freed only an iteration later: two bursts plus room for the
            # listeners, the store and the log files stay free.
            self.backlog = max(16, min(1024, soft // 8))
            room = max(16, soft - 2 * self.backlog - 64)
            if room < self.conn_limit:
                log.warning("descriptor limit %d allows at most %d policy connections (max_connections %d)",
                            soft, room, self.cfg.max_connections)
                self.conn_limit = room

    def make_room(self) -> None:
        """Close the longest-idle connections (about 1 % of the limit at a time; Postfix's policy client
        reconnects when it needs the server again). Logged at most every 10 s with the count."""
        import heapq

        n = max(1, self.conn_limit // 100)
        idle = [c for c in self.conns if c.partial_since is None] or list(self.conns)
        for c in heapq.nsmallest(n, idle, key=lambda c: c.last_active):
            c.close()
            self.evicted += 1
        now = time.monotonic()
        if now - self._evict_logged >= 10.0:
            self._evict_logged = now
            log.warning("connection limit %d reached: closed the longest-idle connections (%d so far)",
                        self.conn_limit, self.evicted)

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self, listen: list[str] | str) -> list[str]:
        """Bind the listeners, load the state once (without waiting longer than store_timeout) and start
        the background tasks. Returns the bound addresses ("127.0.0.1:10040", "unix:/path")."""
        loop = asyncio.get_running_loop()
        specs = [listen] if isinstance(listen, str) else list(listen)
        self.raise_fd_limit()
        # Load the state before listening, so the first answers are not "store unavailable" ones. The first
        # load (every user not in the default state) may take longer than a poll; on failure we listen anyway,
        # serve degraded and keep polling.
        await self.cache.poll(self.executor, wait_limit=max(30.0, self.cfg.store_timeout))
        for spec in specs:
            kind, where = parse_listen(spec)
            if kind == "unix":
                path = str(where)
                with contextlib.suppress(FileNotFoundError):
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        os.unlink(path)  # stale socket of a previous run
                    else:
                        raise ListenError(f"{path} exists and is not a socket")
                srv = await loop.create_unix_server(lambda: PolicyConnection(self), path, backlog=self.backlog)
                os.chmod(path, 0o666)  # Postfix's smtpd (user postfix) must be able to connect
                self._unix_paths.append(path)
                self.addresses.append(f"unix:{path}")
            else:
                host, port = where
                srv = await loop.create_server(lambda: PolicyConnection(self), host, port, backlog=self.backlog,
                                               reuse_address=True)
                for sock in srv.sockets:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    addr = sock.getsockname()
                    self.addresses.append(f"[{addr[0]}]:{addr[1]}" if ":" in addr[0] else f"{addr[0]}:{addr[1]}")
            self.servers.append(srv)
        self.tasks = [
            asyncio.create_task(self.cache.run(self.executor), name="guard-poll"),
            asyncio.create_task(self.recorder.run(self.executor, self.cfg.audit_flush_interval,
                                                  self.cfg.counter_flush_interval), name="guard-audit"),
            asyncio.create_task(self._sweep(), name="guard-sweep"),
        ]
        return self.addresses

    async def _sweep(self) -> None:
        """Close connections stuck in a request (slowloris) or idle for too long."""
        cfg = self.cfg
        while not self._stopped:
            await asyncio.sleep(min(1.0, cfg.request_timeout / 4))
            now = time.monotonic()
            for c in list(self.conns):
                if c.partial_since is not None and now - c.partial_since > cfg.request_timeout:
                    log.warning("request from %s not finished within %gs (%d bytes); closing", c.peer,
                                cfg.request_timeout, c.parser.pending)
                    self.protocol_errors += 1
                    c.close()
                elif now - c.last_active > cfg.idle_timeout:
                    c.close()

    async def close(self) -> None:
        for srv in self.servers:
            srv.close()
        for c in list(self.conns):
            c.close()
        self.cache.stopped = self.recorder.stopped = self._stopped = True
        pending = {t for t in self.tasks if not t.done()}
        for _ in range(10):  # re-cancel: a cancellation can be lost when it races with a result
            if not pending:
                break
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for srv in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 2)
        with contextlib.suppress(Exception):
            await self.recorder.drain(self.executor)
        for p in self._unix_paths:
            with contextlib.suppress(OSError):
                os.unlink(p)
        # Let worker threads finish what they run (a store call) so none outlives the server; bounded, since
        # a hung database call cannot be interrupted.
        self.executor.shutdown(wait=False, cancel_futures=True)
        waiter = asyncio.get_running_loop().run_in_executor(None, self.executor.shutdown, True)
        await asyncio.wait({waiter}, timeout=max(5.0, self.cfg.store_timeout))

    def status(self) -> dict[str, Any]:
        return {"addresses": self.addresses, "connections": len(self.conns), "requests": self.requests,
                "protocol_errors": self.protocol_errors, "users_in_memory": len(self.cache.users),
                "store_error": self.cache.last_error, "audit_queue": len(self.recorder.queue),
                "connection_limit": self.conn_limit, "connections_evicted": self.evicted}


async def serve(cfg: GuardConfig, listen: list[str], store: Store | None, geo: GeoSource,
                ready: Any = None) -> None:
    """Run until cancelled or SIGTERM/SIGINT."""
    import signal

    server = GuardServer(cfg, store, geo)
    await server.start(listen)
    # Long-lived objects loaded so far (modules, the users' mirror) need no more cyclic GC passes, and fewer
    # young-generation collections keep the latency tail short (process-wide: only in the server process).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # The event loop shares the GIL with the store threads (audit batches, polls): by default a thread that wants
    # the GIL waits up to 5 ms for the holder to yield it, straight into the answers' latency tail.
    sys.setswitchinterval(0.0005)
    log.info("guard listening on %s (store %s, geo %s)", ", ".join(server.addresses),
             store.safe_url if store else "none", geo.describe().get("source"))
    if ready is not None:
        ready(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("guard stopping")
        await server.close()
