"""feedsync: one master catalog, syndicated to every sales channel.

>>> from feedsync import build
>>> report = build("examples/catalog.csv", ["google"], "out")  # doctest: +SKIP
"""

from __future__ import annotations

from feedsync.pipeline import build, validate

__version__ = "0.1.0"
__all__ = ["build", "validate", "__version__"]
