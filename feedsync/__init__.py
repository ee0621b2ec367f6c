"""feedsync: one master catalog, syndicated to every sales channel.

The library's front door; the ``feedsync`` command calls these and only draws what they
return (each result has ``to_dict()``, the command's ``--json``):

- ``build``, ``validate``: one pass over the catalog into every selected channel
  (``RunReport``);
- ``explain``: one product's way through each channel (``Explanation``);
- ``push``: build, publish gate, deliver, record (``RunReport`` with deliveries);
- ``rollback``: re-publish an earlier good feed (``RunReport``);
- ``history``: recent runs from the state (``HistoryReport``);
- ``channels``: the channel folders available (``ChannelsReport``).

>>> from feedsync import build
>>> report = build("examples/catalog.csv", ["google"], "out")  # doctest: +SKIP

``feedsync.channels`` is the function above; the channel-folder package is imported by
its modules' names (``from feedsync.channels.loader import ChannelLibrary``).
"""

from __future__ import annotations

from feedsync.explain import explain
from feedsync.listings import channels, history
from feedsync.pipeline import build, validate
from feedsync.push import push, rollback

__version__ = "0.1.0"
__all__ = ["build", "validate", "explain", "push", "rollback", "history", "channels",
           "__version__"]
