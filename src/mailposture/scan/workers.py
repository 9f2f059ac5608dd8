"""``--workers N``: run the per-domain checks in N processes, each with its own event loop and DNS engine.

Design: the parent keeps the single pipeline of :mod:`mailposture.scan.runner` (one input reader, duplicate and
resume filtering, one writer, progress) and replaces the in-process ``check`` by :meth:`WorkerPool.check`, which
sends the domain to the least-loaded worker and awaits its result. So output files, ``--resume``, ordering
(completion order) and the summary are exactly those of a single-process scan, and the load balances itself
(a slow domain occupies one slot, not a whole shard).

Each worker is ``python -m mailposture.scan.workers FD``: a fresh interpreter (no fork of a process that already
runs threads), talking over a socketpair in length-prefixed pickle frames::

    parent -> worker   ("init", ScanSettings, resolver_factory_path, check_factory_path, encoded)
                       ("check", id, domain, attrs) ...          ("end",) when no more domains will come
    worker -> parent   ("result", id, dict) | ("line", id, json_bytes, fields) when encoded
                       | ("error", id, "Type: message") ...   ("stats", dict) after "end"

With ``encoded`` (a JSON Lines output) a worker sends each result as its finished JSON line plus the few fields
the parent reads (:class:`~mailposture.scan.outputs.EncodedResult`): the parent writes the bytes as they are.

Workers ignore SIGINT (Ctrl-C reaches the whole process group; the parent decides) and stop when the parent's
side of the socket closes without "end" (the parent was interrupted or killed): nothing is left running.
Factories are passed as import paths (``"package.module:function"``) because functions do not cross processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import itertools
import math
import os
import pickle
import signal
import socket
import struct
import sys
from typing import Any

from mailposture.scan.outputs import EncodedResult
from mailposture.scan.runner import ScanSettings

_LEN = struct.Struct("!I")
MAX_FRAME = 256 << 20


class WorkerError(RuntimeError):
    """A worker process failed (it died, or sent something unreadable)."""


class WorkerDied(WorkerError):
    """The worker holding this check stopped before answering (crash, OOM kill): the check may be retried."""


def factory_path(fn: Any) -> str | None:
    """``"module:qualname"`` for a module-level function (what a worker can import), else None."""
    if fn is None:
        return None
    if isinstance(fn, str):
        return fn
    mod, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not mod or not qual or "<" in qual or mod == "__main__":
        return None
    return f"{mod}:{qual}"


def load_factory(path: str | None) -> Any:
    if path is None:
        return None
    mod, _, attr = path.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


class _Frames:
    """Reads frames in bulk: one ``read`` takes whatever the socket holds and every complete frame in it is
    decoded at once (a busy worker sends hundreds per read), instead of two awaits per frame."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.buf = bytearray()

    async def batch(self) -> list[Any] | None:
        """The next complete frames (at least one), or None at a clean end of stream."""
        buf = self.buf
        while True:
            frames, used = [], 0
            size = len(buf)
            while size - used >= _LEN.size:
                (n,) = _LEN.unpack_from(buf, used)
                if n > MAX_FRAME:
                    raise WorkerError(f"frame of {n} bytes is too large")
                if size - used - _LEN.size < n:
                    break
                start = used + _LEN.size
                frames.append(pickle.loads(buf[start:start + n]))
                used = start + n
            if used:
                del buf[:used]
            if frames:
                return frames
            try:
                data = await self.reader.read(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                return None   # the parent went away with a reset (e.g. its stdout was a closed pipe): stop quietly
            if not data:
                if buf:
                    raise WorkerError("connection closed in the middle of a frame")
                return None
            buf += data


# ---------------------------------------------------------------------------------------------------------------
# Parent side

class _Coalescer:
    """Frames written in one event-loop iteration go out in one ``write`` (one syscall, not one per domain);
    senders wait for the socket only when its buffer is above :data:`HIGH_WATER`."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.buf: list[bytes] = []
        self.size = 0  # octets in buf

    def send(self, data: bytes) -> None:
        if not self.buf:
            asyncio.get_running_loop().call_soon(self.flush)
        self.buf.append(data)
        self.size += len(data)

    def flush(self) -> None:
        if self.buf:
            data = b"".join(self.buf)
            self.buf.clear()
            self.size = 0
            with contextlib.suppress(Exception):   # a closed transport: the reader side reports it
                self.writer.write(data)

    def pressed(self) -> bool:
        """True when a sender should ``await drain()``: the connection is closing or its buffer is high."""
        transport = self.writer.transport
        return transport.is_closing() or transport.get_write_buffer_size() + self.size > HIGH_WATER

    async def drain(self) -> None:
        transport = self.writer.transport
        if transport.is_closing():
            raise ConnectionResetError("connection closed")
        if transport.get_write_buffer_size() + self.size > HIGH_WATER:
            self.flush()
            await self.writer.drain()


HIGH_WATER = 1 << 20


class _Worker:
    def __init__(self, index: int, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.index, self.proc, self.reader, self.writer = index, proc, reader, writer
        self.out = _Coalescer(writer)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.stats: dict[str, Any] = {}
        self.dead: str | None = None
        self.task: asyncio.Task[None] | None = None


class WorkerPool:
    """N worker processes behind one async ``check(domain, attrs)``. Use as an async context manager."""

    def __init__(self, settings: ScanSettings, n: int, *, resolver_factory: str | None = None,
                 check_factory: str | None = None, encoded: bool = False) -> None:
        """``encoded``: results come back as :class:`EncodedResult` (their JSON line, encoded by the worker),
        for a writer whose ``takes_encoded`` is true."""
        if n < 1:
            raise ValueError("at least one worker")
        self.settings, self.n, self.encoded = settings, n, encoded
        self.resolver_factory, self.check_factory = resolver_factory, check_factory
        self.workers: list[_Worker] = []
        self._ids = itertools.count()
        self._ended = False
        self.on_fatal: Any = None      # called (once the pool runs) when every worker has stopped

    def worker_settings(self) -> ScanSettings:
        """Each worker's share: --qps and --concurrency are limits for the whole scan, so they are divided
        among the workers (each runs its own engine)."""
        dns = self.settings.dns
        share = dataclasses.replace(dns, concurrency=max(1, math.ceil(dns.concurrency / self.n)),
                                    qps=dns.qps / self.n if dns.qps else dns.qps)
        return dataclasses.replace(self.settings, dns=share, workers=1)

    async def __aenter__(self) -> WorkerPool:
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, *exc: Any) -> None:
        await self.close(finish=exc_type is None)

    async def start(self) -> None:
        env = dict(os.environ)
        # the workers import the same package (and test helpers) as this process
        env["PYTHONPATH"] = os.pathsep.join(p for p in [*sys.path, env.get("PYTHONPATH", "")] if p)
        for i in range(self.n):
            mine, theirs = socket.socketpair()
            try:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "mailposture.scan.workers", str(theirs.fileno()),
                    pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL, env=env)
            finally:
                theirs.close()
            reader, writer = await asyncio.open_connection(sock=mine, limit=1 << 20)
            w = _Worker(i, proc, reader, writer)
            writer.write(_frame(("init", self.worker_settings(), self.resolver_factory, self.check_factory,
                                 self.encoded)))
            w.task = asyncio.create_task(self._receive(w))
            self.workers.append(w)

    async def _receive(self, w: _Worker) -> None:
        frames = _Frames(w.reader)
        pending = w.pending
        try:
            while (batch := await frames.batch()) is not None:
                for msg in batch:
                    kind = msg[0]
                    if kind == "stats":
                        w.stats = msg[1]
                        continue
                    fut = pending.pop(msg[1], None)
                    if fut is None or fut.done():
                        continue
                    if kind == "result":
                        fut.set_result(msg[2])
                    elif kind == "line":
                        fut.set_result(EncodedResult(msg[2], msg[3]))
                    else:
                        fut.set_exception(WorkerError(msg[2]))
        except (WorkerError, OSError, pickle.UnpicklingError, EOFError) as exc:
            w.dead = str(exc)
        finally:
            if w.dead is None:
                w.dead = "worker process ended"
            code = None
            with contextlib.suppress(Exception):
                code = await asyncio.wait_for(w.proc.wait(), 5)
            for fut in w.pending.values():
                if not fut.done():
                    fut.set_exception(WorkerDied(f"worker process {w.proc.pid} stopped (exit code {code}): "
                                                 f"{w.dead}"))
            w.pending.clear()
            if not self._ended and self.alive == 0 and self.on_fatal is not None:
                self.on_fatal()

    async def check(self, domain: str, attrs: dict[str, str]) -> dict[str, Any]:
        """Run one check in the least-loaded worker. If that worker dies first, the check is sent once more to
        another worker (the domain may not be the cause); a second death is reported as this domain's error."""
        last: WorkerError | None = None
        for _ in range(2):
            alive = [w for w in self.workers if w.dead is None]
            if not alive:
                await self._hold_if_all_dead()
                raise WorkerError("no worker process is running") from last
            w = min(alive, key=lambda x: len(x.pending))
            ident = next(self._ids)
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            w.pending[ident] = fut
            try:
                w.out.send(_frame(("check", ident, domain, attrs)))
                if w.out.pressed():
                    await w.out.drain()
                return await fut
            except WorkerDied as exc:
                last = exc
            except (ConnectionError, OSError) as exc:
                last = WorkerDied(f"worker process {w.proc.pid}: {exc}")
                if w.dead is None:
                    w.dead = str(exc)
            finally:
                w.pending.pop(ident, None)
        assert last is not None
        await self._hold_if_all_dead()
        raise last

    async def _hold_if_all_dead(self) -> None:
        # With every worker gone the run is being stopped (on_fatal): a check must not turn that into an error
        # result for its domain, which --resume would then skip. Wait for the cancellation instead.
        if self.alive == 0 and self.on_fatal is not None and not self._ended:
            await asyncio.get_running_loop().create_future()

    @property
    def alive(self) -> int:
        return sum(1 for w in self.workers if w.dead is None)

    @property
    def stats(self) -> dict[str, Any]:
        """The workers' engine statistics, summed (numbers only)."""
        total: dict[str, Any] = {}
        for w in self.workers:
            for k, v in w.stats.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    total[k] = total.get(k, 0) + v
        return total

    async def close(self, *, finish: bool = True) -> None:
        """``finish``: say "end", let the workers report their statistics and exit; else stop them now."""
        self._ended = True
        for w in self.workers:
            with contextlib.suppress(Exception):
                if finish and w.dead is None:
                    # the worker answers "end" with its statistics, then closes: keep reading until then
                    w.out.flush()
                    w.writer.write(_frame(("end",)))
                    await w.writer.drain()
                else:
                    w.writer.close()
        for w in self.workers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(w.task), 30 if finish else 5)  # type: ignore[arg-type]
            with contextlib.suppress(Exception):
                w.writer.close()
            if w.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
                with contextlib.suppress(Exception):
                    await w.proc.wait()
            if w.task is not None and not w.task.done():
                w.task.cancel()
                with contextlib.suppress(BaseException):
                    await w.task


# ---------------------------------------------------------------------------------------------------------------
# Worker side

async def serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    frames = _Frames(reader)
    first = await frames.batch()
    if not first or first[0][0] != "init":
        return
    init, backlog = first[0], first[1:]
    _, settings, resolver_path, check_path, encoded = init
    resolver_factory = load_factory(resolver_path) or (lambda d: d.engine())
    from mailposture.scan.checking import default_check_factory

    check_factory = load_factory(check_path) or default_check_factory
    tasks: set[asyncio.Task[None]] = set()
    out = _Coalescer(writer)

    def send(obj: Any) -> None:
        out.send(_frame(obj))                 # _frame may raise: a result that cannot be pickled

    async def one(ident: int, domain: str, attrs: dict[str, str]) -> None:
        try:
            res = await check(domain, attrs)
            try:
                if encoded and isinstance(res, dict):
                    res["domain"] = domain  # what the parent's runner would add (scan/runner.py)
                    res.setdefault("attrs", attrs)
                    enc = EncodedResult.of(res)
                    send(("line", ident, enc.line, dict(enc)))
                else:
                    send(("result", ident, res))
            except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
                send(("error", ident, f"result not transferable: {exc}"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            send(("error", ident, f"{type(exc).__name__}: {exc}"))
        if out.pressed():
            with contextlib.suppress(Exception):
                await out.drain()

    async with resolver_factory(settings.dns) as resolver:
        check = check_factory(resolver, settings)
        finished = False
        batch: list[Any] | None = backlog
        while not finished:
            if not batch:
                batch = await frames.batch()
                if batch is None:
                    break                 # the parent went away without "end": stop now
            for msg in batch:
                if msg[0] == "end":
                    finished = True
                    break
                _, ident, domain, attrs = msg
                t = asyncio.create_task(one(ident, domain, attrs))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            batch = None
        if finished:
            await asyncio.gather(*tasks, return_exceptions=True)
            stats = getattr(resolver, "stats", None)
            send(("stats", stats.to_json() if stats is not None and hasattr(stats, "to_json") else {}))
            out.flush()
        else:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(Exception):
        await writer.drain()
        writer.close()
        await writer.wait_closed()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Ctrl-C and a group-wide SIGTERM are for the parent: it writes what is done, then closes our socket, and
    # that (or the parent's death) is what stops a worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from mailposture.dns.engine import run
    from mailposture.runtime import tune_gc

    tune_gc()
    try:
        run(serve(int(argv[0])))
    except (ConnectionResetError, BrokenPipeError):
        pass   # the parent is gone: what it wrote is its business, a worker has nothing to add
    return 0


if __name__ == "__main__":
    sys.exit(main())
