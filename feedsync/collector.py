"""Python's cyclic garbage collector, tuned for the length of one pass.

A pass allocates container objects by the million (records, mapped items, issues and, in a
parallel build, every outcome unpickled from a worker), almost none of them in reference
cycles: reference counting frees them. The collector's default (a young-generation pass
every 700 net allocations, each promoting survivors, with full passes over every live
object, the compiled channels and imported modules among them) then costs a measurable
share of the run: ~6% of a seven-channel build's CPU, most of it in the parent while it
unpickles worker results (benchmarks/README.md).

For the pass, what exists before it (modules, compiled channels, configuration) is moved
out of the collector's sight (``gc.freeze``: a forked worker also stops touching, and so
copying, those pages), and young passes run every ``YOUNG_THRESHOLD`` allocations. Cycles
are still collected, so memory stays bounded. Both are undone when the pass ends, since
feedsync is also a library inside someone else's process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000  # measured: as fast as no collection at all (100k, 7 channels)


@contextmanager
def tuned_for_pass() -> Iterator[None]:
    """Freeze what exists and collect young objects less often, until the pass ends."""
    thresholds = gc.get_threshold()
    frozen_by_caller = gc.get_freeze_count() > 0
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_by_caller:  # unfreeze() thaws everything, a caller's freeze too
            gc.unfreeze()
