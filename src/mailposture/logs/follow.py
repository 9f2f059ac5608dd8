"""Following live log files by polling: survives rotation (rename + new file, and copytruncate) and resumes
from the position saved in a small JSON state file.

For each followed path the follower keeps the open file, its inode and the offset of the last complete line.
Each ``poll()``:

* reads new complete lines (a partial last line waits for its newline);
* when the path now names another inode (logrotate's rename + create), first reads the rest of the old file
  through the still-open handle, then starts the new file at 0;
* when the file shrank (copytruncate), starts again at 0.

``state()`` / the state file hold ``{path: {"inode", "offset"}}``. On start with a saved state the file is
resumed at the offset when the inode matches; when it does not (rotated while stopped), the rotated file
(``path.1`` or ``path-*`` with the saved inode) is read from the offset first, then the new file from 0.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class _F:
    path: str
    fh: object | None = None
    inode: int | None = None
    offset: int = 0
    buf: bytes = b""


class Follower:
    def __init__(self, paths: list[str], state_file: str | None = None, from_start: bool = True,
                 max_line: int = 64 * 1024) -> None:
        self.files = {p: _F(p) for p in paths}
        self.state_file = state_file
        self.max_line = max_line
        self.saved: dict[str, dict[str, int]] = {}
        if state_file and os.path.exists(state_file):
            try:
                self.saved = json.loads(Path(state_file).read_text("utf-8"))
            except (OSError, ValueError):
                self.saved = {}
        self.from_start = from_start
        self._pending_rotated: list[tuple[str, int]] = []  # (rotated file path, offset) read before the new one
        self._warm: list[tuple[str, int]] = []  # (path, end offset) already handled before: history only
        for f in self.files.values():
            self._start(f)

    def _start(self, f: _F) -> None:
        saved = self.saved.get(f.path)
        try:
            st = os.stat(f.path)
        except OSError:
            return  # appears later
        if saved:
            if saved.get("inode") == st.st_ino and saved.get("offset", 0) <= st.st_size:
                self._warm.append((f.path, int(saved["offset"])))
                self._open(f, saved["offset"])
                return
            rotated = self._find_rotated(f.path, saved.get("inode"))
            if rotated:
                self._warm.append((rotated, int(saved.get("offset", 0))))
                self._pending_rotated.append((rotated, int(saved.get("offset", 0))))
            self._open(f, 0)
            return
        if self.from_start:
            self._open(f, 0)
        else:
            self._warm.append((f.path, st.st_size))
            self._open(f, st.st_size)

    def warmup(self) -> Iterator[tuple[str, str]]:
        """The lines before the starting positions (handled in an earlier run, or present before the first
        one): for rebuilding baselines, not for acting on."""
        for path, end in self._warm:
            tmp = _F(path)
            try:
                with open(path, "rb") as fh:
                    tmp.fh = fh
                    for ln in self._drain(tmp, limit=end):
                        yield path, ln
            except OSError:
                continue
        self._warm = []

    @staticmethod
    def _find_rotated(path: str, inode: int | None) -> str | None:
        if inode is None:
            return None
        for cand in [path + ".1", path + ".0", *sorted(glob.glob(path + "-*"))]:
            try:
                if os.stat(cand).st_ino == inode and not cand.endswith(".gz"):
                    return cand
            except OSError:
                continue
        return None

    def _open(self, f: _F, offset: int) -> None:
        try:
            fh = open(f.path, "rb")
        except OSError:
            return
        st = os.fstat(fh.fileno())
        fh.seek(offset)
        if f.fh is not None:
            f.fh.close()  # type: ignore[attr-defined]
        f.fh, f.inode, f.offset, f.buf = fh, st.st_ino, offset, b""

    def _drain(self, f: _F, limit: int | None = None) -> Iterator[str]:
        fh = f.fh
        if fh is None:
            return
        while True:
            size = 1 << 20 if limit is None else min(1 << 20, limit - f.offset - len(f.buf))
            chunk = fh.read(size) if size > 0 else b""  # type: ignore[attr-defined]
            if not chunk:
                break
            data = f.buf + chunk
            lines = data.split(b"\n")
            f.buf = lines.pop()
            if len(f.buf) > self.max_line:  # a runaway line without newline: drop it
                f.offset += len(f.buf)
                f.buf = b""
            for ln in lines:
                f.offset += len(ln) + 1
                yield ln.decode("utf-8", "replace").rstrip("\r")

    def poll(self) -> Iterator[tuple[str, str]]:
        """New complete lines as (path, line)."""
        while self._pending_rotated:
            rot, off = self._pending_rotated.pop(0)
            tmp = _F(rot)
            try:
                tmp.fh = open(rot, "rb")
                tmp.fh.seek(off)  # type: ignore[attr-defined]
                for ln in self._drain(tmp):
                    yield rot, ln
            except OSError:
                pass
            finally:
                if tmp.fh is not None:
                    tmp.fh.close()  # type: ignore[attr-defined]
        for f in self.files.values():
            if f.fh is None:
                if os.path.exists(f.path):
                    self._open(f, 0)
                else:
                    continue
            for ln in self._drain(f):
                yield f.path, ln
            try:
                st = os.stat(f.path)
            except OSError:
                continue  # rotated away, new file not yet created: keep the old handle
            if st.st_ino != f.inode:
                for ln in self._drain(f):  # the rest of the old file
                    yield f.path, ln
                self._open(f, 0)
                for ln in self._drain(f):
                    yield f.path, ln
            elif st.st_size < f.offset:  # copytruncate
                self._open(f, 0)
                for ln in self._drain(f):
                    yield f.path, ln

    def state(self) -> dict[str, dict[str, int]]:
        return {f.path: {"inode": f.inode or 0, "offset": f.offset} for f in self.files.values() if f.inode}

    def save(self) -> None:
        if not self.state_file:
            return
        p = Path(self.state_file)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.state()), "utf-8")
        os.replace(tmp, p)

    def close(self) -> None:
        for f in self.files.values():
            if f.fh is not None:
                f.fh.close()  # type: ignore[attr-defined]
                f.fh = None
