"""feedsync.secrets: secrets from env or file only, and redaction everywhere (E6, E7)."""

from __future__ import annotations

import io
import logging
import traceback
from pathlib import Path

import pytest

from feedsync.errors import ConfigError, PublishRetryable
from feedsync.secrets import (
    RedactingFilter,
    install_redaction,
    redact,
    register_secret,
    scrub_exception,
    secret_from,
)

CANARY = "hunter2-CANARY-c0ffee"


def test_secret_from_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEED_PW", CANARY)
    assert secret_from({"password_env": "FEED_PW"}, "password") == CANARY
    (tmp_path / "pw").write_text(CANARY + "\n")
    assert secret_from({"password_file": str(tmp_path / "pw")}, "password") == CANARY
    assert secret_from({}, "password") is None
    assert redact(f"login with {CANARY}") == "login with ***"


def test_inline_secret_refused() -> None:
    with pytest.raises(ConfigError) as err:
        secret_from({"password": "hunter2"}, "password")
    assert "secrets must come from environment variable or file" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_missing_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FEED_UNSET", raising=False)
    with pytest.raises(ConfigError) as err:
        secret_from({"password_env": "FEED_UNSET"}, "password")
    assert "FEED_UNSET" in str(err.value)
    with pytest.raises(ConfigError):
        secret_from({"password_file": str(tmp_path / "missing")}, "password")
    with pytest.raises(ConfigError):
        secret_from({"password_env": "A", "password_file": "b"}, "password")


def test_redact_urls_and_encodings() -> None:
    register_secret("p@ss word/CANARY")
    text = redact(
        "GET https://u:pw@h.example/p?X-Amz-Signature=abc&x=1 and p%40ss%20word%2FCANARY "
        '"PUT /up?sig=zz HTTP/1.1" and sftp://feed@host/dir/'
    )
    assert "pw@" not in text and "abc" not in text and "zz" not in text
    assert "CANARY" not in text
    assert "sftp://feed@host/dir/" in text  # a bare user name is not a secret
    assert "https://***@h.example/p?***" in text


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    assert redact("abc tab") == "abc tab"


def test_filter_scrubs_message_args_and_exceptions() -> None:
    register_secret(CANARY)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("thirdparty.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("url %s token %r", f"https://h/p?sig={CANARY}", CANARY)
        try:
            raise ValueError(f"boom {CANARY}")
        except ValueError:
            logger.exception("failed with %s", CANARY)
    finally:
        logger.removeHandler(handler)
    assert CANARY not in stream.getvalue()
    assert "ValueError" in stream.getvalue() and "boom ***" in stream.getvalue()


def test_install_redaction_covers_later_handlers(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    install_redaction()  # idempotent
    register_secret(CANARY)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "https", "h", 443, "PUT", f"/up?sig={CANARY}",
        "HTTP/1.1", 200, 0)
    assert CANARY not in caplog.text and "/up?***" in caplog.text
    assert sum(isinstance(f, RedactingFilter) for f in logging.getLogger().filters) == 1


def test_scrubbed_cause_keeps_type_and_frames() -> None:
    register_secret(CANARY)

    def fail() -> None:
        try:
            raise OSError(f"connect to https://h/x?token={CANARY} failed")
        except OSError as inner:
            raise RuntimeError(f"wrapped {CANARY}") from inner

    try:
        try:
            fail()
        except RuntimeError as exc:
            raise PublishRetryable("failed") from scrub_exception(exc)
    except PublishRetryable as final:
        text = "".join(traceback.format_exception(final))
    assert CANARY not in text
    assert "builtins.RuntimeError: wrapped ***" in text and "builtins.OSError" in text
    assert "in fail" in text
