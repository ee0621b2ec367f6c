"""The catalog progress bar shows rate and ETA (issue 14 item 9): bytes read drive the
bar, the transfer speed and the time remaining (rich's columns); products/s beside them.
Rendered with rich into a string, as a terminal would show it.
"""

from __future__ import annotations

import io
import re
import time

from rich.console import Console
from rich.progress import Progress as RichProgress

from feedsync.pipeline import Progress
from feedsync.terminal import catalog_progress


def _render(bar: RichProgress) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=160, color_system=None).print(bar.make_tasks_table(bar.tasks))
    return buffer.getvalue()


def test_the_bar_shows_products_per_second_speed_and_eta() -> None:
    bar, update = catalog_progress(Console(file=io.StringIO(), width=160))
    update(Progress(products=1_000, bytes_read=1_000_000, bytes_total=10_000_000))
    time.sleep(0.05)  # rich derives speed from samples over time; not a timed assertion
    update(Progress(products=2_000, bytes_read=2_000_000, bytes_total=10_000_000))
    text = _render(bar)
    assert "2,000 products" in text
    assert re.search(r"[\d,]+ products/s", text), text
    assert re.search(r"\d+(\.\d+)? [kMG]B/s", text), text
    assert re.search(r"ETA\s+\d+:\d\d:\d\d", text), text
    assert "2.0/10.0 MB" in text


def test_without_a_total_the_bar_still_counts() -> None:
    bar, update = catalog_progress(Console(file=io.StringIO(), width=160))
    update(Progress(products=10, bytes_read=500, bytes_total=0))
    text = _render(bar)
    assert "10 products" in text and "ETA" in text
