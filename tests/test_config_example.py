"""config.example.yaml shows every key config.py accepts, and no key it refuses (issue 14,
"Docs that are true"): the README promises it, and this test keeps it from drifting.

The example keeps optional settings commented out (``# reserve: 2``), so the file is read
as a tree of key lines, commented or not: a key's depth is its column (for a commented
line, less the ``# `` marker), and ``{a: 1, b: 2}`` flow mappings are parsed as YAML.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from feedsync import config as schema
from feedsync.config import load_config
from feedsync.gate import GatePolicy

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"
_KEY = re.compile(r"^(?P<indent>\s*)(?P<hash>#\s?)?(?P<pad>\s*)(?P<dash>- )?"
                  r"(?P<key>[a-z_][a-z0-9_-]*|[a-z]+-[A-Z]+):(?P<rest>\s.*|)$")

# Where each section's keys live in the example, as a path with '*' for a free name.
SECTIONS: dict[str, set[str]] = {
    "": schema._TOP_KEYS,
    "catalog": schema._CATALOG_KEYS,
    "supplemental[]": schema._SUPPLEMENTAL_KEYS,
    "category_map": schema._CATEGORY_KEYS,
    "report": schema._REPORT_KEYS,
    "gate": {f.name for f in dataclasses.fields(GatePolicy)},
    "channels.*": schema._CHANNEL_KEYS,
    "channels.*.target": schema._TARGET_KEYS,
    "channels.*.stock": schema._STOCK_KEYS,
}


def example_keys(text: str) -> dict[str, set[str]]:
    """Section path (``channels.*.target``) -> the keys the example shows in it."""
    found: dict[str, set[str]] = {}
    stack: list[tuple[int, str]] = []          # (column, path) of the open keys
    for line in text.splitlines():
        match = _KEY.match(line)
        if match is None:
            continue
        column = len(match["indent"]) + len(match["pad"]) + len(match["dash"] or "")
        if match["hash"]:
            column += len(match["hash"]) - 2   # "# key" sits where "key" would
        # A "- key:" line opens a list item at the dash's column; its keys sit after it.
        opens = column - 2 if match["dash"] else column
        while stack and stack[-1][0] >= opens:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        if match["dash"]:
            parent += "[]"
            stack.append((opens, parent))
        path = f"{parent}.{match['key']}" if parent else match["key"]
        found.setdefault(_section(parent), set()).add(match["key"])
        value = match["rest"].split(" #")[0].strip()
        if value.startswith("{"):
            found.setdefault(_section(path), set()).update(yaml.safe_load(value))
        stack.append((column, path))
    return found


def _section(path: str) -> str:
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] == "channels":
        parts[1] = "*"
    return ".".join(parts)


def test_every_accepted_key_is_in_the_example_and_no_other() -> None:
    shown = example_keys(EXAMPLE.read_text(encoding="utf-8"))
    for section, accepted in SECTIONS.items():
        keys = shown.get(section, set())
        assert keys == accepted, (
            f"{section or 'top level'}: missing from the example {sorted(accepted - keys)}, "
            f"not accepted {sorted(keys - accepted)}")


def test_the_reader_sees_commented_keys_at_their_depth() -> None:
    text = ("channels:\n  google:\n    outputs: [xml]\n    # reserve: 2\n"
            "    # stock: {path: s.csv, key: id, store: store_code}\n"
            "  # google-DE:\n  #   target: {country: DE}\n# report:\n#   html: r.html\n")
    shown = example_keys(text)
    assert shown["channels.*"] == {"outputs", "reserve", "stock", "target"}
    assert shown["channels.*.stock"] == {"path", "key", "store"}
    assert shown["channels.*.target"] == {"country"}
    assert shown["report"] == {"html"}
    assert shown[""] == {"channels", "report"}


def test_every_catalog_format_is_named_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.strip().startswith("format:"))
    for name in schema._FORMATS:
        assert re.search(rf"\b{re.escape(name)}\b", line), name


def test_the_example_itself_loads(tmp_path: Path) -> None:
    copy = tmp_path / "feedsync.yaml"
    copy.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config(copy)
    assert [c.name for c in config.channels] == ["google"]
