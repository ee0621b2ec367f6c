"""Run history and last good feeds, in SQLite at ``<state_dir>/state.sqlite``.

The publish gate compares each new feed with the last good one recorded here, so a lost
or damaged state must never read as "0 items last time": a database that cannot be
verified raises ``StateError`` and is never recreated behind the user's back.

    with State.open(Path(".feedsync")) as state:
        run_id = state.begin_run("feedsync push")
        state.record_feed(run_id, "google", "sftp://feeds.example.com/google.xml",
                          "google.xml", items=1000, rejected=3, path=out, published=True)
        state.finish_run(run_id, "ok", 0, {"channels": 1})
        state.last_good("google", "sftp://feeds.example.com/google.xml").items  # 1000

Durability choices (see docs/state.md): the classic rollback journal (``DELETE``) with
``synchronous=FULL``, not WAL. Writes are a handful per run and runs are serialised by the
lock, so WAL's concurrency buys nothing, while a single file at rest is easier to back up
and works on more filesystems. Every write is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, get_args
from urllib.parse import quote

from feedsync.errors import ExitCode, FeedsyncError, OutputError
from feedsync.fileio import AtomicFile, clean_stale_temps, copy_atomically, sha256_file

__all__ = [
    "DEFAULT_STATE_DIR",
    "FeedRecord",
    "RunRow",
    "RunStatus",
    "State",
    "StateError",
]

RunStatus = Literal["running", "ok", "failed", "refused", "interrupted"]
RUN_STATUSES: Final[tuple[str, ...]] = get_args(RunStatus)

DEFAULT_STATE_DIR: Final = ".feedsync"
DB_NAME: Final = "state.sqlite"
SCHEMA_VERSION: Final = 2

# A kept copy that no row points at, untouched this long, was left by a killed run (a
# live run inserts its row right after the copy).
_ORPHAN_AFTER_S: Final = 3600.0
_COPY_NAME = re.compile(r"\d+-[0-9a-f]{12}-")

_SCHEMA: Final = f"""
BEGIN;
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    command      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN {RUN_STATUSES!r}),
    exit_code    INTEGER,
    summary_json TEXT,
    pid          INTEGER,
    host         TEXT,
    proc_token   TEXT
);
CREATE TABLE feeds (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    channel     TEXT NOT NULL,
    destination TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    items       INTEGER NOT NULL CHECK (items >= 0),
    rejected    INTEGER NOT NULL CHECK (rejected >= 0),
    bytes       INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    kept_path   TEXT,
    published   INTEGER NOT NULL CHECK (published IN (0, 1)),
    created_at  TEXT NOT NULL
);
CREATE INDEX feeds_by_target ON feeds (channel, destination, published, id);
CREATE INDEX feeds_by_run ON feeds (run_id, channel);
{{deltas}}
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""

# Version 2 (issue 12): per-product deltas of the API channels and their submissions still
# waiting for the channel's answer (feedsync/deltas.py). Version 1 databases are migrated
# in place on open: the new tables are added, nothing of version 1 changes.
_DELTA_TABLES: Final = """
CREATE TABLE deltas (
    target      TEXT NOT NULL,
    key         TEXT NOT NULL,
    hash        BLOB,
    accepted_at INTEGER,
    rejected    BLOB,
    rejections  INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    PRIMARY KEY (target, key)
) WITHOUT ROWID;
CREATE TABLE submissions (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    target      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    handle      TEXT,
    detail_json TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE submission_items (
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    key           TEXT NOT NULL,
    op            TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    hash          BLOB,
    PRIMARY KEY (submission_id, seq)
) WITHOUT ROWID;
CREATE INDEX submissions_by_target ON submissions (target, id);
"""
_SCHEMA_SQL: Final = _SCHEMA.replace("{deltas}", _DELTA_TABLES)

_SELECT_FEEDS: Final = (
    "SELECT id, run_id, channel, destination, file_name, items, rejected, bytes, sha256,"
    " kept_path, published, created_at FROM feeds"
)


class StateError(FeedsyncError):
    """The state directory or database cannot be used (damaged, unreadable, locked)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class RunRow:
    """One ``feedsync`` run as recorded. ``pid`` and ``host`` identify the process."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    command: str
    status: RunStatus
    exit_code: int | None
    summary: dict[str, Any]
    pid: int | None
    host: str | None


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One feed a run produced for one destination (``""`` for a local build).

    ``kept_path`` is the copy under ``<state_dir>/feeds/``, or ``None`` once pruned.
    """

    id: int
    run_id: int
    channel: str
    destination: str
    file_name: str
    items: int
    rejected: int
    bytes: int
    sha256: str
    kept_path: Path | None
    published: bool
    created_at: datetime


class State:
    """The state database of one state directory. Use as a context manager to close it."""

    def __init__(self, state_dir: Path | None = None, *, keep: int = 5) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.keep = keep
        # Absolute, so kept_path values stay valid if the caller later changes directory.
        chosen = Path(state_dir) if state_dir is not None else Path(DEFAULT_STATE_DIR)
        self.state_dir = chosen.absolute()
        self.path = self.state_dir / DB_NAME
        self.feeds_dir = self.state_dir / "feeds"
        self._conn = self._connect()
        try:
            self._verify()
            self.mark_interrupted_runs()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, state_dir: Path | None = None, *, keep: int = 5) -> State:
        """Open (creating on first use) the state in ``state_dir``, default ``./.feedsync``."""
        return cls(state_dir, keep=keep)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- runs -----------------------------------------------------------------------------

    def begin_run(self, command: str) -> int:
        """Record a new run as ``running`` and return its id."""
        pid = os.getpid()
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, command, status, pid, host, proc_token)"
                " VALUES (?, ?, 'running', ?, ?, ?)",
                (_now(), command, pid, socket.gethostname(), _process_token(pid)),
            )
        assert cursor.lastrowid is not None  # an INSERT into a rowid table always sets it
        return cursor.lastrowid

    def finish_run(
        self, run_id: int, status: RunStatus, exit_code: int, summary: Mapping[str, Any]
    ) -> None:
        """Close a run with its final status, exit code and JSON-serialisable summary."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"a run cannot finish with status {status!r}")
        summary_json = json.dumps(dict(summary), sort_keys=True, allow_nan=False)
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary_json = ?"
                " WHERE id = ?",
                (_now(), status, int(exit_code), summary_json, run_id),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"no run {run_id} in {self.path}")

    def mark_interrupted_runs(self) -> int:
        """Mark runs left ``running`` by a dead process as ``interrupted``; return how many.

        Only runs started on this host are judged: another host's process cannot be seen.
        A live run (another feedsync using the same state under a different lock) is kept.
        """
        rows = self._query("SELECT id, pid, host, proc_token FROM runs WHERE status = 'running'")
        dead = [row[0] for row in rows if _process_is_gone(row[1], row[2], row[3])]
        if not dead:
            return 0
        with self._tx() as conn:
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = ?"
                " WHERE id = ? AND status = 'running'",
                [(_now(), run_id) for run_id in dead],
            )
        return len(dead)

    def runs(self, limit: int = 20) -> list[RunRow]:
        """The newest ``limit`` runs, newest first."""
        rows = self._query(
            "SELECT id, started_at, finished_at, command, status, exit_code, summary_json, pid,"
            " host FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [self._run_row(row) for row in rows]

    # --- feeds ----------------------------------------------------------------------------

    def record_feed(
        self,
        run_id: int,
        channel: str,
        destination: str,
        file_name: str,
        items: int,
        rejected: int,
        path: Path,
        published: bool,
    ) -> FeedRecord:
        """Record a feed, keep a copy of ``path`` under ``feeds/<channel>/`` and prune.

        The copy is written atomically before the row is inserted, so a recorded copy is
        always complete. Copies beyond ``keep`` per channel are deleted (their rows stay,
        with ``kept_path`` None), except the newest published feed of each destination.
        """
        _check_file_name("channel", channel)
        _check_file_name("file_name", file_name)
        if items < 0 or rejected < 0:
            raise ValueError(f"items and rejected must not be negative: {items}, {rejected}")
        self._require_run(run_id)
        kept, digest, size = self._keep_copy(run_id, channel, file_name, Path(path))
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO feeds (run_id, channel, destination, file_name, items, rejected,"
                " bytes, sha256, kept_path, published, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, channel, destination, file_name, items, rejected, size, digest,
                 kept, int(published), _now()),
            )  # fmt: skip
        # A feed re-recorded from a kept copy (rollback) may still be read by the caller
        # for its next destination: never prune the file we were handed.
        self._prune(channel, spare=self._relative(Path(path)))
        record = self._feed_where("id = ?", (cursor.lastrowid,))
        assert record is not None  # we just inserted it inside a committed transaction
        return record

    def last_good(self, channel: str, destination: str) -> FeedRecord | None:
        """The newest published feed for this channel and destination, or ``None``."""
        return self._feed_where(
            "channel = ? AND destination = ? AND published = 1", (channel, destination)
        )

    def feed_for_run(
        self, channel: str, run_id: int, destination: str | None = None
    ) -> FeedRecord | None:
        """The newest feed that run ``run_id`` recorded for ``channel`` (and destination)."""
        if destination is None:
            return self._feed_where("channel = ? AND run_id = ?", (channel, run_id))
        return self._feed_where(
            "channel = ? AND run_id = ? AND destination = ?", (channel, run_id, destination)
        )

    def good_feeds(self, channel: str, limit: int | None = None) -> list[FeedRecord]:
        """Published feeds of ``channel``, newest first, for every destination.

        Older entries may have ``kept_path`` None: their copies were pruned.
        """
        return self._feeds_where(
            "channel = ? AND published = 1", (channel,), -1 if limit is None else limit
        )

    # --- opening and checking -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            clean_stale_temps(self.state_dir)
            if not os.path.lexists(self.path):
                self._refuse_orphan_journal()
                _create_database(self.path)
        except (OSError, OutputError) as exc:
            reason = exc.message if isinstance(exc, OutputError) else exc.strerror or exc
            raise StateError(
                f"cannot create the state database: {reason}",
                file=str(self.path),
                tip="check that the state directory is a writable directory",
            ) from exc
        # mode=rw: if the file vanished since the check above, fail instead of creating an
        # empty database that would read as "no last good feed".
        uri = f"file:{quote(str(self.path.absolute()))}?mode=rw"
        with self._guard("cannot be opened"):
            conn = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
        return conn

    def _refuse_orphan_journal(self) -> None:
        # SQLite would roll a leftover journal back into the new database and corrupt it;
        # its presence also means the real database was lost, not that this is a first run.
        journal = self.path.with_name(DB_NAME + "-journal")
        if os.path.lexists(journal):
            raise StateError(
                f"{journal.name} is there but {DB_NAME} is missing",
                file=str(journal),
                tip=f"restore {DB_NAME} beside it, or move the journal aside to start afresh",
            )

    def _verify(self) -> None:
        with self._guard("could not be checked"):
            self._conn.execute("PRAGMA journal_mode = DELETE")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if problems != ["ok"]:
            raise self._damaged("; ".join(str(p) for p in problems[:3]))
        if version > SCHEMA_VERSION:
            raise StateError(
                f"the state database has schema version {version}; this feedsync knows"
                f" {SCHEMA_VERSION}",
                file=str(self.path),
                tip="upgrade feedsync; an older version must not rewrite a newer state",
            )
        if version < 1 or not self._has_tables({"runs", "feeds"}):
            raise self._damaged("it is empty or is not a feedsync state database")
        if version == 1:
            self._migrate_to_2()
        if not self._has_tables({"deltas", "submissions", "submission_items"}):
            raise self._damaged("the tables of schema version 2 are missing")

    def _has_tables(self, names: set[str]) -> bool:
        rows = self._query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return names <= {row[0] for row in rows}

    def _migrate_to_2(self) -> None:
        """Add the delta tables to a version-1 database, in one transaction."""
        with self._tx() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] != 1:
                return   # another process migrated it a moment ago
            for statement in _DELTA_TABLES.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- hooks for feedsync/deltas.py (per-product deltas of the API channels) ------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The open database; write only inside ``transaction()``."""
        return self._conn

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; sqlite3 errors become ``StateError``."""
        return self._tx()

    def guard(self, action: str) -> AbstractContextManager[None]:
        """Turn sqlite3 errors of a read into a ``StateError`` naming the file."""
        return self._guard(action)

    def _damaged(self, detail: str) -> StateError:
        return StateError(
            f"the state database is damaged ({detail})",
            file=str(self.path),
            tip=(
                f"move it aside (mv {self.path} {self.path}.damaged) and run again. The next"
                " push then has no last good feed to compare with, so the shrink limits"
                f" cannot protect its first publish; recent feed copies stay in {self.feeds_dir}"
            ),
        )

    # --- SQL helpers ----------------------------------------------------------------------

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn sqlite3 errors into a ``StateError`` naming the file and a next step."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._sqlite_error(action, exc) from exc

    def _sqlite_error(self, action: str, exc: sqlite3.Error) -> StateError:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return self._damaged(str(exc))
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            tip = "another process is writing the state; let it finish and run again"
        elif name.startswith("SQLITE_FULL"):
            tip = "free some disk space where the state directory lives"
        else:
            tip = "check that the state directory and its files are readable and writable"
        return StateError(f"the state database {action}: {exc}", file=str(self.path), tip=tip)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two processes never both read and
        # then deadlock trying to upgrade to a write.
        with self._guard("could not be written"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._guard("could not be read"):
            return self._conn.execute(sql, params).fetchall()

    def _require_run(self, run_id: int) -> None:
        if not self._query("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
            raise ValueError(f"no run {run_id} in {self.path}")

    def _feed_where(self, where: str, params: tuple[object, ...]) -> FeedRecord | None:
        found = self._feeds_where(where, params, 1)
        return found[0] if found else None

    def _feeds_where(self, where: str, params: tuple[object, ...], limit: int) -> list[FeedRecord]:
        # ``where`` is always one of this module's literal clauses; values are bound.
        sql = f"{_SELECT_FEEDS} WHERE {where} ORDER BY id DESC LIMIT ?"  # noqa: S608
        return [self._feed_record(row) for row in self._query(sql, (*params, limit))]

    def _feed_record(self, row: tuple[Any, ...]) -> FeedRecord:
        self._check_types("feeds", row, _FEED_TYPES)
        kept = row[9]
        return FeedRecord(
            id=row[0], run_id=row[1], channel=row[2], destination=row[3], file_name=row[4],
            items=row[5], rejected=row[6], bytes=row[7], sha256=row[8],
            kept_path=self.state_dir / kept if kept else None,
            published=bool(row[10]), created_at=datetime.fromisoformat(row[11]),
        )  # fmt: skip

    def _run_row(self, row: tuple[Any, ...]) -> RunRow:
        self._check_types("runs", row, _RUN_TYPES)
        try:
            summary = json.loads(row[6]) if row[6] else {}
        except ValueError as exc:
            raise self._damaged(f"run {row[0]} has an unreadable summary") from exc
        return RunRow(
            id=row[0], started_at=datetime.fromisoformat(row[1]),
            finished_at=datetime.fromisoformat(row[2]) if row[2] else None,
            command=row[3], status=row[4], exit_code=row[5], summary=summary,
            pid=row[7], host=row[8],
        )  # fmt: skip

    def _check_types(self, table: str, row: tuple[Any, ...],
                     types: tuple[tuple[type, ...], ...]) -> None:
        """SQLite keeps any value in any column: a row edited by hand (text in ``items``,
        a number in ``created_at``) is a damaged database, exit 2, not a TypeError."""
        for index, (value, allowed) in enumerate(zip(row, types, strict=False)):
            ok = isinstance(value, allowed) and not (bool not in allowed
                                                      and isinstance(value, bool))
            if index in _DATE_COLUMNS.get(table, ()) and isinstance(value, str):
                try:
                    datetime.fromisoformat(value)
                except ValueError:
                    ok = False
            if not ok:
                raise self._damaged(f"{table} row {row[0]!r}: column {index + 1} holds "
                                    f"{value!r}")

    # --- kept copies ----------------------------------------------------------------------

    def _keep_copy(
        self, run_id: int, channel: str, file_name: str, source: Path
    ) -> tuple[str, str, int]:
        """Copy ``source`` atomically into ``feeds/<channel>/``: (relative path, sha256, size)."""
        folder = self.feeds_dir / channel
        try:
            folder.mkdir(parents=True, exist_ok=True)
            expected = sha256_file(source)
            digest, size = expected.sha256, expected.size
            name = f"{run_id}-{digest[:12]}-{file_name}"
            # The same run may record one file for several destinations: replacing an
            # identical copy under the identical name is harmless. The copy is refused if
            # its bytes differ from the hash in its name (the source changed meanwhile).
            copy_atomically(source, folder / name, expected=expected)
        except (OSError, OutputError) as exc:
            reason = exc.message if isinstance(exc, OutputError) else exc.strerror or str(exc)
            raise StateError(
                f"cannot keep a copy of {source} in {folder}: {reason}",
                file=str(source),
                tip="check free space and permissions in the state directory",
            ) from exc
        return f"feeds/{channel}/{name}", digest, size

    def _relative(self, path: Path) -> str | None:
        try:
            return path.resolve().relative_to(self.state_dir.resolve()).as_posix()
        except (OSError, ValueError):
            return None

    def _prune(self, channel: str, spare: str | None = None) -> None:
        doomed, files = self._doomed_copies(channel, spare)
        if doomed:
            # Rows first, files second: a crash in between leaves an orphan file (swept
            # later), never a row pointing at a missing copy.
            with self._tx() as conn:
                conn.executemany(
                    "UPDATE feeds SET kept_path = NULL WHERE id = ?", [(i,) for i in doomed]
                )
            for kept in files:
                _remove_quietly(self.state_dir / kept)
        self._sweep_channel(channel)

    def _doomed_copies(self, channel: str, spare: str | None) -> tuple[list[int], set[str]]:
        """Rows whose copy goes, and the files no surviving row still points at."""
        rows: list[tuple[int, str]] = [
            (row[0], row[1])
            for row in self._query(
                "SELECT id, kept_path FROM feeds WHERE channel = ? AND kept_path IS NOT NULL"
                " ORDER BY id DESC",
                (channel,),
            )
        ]
        live = {
            row[0]
            for row in self._query(
                "SELECT MAX(id) FROM feeds WHERE channel = ? AND published = 1"
                " GROUP BY destination",
                (channel,),
            )
        }
        spared = set(list(dict.fromkeys(kept for _, kept in rows))[: self.keep])
        spared |= {kept for i, kept in rows if i in live}
        if spare is not None:
            spared.add(spare)
        doomed = [i for i, kept in rows if kept not in spared]
        return doomed, {kept for _, kept in rows} - spared

    def _sweep_channel(self, channel: str) -> None:
        """Remove old temp files and copies no row points at (left by killed runs)."""
        folder = self.feeds_dir / channel
        referenced = {
            row[0]
            for row in self._query(
                "SELECT kept_path FROM feeds WHERE channel = ? AND kept_path IS NOT NULL",
                (channel,),
            )
        }
        clean_stale_temps(folder)
        for entry in _stale_files(folder):
            if _COPY_NAME.match(entry.name) and f"feeds/{channel}/{entry.name}" not in referenced:
                _remove_quietly(Path(entry.path))


# --- module helpers -----------------------------------------------------------------------


_INT, _TEXT, _NONE = (int,), (str,), (type(None),)
# Column types of _SELECT_FEEDS and of the runs query, in their order.
_FEED_TYPES = (_INT, _INT, _TEXT, _TEXT, _TEXT, _INT, _INT, _INT, _TEXT, _TEXT + _NONE,
               _INT, _TEXT)
_RUN_TYPES = (_INT, _TEXT, _TEXT + _NONE, _TEXT, _TEXT, _INT + _NONE, _TEXT + _NONE,
              _INT + _NONE, _TEXT + _NONE)
_DATE_COLUMNS = {"feeds": (11,), "runs": (1, 2)}


def make_state_dir(state_dir: Path) -> None:
    """Create ``state_dir``; a path that is a file (or unwritable) is a state error, exit 2."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = ("it is a file, not a directory" if isinstance(exc, FileExistsError)
                else exc.strerror or str(exc))
        raise StateError(f"cannot use the state directory: {what}", file=str(state_dir),
                         tip="set state_dir: (or --state) to a writable directory") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_file_name(what: str, value: str) -> None:
    # Both become path components under feeds/; a leading dot would collide with our temp
    # prefix and hide the file.
    if not value or value.startswith(".") or "/" in value or "\0" in value or len(value) > 200:
        raise ValueError(f"{what} must be a plain file name, got {value!r}")


def _create_database(path: Path) -> None:
    """Create an empty state database atomically: build a temp file, then link it in."""
    staged = AtomicFile(path)  # its temp name: clean_stale_temps removes it if we are killed
    temp = staged.reserve()
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.executescript(_SCHEMA_SQL)
        finally:
            conn.close()
    except BaseException:
        staged.abort()
        raise
    # Never replaces: if another run created the database a moment ago, keep it.
    staged.commit(replace=False)


def _stale_files(folder: Path) -> list[os.DirEntry[str]]:
    """Regular files in ``folder`` untouched for an hour; empty if it cannot be listed."""
    cutoff = time.time() - _ORPHAN_AFTER_S
    try:
        with os.scandir(folder) as entries:
            return [
                entry
                for entry in entries
                if entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < cutoff
            ]
    except OSError:
        return []


def _remove_quietly(path: Path) -> None:
    # Cleanup is best effort: a leftover copy wastes space but loses nothing, and the next
    # sweep retries it. It must not fail a run whose feed is already recorded.
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks since boot) from /proc, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # the command name may contain spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _process_token(pid: int) -> str | None:
    """Boot id plus start time: tells a live run from a new process that reused its pid."""
    stat = _proc_stat(pid)
    return f"{_boot_id()}:{stat[1]}" if stat else None


def _process_is_gone(pid: int | None, host: str | None, token: str | None) -> bool:
    if pid is None or host != socket.gethostname():
        return False  # cannot tell: leave it 'running' rather than guess
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is not None and stat[0] in ("Z", "X"):
        return True  # killed, not yet reaped by its parent
    current = _process_token(pid)
    return token is not None and current is not None and current != token
