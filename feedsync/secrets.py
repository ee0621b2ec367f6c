"""Secrets: read them from the environment or a file, and keep them out of every output.

A secret option ``X`` is configured as ``X_env`` (name of an environment variable) or
``X_file`` (path of a file whose content, stripped of one trailing newline, is the secret).
An inline ``X`` value is refused: config files end up in git and in bug reports.

Every secret that is read is *registered*. ``redact(text)`` replaces each registered value
(and its percent-encoded form), every URL query string and every ``user:password@`` userinfo
with ``***``. ``RedactingFilter`` applies ``redact`` to log records, message *and* args,
so third-party loggers (urllib3's DEBUG request lines, asyncssh) are scrubbed as well.

Example::

    password = secret_from({"password_env": "FEED_SFTP_PASSWORD"}, "password")
    log.info("uploading %s", redact(f"https://h/p?sig={password}"))  # https://h/p?***
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from feedsync.errors import ConfigError

MASK = "***"
# Shorter values would mask ordinary words; no real password or token is this short.
MIN_SECRET_LENGTH = 4
# A server reply quoted in a message is cut to this many characters (after redaction, so a
# cut never leaves half a secret readable).
QUOTE_LENGTH = 300

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# scheme://user:password@host -> scheme://***@host (a bare user name is kept: it is not
# a credential, and messages such as "authentication refused for user@host" need it).
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@:]*:[^/\s@]*@")
# Any query string of a URL or of a request line ("PUT /up?X-Amz-Signature=... HTTP/1.1").
_QUERY = re.compile(r"(?P<head>(?:://|\s|^|\"|')[^\s?\"'<>]*)\?[^\s\"'<>#]+", re.MULTILINE)


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that ``redact`` masks it from now on (and its URL encodings)."""
    register_secrets([value])


def register_secrets(values: Iterable[str | None]) -> None:
    """``register_secret`` for several values, compiling the pattern once (a key file's
    PEM lines would otherwise recompile an ever longer pattern once per line)."""
    variants: set[str] = set()
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH:
            variants |= _encodings(value)
    if not variants:
        return
    with _lock:
        global _pattern
        before = len(_secrets)
        _secrets.update(v for v in variants if len(v) >= MIN_SECRET_LENGTH)
        if len(_secrets) != before:
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def _encodings(value: str) -> set[str]:
    """The forms in which ``value`` can come back in a server's reply: raw, stripped,
    percent-encoded (both styles), JSON-escaped and base64 (standard and URL-safe, with and
    without padding): a server that echoes a header or a form body echoes one of these."""
    raw = value.encode("utf-8")
    found = {value, value.strip(), quote(value, safe=""), quote_plus(value),
             json.dumps(value)[1:-1]}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        found |= {text, text.rstrip("=")}
    return found


def register_basic_auth(user: str, password: str | None) -> None:
    """Register what HTTP Basic authentication sends: base64 of ``user:password`` (the
    password alone is registered by ``secret_from``). A server that echoes the
    ``Authorization`` header in an error page must not show it (issue 15, item 1)."""
    if password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        register_secrets([password, token])


def registered_count() -> int:
    """How many distinct secret strings are registered (for tests and diagnostics)."""
    with _lock:
        return len(_secrets)


def redact(text: str) -> str:
    """Mask registered secrets, URL query strings and ``user:password@`` in ``text``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)
    return _QUERY.sub(lambda m: m.group("head") + "?" + MASK, text)


def quote_reply(text: str, limit: int = QUOTE_LENGTH) -> str:
    """A server's reply text fit to quote in a message: secrets masked first, then folded
    onto one line and cut to ``limit`` characters (``(empty body)`` when nothing is left)."""
    folded = " ".join(redact(text).split())
    if len(folded) > limit:
        folded = folded[:limit] + "…"
    return folded or "(empty body)"


def _read_env(name: str, env_var: object) -> str:
    if not isinstance(env_var, str) or not env_var:
        raise ConfigError(f"{name}_env must name an environment variable", key=f"{name}_env")
    value = os.environ.get(env_var)
    if value is None:
        raise ConfigError(
            f"environment variable {env_var} (from {name}_env) is not set",
            key=f"{name}_env",
            tip=f"export {env_var}=... before running feedsync",
        )
    return value


def _read_file(name: str, path: object) -> str:
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise ConfigError(f"{name}_file must be a path", key=f"{name}_file")
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {name}_file {str(path)!r}: {exc.__class__.__name__}",
            key=f"{name}_file",
        ) from None
    return value[:-1] if value.endswith("\n") else value


def secret_from(options: Mapping[str, Any], name: str) -> str | None:
    """Read secret ``name`` from ``options[name + "_env"]`` or ``options[name + "_file"]``.

    Returns ``None`` when neither is configured. An inline ``options[name]`` is refused
    with ``ConfigError``. The value read is registered for redaction.
    """
    if name in options:
        raise ConfigError(
            f"secrets must come from environment variable or file: use {name}_env "
            f"(an environment variable name) or {name}_file (a path), not {name}",
            key=name,
        )
    env_var, path = options.get(f"{name}_env"), options.get(f"{name}_file")
    if env_var is not None and path is not None:
        raise ConfigError(f"set only one of {name}_env and {name}_file", key=f"{name}_env")
    if env_var is not None:
        value: str | None = _read_env(name, env_var)
    elif path is not None:
        value = _read_file(name, path)
    else:
        value = None
    register_secret(value)
    return value


def _scrub_args(args: Any) -> Any:
    if isinstance(args, Mapping):
        return {k: redact(str(v)) for k, v in args.items()}
    if isinstance(args, tuple):
        return tuple(redact(str(a)) for a in args)
    return redact(str(args))


def scrub_record(record: logging.LogRecord) -> None:
    """Redact a log record in place: message, args, exception and stack text."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = f"{record.msg} {_scrub_args(record.args)}"
    record.msg = redact(message)
    record.args = None
    # The traceback is scrubbed, not formatted here: formatting can run inside a garbage
    # collection finaliser, and the handler will format it anyway.
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        if not isinstance(exc, RedactedCause):
            record.exc_info = (RedactedCause, scrub_exception(exc), exc.__traceback__)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs every record (message and args) and never drops one.

    Attach it to handlers (``handler.addFilter(RedactingFilter())``): a filter on a logger
    sees only records logged on that very logger, while a handler filter also sees records
    propagated from ``urllib3``, ``asyncssh`` and the rest. ``install_redaction`` does both
    for the root logger and also scrubs at record creation, for handlers added later.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed = False


def _wrap_factory(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        scrub_record(record)
        return record

    return make_record


def install_redaction(loggers: Iterable[logging.Logger] | None = None) -> None:
    """Scrub secrets from all logging, idempotently.

    Adds a ``RedactingFilter`` to the given loggers (default: the root logger) and to
    their handlers, and wraps the log record factory so records reaching handlers added
    later (a test's caplog, a CLI's file handler) are scrubbed too.
    """
    global _installed
    for logger in loggers if loggers is not None else [logging.getLogger()]:
        for target in [logger, *logger.handlers]:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())
    with _lock:
        if not _installed:
            logging.setLogRecordFactory(_wrap_factory(logging.getLogRecordFactory()))
            _installed = True


class RedactedCause(Exception):
    """Stands in for a third-party exception whose text may hold a secret.

    ``raise PublishRetryable(...) from scrub_exception(exc)`` keeps the original type name,
    its redacted message and its traceback frames, but never its raw text (urllib3's
    ``MaxRetryError`` embeds the full URL, presigned signature included).
    """


def scrub_exception(exc: BaseException, _depth: int = 0) -> RedactedCause:
    """A ``RedactedCause`` with ``exc``'s type, redacted message, traceback and causes."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    scrubbed = RedactedCause(f"{kind}: {redact(str(exc))}").with_traceback(exc.__traceback__)
    if _depth < 8:
        if exc.__cause__ is not None:
            scrubbed.__cause__ = scrub_exception(exc.__cause__, _depth + 1)
        elif exc.__context__ is not None and not exc.__suppress_context__:
            scrubbed.__context__ = scrub_exception(exc.__context__, _depth + 1)
    scrubbed.__suppress_context__ = exc.__suppress_context__
    return scrubbed
