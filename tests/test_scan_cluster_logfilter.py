"""The distributed cancel race (a NameError logged through tornado on Ctrl-C) is hidden; other errors are not."""

from __future__ import annotations

import logging

from mailposture.scan.cluster import _quiet_distributed_cancel_race


def _cancel_like() -> None:
    if future is not None:  # noqa: F821 - reproduces distributed's unbound closure variable
        return


def test_cancel_race_record_dropped_other_errors_kept(caplog) -> None:
    _quiet_distributed_cancel_race()
    _quiet_distributed_cancel_race()  # idempotent: one filter
    log = logging.getLogger("tornado.application")
    assert len(log.filters) == 1
    with caplog.at_level(logging.ERROR, logger="tornado.application"):
        try:
            _cancel_like()
        except NameError:
            log.error("Exception in callback functools.partial(<function sync.<locals>.cancel>)", exc_info=True)
        try:
            raise NameError("something else")
        except NameError:
            log.error("Exception in callback functools.partial(<function other>)", exc_info=True)
        log.error("plain error")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["Exception in callback functools.partial(<function other>)", "plain error"]
