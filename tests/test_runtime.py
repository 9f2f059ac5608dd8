"""The process-wide GC setting used by long runs."""

from __future__ import annotations

import subprocess
import sys


def test_tune_gc_raises_the_threshold_and_freezes() -> None:
    code = ("import gc; from mailposture.runtime import tune_gc, GEN0_THRESHOLD; before = gc.get_freeze_count(); "
            "tune_gc(); assert gc.get_threshold()[0] == GEN0_THRESHOLD; assert gc.get_freeze_count() > before; "
            "x = []; x.append(x); del x; assert gc.collect() >= 1; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
