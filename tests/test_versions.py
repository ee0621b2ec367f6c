"""The startup checks refuse Jinja and lxml versions with known security holes."""

from __future__ import annotations

import pytest

from feedsync.errors import ExitCode, SecurityRefusal
from feedsync.versions import (
    JINJA_MIN,
    LXML_MIN,
    check_jinja,
    check_lxml,
    parse_version,
    require,
)


def test_installed_versions_pass() -> None:
    import jinja2
    from lxml import etree

    assert parse_version(jinja2.__version__) >= JINJA_MIN
    assert tuple(etree.LXML_VERSION[:3]) >= LXML_MIN
    # ... and so the start-up checks return instead of raising SecurityRefusal.
    assert check_jinja() is None and check_lxml() is None


def test_old_jinja_is_refused_with_the_security_exit() -> None:
    with pytest.raises(SecurityRefusal) as caught:
        require("jinja2", "3.1.5", JINJA_MIN)
    assert caught.value.exit_code == ExitCode.SECURITY
    assert "3.1.6" in str(caught.value)


def test_version_parsing() -> None:
    assert parse_version("3.1.6") == (3, 1, 6)
    assert parse_version("6.1.0rc1") == (6, 1, 0)
    assert parse_version("2.10") == (2, 10)
