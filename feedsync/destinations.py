"""A destination checked when the config is loaded: everything that needs no secret.

``feedsync build`` and ``feedsync push`` both refuse a config whose destinations could
never work (an unknown scheme, a password in the URL, a path with ``..``, an unknown or
mistyped option) before anything is built, locked or recorded. Reading secrets and key
files is left to ``publishers.publisher_for``, which ``push`` calls before taking the
lock: a build on a machine without the upload credentials must still run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from feedsync.errors import ConfigError
from feedsync.publishers.base import PUBLISHERS, Destination
from feedsync.publishers.common import Limits, opt_bool, opt_path, parse_location

_FLAGS: Final = ("gzip", "allow_direct_upload", "trust_on_first_use", "tls",
                  "follow_symlinks_outside")
_PATHS: Final = ("key_file", "known_hosts", "ca_file", "password_file", "key_passphrase_file")
_ENV_NAMES: Final = ("password_env", "key_passphrase_env")
_METHODS: Final = ("PUT", "POST")


def check_destination(dest: Destination, key: str, where: str | None = None) -> None:
    """Refuse ``dest`` with a ``ConfigError`` naming ``key`` (``channels.x.destinations[0]``)
    plus the URL or option at fault."""
    try:
        _check(dest)
    except ConfigError as exc:
        exc.key = f"{key}.{exc.key}" if exc.key else key
        exc.file = exc.file or where
        raise


def _check(dest: Destination) -> None:
    scheme = dest.url.split("://", 1)[0].lower() if "://" in dest.url else ""
    if scheme not in PUBLISHERS:
        raise ConfigError(f"unknown destination scheme {scheme!r} in {dest.display()} "
                          f"(known: {', '.join(sorted(PUBLISHERS))})", key="url")
    location = parse_location(dest)  # password in the URL, '..', NUL, unknown options
    if scheme == "file":  # the same checks, in the same words, as the file publisher's
        if location.host not in ("", "localhost"):
            raise ConfigError(f"file URLs name a local path: {dest.display()} has host "
                              f"{location.host!r}", key="url")
        if not location.directory.startswith("/"):
            raise ConfigError("file URLs need an absolute path: file:///srv/feeds/", key="url")
    elif not location.host:
        raise ConfigError(f"{scheme} URL needs a host: {dest.display()}", key="url")
    options = dest.options
    Limits.from_options(options)
    for name in _FLAGS:
        opt_bool(options, name)
    for name in _PATHS:
        opt_path(options, name)
    for name in _ENV_NAMES:
        value = options.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError("expected the name of an environment variable", key=name)
    for secret in ("password", "key_passphrase"):
        if f"{secret}_env" in options and f"{secret}_file" in options:
            raise ConfigError(f"set only one of {secret}_env and {secret}_file",
                              key=f"{secret}_env")
    method = options.get("method", "PUT")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise ConfigError("option method must be PUT or POST", key="method")
    headers = options.get("headers_env")
    if headers is not None and not (isinstance(headers, Mapping) and all(
            isinstance(v, str) and v for v in headers.values())):
        raise ConfigError("headers_env must map header names to variable names",
                          key="headers_env")


def destination_of(raw: Mapping[str, Any], key: str, where: str | None = None) -> Destination:
    """The ``Destination`` of one ``destinations:`` entry (``url`` plus options), checked."""
    options = dict(raw)
    url = options.pop("url", None)
    if not isinstance(url, str) or not url:
        raise ConfigError("a destination needs a url", file=where, key=f"{key}.url")
    dest = Destination(url, options)
    check_destination(dest, key, where)
    return dest
