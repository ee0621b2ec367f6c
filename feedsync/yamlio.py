"""Safe YAML loading for config files and channel templates.

``yaml.safe_load`` alone lets a duplicate key silently win (reliability.md finding 9), so
this loader refuses duplicates, naming both lines. Python tags (``!!python/object``) are
refused by the safe constructor itself. The caller picks the error class, so a config
problem exits as a usage error and a template problem as a template error.

Aliases are bounded: the document is composed first and the size it would have with every
alias expanded is counted (shared nodes once per reference, memoised, so counting costs
one visit per node). A 1 KB "billion laughs" file of nested aliases (10^8 references) is
refused before anything walks it (issue 15, item 11); no real config comes close.
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


# Nodes a document may expand to (aliases counted once per reference); a large channel
# file has a few thousand.
MAX_EXPANDED_NODES = 100_000


def _expanded_size(root: yaml.Node, path: Path, error: type[FeedsyncError]) -> int:
    """Nodes of ``root`` with aliases expanded; ``error`` as soon as the bound is passed."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    # Iterative post-order walk: a deeply nested document must not hit the recursion limit.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            if id(node) in open_nodes:
                raise error("a YAML alias refers to the node that contains it; refused",
                            file=str(path), line=node.start_mark.line + 1)
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        size = 1 + sum(sizes.get(id(child), 0) for child in children)
        if size > MAX_EXPANDED_NODES:
            line = node.start_mark.line + 1
            raise error(f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values "
                        "(nested anchors and aliases, a \"billion laughs\" document); "
                        "refused", file=str(path), line=line)
        sizes[id(node)] = size
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _load_bounded(text: str, path: Path, error: type[FeedsyncError]) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, path, error)
        return loader.construct_document(node)
    finally:
        loader.dispose()


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
        return _load_bounded(text, path, error)
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
