"""Refuse library versions with known holes this project depends on being closed.

pyproject.toml already asks for them; this catches an environment that ignored it (a
system package, a pinned lock file). Checked when a channel is compiled (Jinja) or an
XML catalog is opened (lxml), so commands that need neither still run.
"""

from __future__ import annotations

import re

from feedsync.errors import SecurityRefusal

# Jinja 3.1.5 and 3.1.6 closed sandbox escapes (GHSA-q2x7-8rv6-6q7h, GHSA-cpwx-vrp4-4pq7).
JINJA_MIN = (3, 1, 6)
# lxml 6.1.0 closed XXE through iterparse (CVE-2026-41066).
LXML_MIN = (6, 1, 0)


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        match = re.match(r"\d+", piece)  # "0rc1" is 0: a pre-release sorts before
        parts.append(int(match.group()) if match else 0)
    return tuple(parts)


def require(name: str, installed: str, minimum: tuple[int, ...]) -> None:
    if parse_version(installed) < minimum:
        wanted = ".".join(map(str, minimum))
        raise SecurityRefusal(f"{name} {installed} has known security holes; feedsync needs "
                              f"{name} >= {wanted}", tip=f"pip install '{name}>={wanted}'")


def check_jinja() -> None:
    import jinja2

    require("jinja2", jinja2.__version__, JINJA_MIN)


def check_lxml() -> None:
    from lxml import etree

    require("lxml", ".".join(map(str, etree.LXML_VERSION)), LXML_MIN)
