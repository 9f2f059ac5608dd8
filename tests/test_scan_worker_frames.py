"""A worker whose parent went away with a connection reset stops quietly (no traceback on the user's terminal)."""

from __future__ import annotations

import asyncio

from mailposture.scan.workers import _frame, _Frames


class _ResetReader:
    def __init__(self, first: bytes) -> None:
        self.chunks = [first]

    async def read(self, n: int) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        raise ConnectionResetError(104, "Connection reset by peer")


async def test_a_reset_after_complete_frames_is_the_end_of_input() -> None:
    frames = _Frames(_ResetReader(_frame(("task", 1, "a.example", {}))))  # type: ignore[arg-type]
    assert await frames.batch() == [("task", 1, "a.example", {})]
    assert await frames.batch() is None


async def test_a_reset_in_the_middle_of_a_frame_is_the_end_too() -> None:
    frames = _Frames(_ResetReader(_frame(("task", 1, "a.example", {}))[:5]))  # type: ignore[arg-type]
    assert await asyncio.wait_for(frames.batch(), 5) is None
