"""Safe YAML loading for config files and channel templates.

``yaml.safe_load`` alone lets a duplicate key silently win (reliability.md finding 9), so
this loader refuses duplicates, naming both lines. Python tags (``!!python/object``) are
refused by the safe constructor itself. The caller picks the error class, so a config
problem exits as a usage error and a template problem as a template error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from feedsync.errors import FeedsyncError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first on line {seen[key]}, again on line {line})",
                key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, error: type[FeedsyncError]) -> Any:
    """Parse ``path`` strictly; any problem becomes ``error`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"file not found: {path}", file=str(path)) from exc
    except IsADirectoryError as exc:
        raise error(f"expected a file, found a directory: {path}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", file=str(path)) from exc
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", file=str(path)) from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(f"invalid YAML: {problem}", file=str(path), line=line) from exc
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=str(path)) from exc
    except RecursionError as exc:
        # PyYAML's composer and constructor recurse once per nesting level.
        raise error("invalid YAML: nested too deeply (thousands of levels of [ or {)",
                    file=str(path)) from exc
