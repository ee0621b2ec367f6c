"""Publishers: deliver a finished feed file to a destination (file, sftp, ftp, http[s]).

One module per transport, chosen from ``PUBLISHERS`` by URL scheme (Scrapy's storages).
See docs/publishing.md for what each guarantees.
"""

from feedsync.publishers.base import (
    PUBLISHERS,
    Destination,
    Publisher,
    Receipt,
    publisher_for,
)

__all__ = ["PUBLISHERS", "Destination", "Publisher", "Receipt", "publisher_for"]
