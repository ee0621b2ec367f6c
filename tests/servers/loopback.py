"""A guard that fails a test when anything tries to reach a host other than loopback.

The API channels default to the real services (merchantapi.googleapis.com, api.amazon.com,
sellingpartnerapi-na.amazon.com, graph.facebook.com); the tests must point every one of
them at the stand-ins. ``install`` wraps ``socket.getaddrinfo`` and ``socket.socket.connect``:
a non-loopback name or address raises ``OSError`` *and* is remembered, because feedsync
treats connection errors as retryable and might swallow the exception. The fixture
``loopback_only`` (tests/servers/api_fixtures.py) asserts that nothing was remembered;
subprocesses get the same guard from ``loopback_site/sitecustomize.py``, which ends the
process with exit code 97 on the first attempt.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

ALLOWED_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


def _loopback(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in ALLOWED_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def install(on_violation: Callable[[str], None]) -> Callable[[], None]:
    """Install the guard; return a function that removes it."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            on_violation(f"resolve {host!r}")
            raise OSError(f"loopback guard: refusing to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            on_violation(f"connect {address!r}")
            raise OSError(f"loopback guard: refusing to connect to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]

    def remove() -> None:
        socket.getaddrinfo = real_getaddrinfo
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]

    return remove
