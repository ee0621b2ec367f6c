"""The atomic local replace used by the writers lives in ``feedsync.fileio``.

Kept as a name so that ``from feedsync.writers.atomic import AtomicFile`` goes on working
for code written against 0.1; new code imports from ``feedsync.fileio``.
"""

from feedsync.fileio import TEMP_PREFIX, AtomicFile, clean_stale_temps, fsync_directory

__all__ = ["TEMP_PREFIX", "AtomicFile", "clean_stale_temps", "fsync_directory"]
