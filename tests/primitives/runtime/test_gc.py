"""The server's collector settings (``edgeroom serve``)."""

from __future__ import annotations

import gc

from primitives.runtime.server import GC_GEN0_THRESHOLD, tune_gc


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # tuned, not switched off: cyclic garbage is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
