"""``channels()`` and ``history()``: what is available, and what has run.

The library side of ``feedsync channels`` and ``feedsync history``: each returns a report
object whose ``to_dict()`` is the command's ``--json`` (``"version": 1``); the CLI only
draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsync.channels.loader import ChannelLibrary
from feedsync.config import Config
from feedsync.errors import ConfigError, TemplateError
from feedsync.state import DB_NAME, RunRow, State


@dataclass(frozen=True)
class ChannelInfo:
    """One channel folder: its title, outputs (``name:writer``) and docs URL."""

    name: str
    title: str
    docs: str
    outputs: tuple[str, ...]
    folder: str
    broken: bool = False   # the folder does not load; ``docs`` then holds the error

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "docs": self.docs,
                "outputs": list(self.outputs), "folder": self.folder}


@dataclass
class ChannelsReport:
    channels: list[ChannelInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "channels": [c.to_dict() for c in self.channels]}


def channels(config: Config | None = None) -> ChannelsReport:
    """Every channel folder feedsync can use: built in, and the config's template_dirs.

    A folder that does not load is listed as broken (with its error), not skipped.

    >>> [c.name for c in channels().channels][:2]  # doctest: +SKIP
    ['amazon', 'google']
    """
    library = ChannelLibrary((config or Config()).template_dirs)
    report = ChannelsReport()
    for name, folder in library.available().items():
        try:
            spec = library.load(name)
        except TemplateError as exc:
            report.channels.append(ChannelInfo(name=name, title="(broken template)",
                                               docs=str(exc), outputs=(), folder=str(folder),
                                               broken=True))
            continue
        report.channels.append(ChannelInfo(
            name=name, title=spec.title, docs=spec.docs,
            outputs=tuple(f"{o.name}:{o.writer}" for o in spec.outputs.values()),
            folder=str(folder)))
    return report


@dataclass
class HistoryReport:
    state_dir: Path
    runs: list[RunRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "runs": [
            {"id": r.id, "started_at": r.started_at.isoformat(),
             "finished_at": r.finished_at.isoformat() if r.finished_at else None,
             "command": r.command, "status": r.status, "exit_code": r.exit_code,
             "summary": r.summary} for r in self.runs]}


def history(config: Config | None = None, state_dir: Path | str | None = None,
            limit: int = 20) -> HistoryReport:
    """The most recent runs recorded in the state directory, newest first.

    ``ConfigError`` when nothing was ever recorded there.

    >>> history(state_dir=".feedsync", limit=5).runs[0].status  # doctest: +SKIP
    'ok'
    """
    folder = Path(state_dir) if state_dir is not None else (config or Config()).state_dir
    if not (folder / DB_NAME).exists():
        raise ConfigError(f"no runs recorded in {folder}",
                          tip="`feedsync push` records its runs there")
    with State.open(folder) as db:
        return HistoryReport(state_dir=folder, runs=db.runs(limit))
