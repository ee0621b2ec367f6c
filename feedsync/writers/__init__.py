"""Writers: streaming feed serialisers, chosen from ``WRITERS`` by the output's ``writer:``."""

from __future__ import annotations

from collections.abc import Callable

from feedsync.channels.loader import WriterName
from feedsync.writers.amazon import AmazonListingsWriter
from feedsync.writers.base import Column, ItemRejected, Layout, Writer
from feedsync.writers.delimited import csv_writer, tsv_writer
from feedsync.writers.jsonl import JsonArrayWriter, JsonLinesWriter
from feedsync.writers.rss import RssWriter

WRITERS: dict[WriterName, Callable[[Layout], Writer]] = {
    "rss": RssWriter,
    "csv": csv_writer,
    "tsv": tsv_writer,
    "jsonl": JsonLinesWriter,
    "json": JsonArrayWriter,
    "amazon_listings": AmazonListingsWriter,
}

__all__ = ["WRITERS", "Column", "ItemRejected", "Layout", "Writer"]
