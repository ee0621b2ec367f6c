"""Reading a channel's ``api:`` settings: typed values, key paths in every error, secrets.

Secrets (service-account key, LWA client secret and refresh token, Meta access token) are
read only through ``feedsync.secrets.secret_from`` (``X_env`` / ``X_file``), so an inline
value is refused and everything read is registered for redaction.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from feedsync.apis.http import Limits
from feedsync.errors import ConfigError
from feedsync.secrets import secret_from

COMMON = frozenset({"kind", "timeout", "deadline", "retries", "retry_after_max", "backoff",
                    "keepalive_days", "hold_after", "base_url"})


class Settings:
    """Typed access to one ``channels.NAME.api`` mapping; unknown keys are refused."""

    def __init__(self, raw: Mapping[str, Any], key: str, known: Iterable[str]) -> None:
        self.raw = dict(raw)
        self.key = key
        allowed = set(known) | COMMON
        for name in self.raw:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
                raise ConfigError(
                    f"unknown key {name!r}", key=f"{key}.{name}",
                    tip=f"did you mean {close[0]!r}?" if close else
                    "known keys: " + ", ".join(sorted(allowed)))
        self.limits = Limits.from_settings(self.raw, key)

    def path(self, name: str) -> str:
        return f"{self.key}.{name}"

    def text(self, name: str, default: str | None = None, pattern: str | None = None,
             what: str = "") -> str:
        value = self.raw.get(name, default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)   # ids such as merchant_id: 123456 read as numbers by YAML
        if not isinstance(value, str) or not value or value != value.strip():
            need = f" ({what})" if what else ""
            raise ConfigError(f"needs text without surrounding spaces{need}",
                              key=self.path(name),
                              tip="quote the value: YAML reads NO, off and 012 as other types")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ConfigError(f"{value!r} is not {what or 'valid here'}", key=self.path(name))
        return value

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not re.match(r"^https?://[^/?#\s]+", value) or "?" in value or "@" in value:
            raise ConfigError(f"{value!r} is not an http(s) base URL without query or "
                              "credentials", key=self.path(name))
        return value.rstrip("/")

    def number(self, name: str, default: float, low: float, high: float,
               whole: bool = False) -> float:
        value = self.raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                whole and not isinstance(value, int)) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise ConfigError(f"must be {kind} from {low:g} to {high:g}", key=self.path(name))
        return float(value)

    def whole(self, name: str, default: int, low: int, high: int) -> int:
        return int(self.number(name, default, low, high, whole=True))

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError("must be true or false", key=self.path(name))
        return value

    def secret(self, name: str, what: str) -> str:
        """A secret from ``NAME_env`` or ``NAME_file``; required."""
        try:
            value = secret_from(self.raw, name)
        except ConfigError as exc:
            exc.key = self.path(exc.key or name)
            raise
        if not value:
            raise ConfigError(f"needs {what}", key=self.path(f"{name}_env"),
                              tip=f"set {name}_env: NAME_OF_ENV_VAR or {name}_file: /path "
                                  "(never the value itself)")
        return value

    def keepalive(self, default_days: float, most: float = 3650) -> float | None:
        """``keepalive_days`` in seconds; 0 turns keep-alive off."""
        days = self.number("keepalive_days", default_days, 0, most)
        return days * 86400 if days else None

    def hold_after(self) -> int:
        return self.whole("hold_after", 3, 1, 1000)
