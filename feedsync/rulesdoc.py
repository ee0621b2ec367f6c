"""docs/rules.md, generated from the channel folders: every rule, its severity and source.

The page is never edited by hand: ``python -m feedsync.rulesdoc > docs/rules.md`` writes
it from the built-in channel folders (``tests/test_rulesdoc.py`` fails when it is stale).
For each channel: its outputs and published limits, then every field with each of its
rules (check, parameters, issue code, severity, source), then the item checks.
"""

from __future__ import annotations

import sys
from typing import Any

from feedsync.channels.loader import ChannelLibrary, ChannelSpec, FieldSpec, RuleSpec
from feedsync.rules.checks import CHECKS

HEADER = """# Channel rules

Generated from `channel_templates/*/channel.yaml` by `python -m feedsync.rulesdoc >
docs/rules.md`; do not edit by hand (`tests/test_rulesdoc.py` fails when this page is
stale). Each rule names the page it comes from. **error** drops the product from that
channel's feed, **warning** keeps it and reports it, **hint** only advises
(docs/channels.md, "Rules, checks and severities"; codes in docs/issue-codes.md).
"""


def render(library: ChannelLibrary | None = None) -> str:
    """The whole page, one section per channel, in name order."""
    library = library or ChannelLibrary()
    names = sorted(library.available())
    index = ", ".join(f"[{n}](#{n})" for n in names)
    parts = [HEADER.rstrip("\n"), "", f"Channels: {index}.", ""]
    for name in names:
        parts += _channel(library.load(name))
    return "\n".join(parts).rstrip("\n") + "\n"


def _channel(spec: ChannelSpec) -> list[str]:
    lines = [f"## {spec.name}", "", f"{spec.title}. Specification: {spec.docs}", ""]
    outputs = ", ".join(f"`{o.name}` ({o.writer}, `{o.file}`)" for o in spec.outputs.values())
    lines += [f"Outputs: {outputs}; default: {', '.join(spec.default_outputs)}.", ""]
    if spec.fan_out:
        lines += [f"Fan-out: `{spec.fan_out}` (one item per store row).", ""]
    if spec.limits:
        lines += ["Limits:", ""]
        lines += [f"- `{key}`: {_cell(value)}" for key, value in spec.limits.items()]
        lines.append("")
    lines += ["| field | check | parameters | code | severity | source |",
              "|---|---|---|---|---|---|"]
    for field in spec.fields.values():
        lines += _field_rows(field)
    lines.append("")
    if spec.checks:
        lines += ["Item checks (over the whole item):", "",
                  "| code | field | severity | rule | message | source |",
                  "|---|---|---|---|---|---|"]
        for check in spec.checks:
            lines.append(_row(f"`{check.code}`", check.field or "", check.severity,
                              f"`{' '.join(check.expression.split())}`", check.message,
                              check.source))
        lines.append("")
    return lines


def _field_rows(field: FieldSpec) -> list[str]:
    shape = _shape(field)
    if not field.rules:
        return [_row(f"`{field.name}`{shape}", "(none)", "", "", "", "")]
    return [_row(f"`{field.name}`{shape}" if i == 0 else "", rule.check, _params(rule),
                 f"`{_code(rule)}`", rule.severity, rule.source)
            for i, rule in enumerate(field.rules)]


def _shape(field: FieldSpec) -> str:
    notes = []
    if field.multi:
        notes.append(f"several, `{field.separator}`")
    if field.children:
        notes.append("parts " + field.child_separator.join(field.children))
    if field.outputs is not None and not field.outputs:
        notes.append("not written")
    return f" ({'; '.join(notes)})" if notes else ""


def _code(rule: RuleSpec) -> str:
    return rule.code or CHECKS[rule.check].code


def _params(rule: RuleSpec) -> str:
    return "; ".join(f"{key}: {_value(value)}" for key, value in rule.params.items())


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _is_code(value):
        return f"`{value}`"
    return str(value)


def _is_code(value: str) -> bool:
    """Regexes and other machine text read better in code spans."""
    return any(c in value for c in "\\()[]{}^$*+?|")


def _row(*cells: Any) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
