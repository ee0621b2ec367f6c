"""One small exception hierarchy. Each user error carries its location and an exit code.

The CLI turns a ``FeedsyncError`` into one ``Error:`` line (plus an optional ``Tip:``) and
exits with ``error.exit_code``; nothing else in the library prints.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes, documented in the README and ../shared/DESIGN.md. Tests assert by name."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CATALOG = 3
    TEMPLATE = 4
    GATE_REFUSED = 5
    PUBLISH_RETRYABLE = 6
    LOCKED = 7
    PUBLISH_FATAL = 8
    SECURITY = 9
    INTERRUPTED = 130
    TERMINATED = 143


class FeedsyncError(Exception):
    """Base of every error a user can cause. Never raised bare."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        product_id: str | None = None,
        field: str | None = None,
        key: str | None = None,
        tip: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.product_id = product_id
        self.field = field
        self.key = key
        self.tip = tip

    def __reduce__(self) -> tuple[object, ...]:
        # Keep file, line, product and tip when an error crosses a process boundary
        # (a parallel build's worker): the default pickling keeps only the message.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def location(self) -> str:
        """``file:line`` plus product, field and config key where known."""
        parts: list[str] = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.key:
            parts.append(f"key {self.key!r}")
        if self.product_id:
            parts.append(f"product {self.product_id!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "exit_code": int(self.exit_code),
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "product_id": self.product_id,
            "field": self.field,
            "key": self.key,
            "tip": self.tip,
        }


def _rebuild(cls: type[FeedsyncError], message: str, state: dict[str, object]) -> FeedsyncError:
    error = cls(message)
    error.__dict__.update(state)
    return error


class ConfigError(FeedsyncError):
    """Bad command line, config file or option value."""

    exit_code = ExitCode.USAGE


class OutputError(FeedsyncError):
    """The output directory or file cannot be written (missing, read-only, disk full)."""

    exit_code = ExitCode.USAGE


class CatalogError(FeedsyncError):
    """The catalog cannot be read at all (missing, binary, malformed beyond a row)."""

    exit_code = ExitCode.CATALOG


class TemplateError(FeedsyncError):
    """A channel template is broken: bad YAML, bad Jinja, unknown filter, bad rule."""

    exit_code = ExitCode.TEMPLATE


class GateRefused(FeedsyncError):
    """The publish gate refused a feed (empty, shrunk, too many rejects)."""

    exit_code = ExitCode.GATE_REFUSED


class PublishRetryable(FeedsyncError):
    """Publishing failed, and a later retry may succeed (timeout, 5xx, connection lost)."""

    exit_code = ExitCode.PUBLISH_RETRYABLE


class LockHeld(FeedsyncError):
    """Another run holds the lock for this state directory."""

    exit_code = ExitCode.LOCKED


class PublishFatal(FeedsyncError):
    """Publishing failed for good (auth refused, feed rejected, quota for the day)."""

    exit_code = ExitCode.PUBLISH_FATAL


class SecurityRefusal(FeedsyncError):
    """Unknown or changed host key, TLS failure, template sandbox violation."""

    exit_code = ExitCode.SECURITY


class Interrupted(FeedsyncError):
    """SIGINT or SIGTERM arrived; temp files were cleaned up."""

    exit_code = ExitCode.INTERRUPTED
