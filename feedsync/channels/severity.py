"""The merchant decides what is fatal (issue 14 item 6): ``channels.NAME.severity``.

A channel's rules carry the channel's own severity; a merchant may raise or lower any
of them for one target, by issue code (the codes of docs/issue-codes.md and the
channel's own), for every field the code applies to or for named fields only::

    channels:
      meta:
        severity:
          bad-money: {price: error}      # Meta takes a zero price; this shop does not
          promotional-text: hint

Checked before the catalog is read, like every other key: an unknown code, a field the
code does not apply to, or a severity that is not error/warning/hint is exit 2, naming
the key, with the close matches first. The changed severity is what ``build`` applies and
what ``explain`` shows.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast, get_args

from feedsync.channels.loader import ChannelSpec, FieldSpec
from feedsync.errors import ConfigError
from feedsync.model import Severity
from feedsync.rules.checks import CHECKS

SEVERITIES: tuple[str, ...] = get_args(Severity)


def rule_fields(spec: ChannelSpec) -> dict[str, set[str | None]]:
    """Issue code -> the fields its rules and checks apply to (None: the whole item)."""
    found: dict[str, set[str | None]] = {}
    for field in spec.fields.values():
        for rule in field.rules:
            found.setdefault(_code(rule.code, rule.check), set()).add(field.name)
    for check in spec.checks:
        found.setdefault(check.code, set()).add(check.field)
    return found


def apply_severity(spec: ChannelSpec, raw: Mapping[str, Any], target: str,
                   config_file: Path | None) -> ChannelSpec:
    """``spec`` with the severities of ``channels.<target>.severity`` applied."""
    if not raw:
        return spec
    wanted = _checked(spec, raw, f"channels.{target}.severity",
                      str(config_file) if config_file is not None else None)
    fields = {name: _field_with(field, wanted) for name, field in spec.fields.items()}
    checks = [dataclasses.replace(c, severity=wanted.get((c.code, c.field),
                                                         wanted.get((c.code, "*"), c.severity)))
              for c in spec.checks]
    return dataclasses.replace(spec, fields=fields, checks=checks)


def _field_with(field: FieldSpec, wanted: Mapping[tuple[str, str | None], Severity]
                ) -> FieldSpec:
    rules = []
    for rule in field.rules:
        code = _code(rule.code, rule.check)
        severity = wanted.get((code, field.name), wanted.get((code, "*"), rule.severity))
        rules.append(dataclasses.replace(rule, severity=severity))
    return dataclasses.replace(field, rules=tuple(rules))


def _checked(spec: ChannelSpec, raw: Mapping[str, Any], key: str,
             file: str | None) -> dict[tuple[str, str | None], Severity]:
    """(code, field or '*') -> severity, every name checked against the channel."""
    codes = rule_fields(spec)
    wanted: dict[tuple[str, str | None], Severity] = {}
    for code, value in raw.items():
        here = f"{key}.{code}"
        if code not in codes:
            raise ConfigError(f"channel {spec.name!r} has no rule with the code {code!r}",
                              file=file, key=here, tip=_choices(str(code), codes))
        if isinstance(value, Mapping):
            for field, severity in value.items():
                if field not in codes[code]:
                    applies = sorted(f for f in codes[code] if f is not None)
                    raise ConfigError(
                        f"{code!r} does not apply to field {field!r} in {spec.name!r}",
                        file=file, key=f"{here}.{field}",
                        tip=_choices(str(field), applies))
                wanted[(code, field)] = _severity(severity, file, f"{here}.{field}")
        else:
            wanted[(code, "*")] = _severity(value, file, here)
    return wanted


def _severity(value: Any, file: str | None, key: str) -> Severity:
    if value not in SEVERITIES:
        raise ConfigError(f"severity must be one of {', '.join(SEVERITIES)}, not {value!r}",
                          file=file, key=key)
    return cast(Severity, value)


def _choices(name: str, known: Any) -> str:
    every = sorted(str(k) for k in known)
    close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
    return "one of: " + ", ".join(close + [k for k in every if k not in close])


def _code(code: str | None, check: str) -> str:
    known = CHECKS.get(check)
    return code or (known.code if known is not None else check)
