"""Per-product deltas for the API channels: what each channel last *accepted*, and the plan.

One row per (channel target, product key) in ``state.sqlite`` (schema version 2, see
docs/state.md): a 16-byte hash of the item the channel last accepted and when, plus the
hash of the last version it *rejected*, how many times in a row, and why. Nothing else
about a product is kept, and nothing about it is held in memory: a plan for a million
products is a few SQL statements over a temporary table (DESIGN.md allows "a hash per
product").

A plan compares this run's items (the API sink file written by the build,
``feedsync/apis/sink.py``) with the rows:

| this run          | row                                   | plan        |
|-------------------|---------------------------------------|-------------|
| item, no row      | -                                     | send: new   |
| item              | never accepted (only rejected)        | send: changed |
| item              | accepted hash differs                 | send: changed |
| item              | same hash, accepted before the window | send: expired (keep-alive) |
| item              | same hash, accepted within the window | unchanged   |
| item              | this exact version rejected N times   | held back   |
| no item           | accepted                              | delete      |

``full=True`` sends every item (held ones too). The delta is recorded only from the
channel's answer (``record``/``resolve``): a rejected product keeps its last accepted hash,
so it is sent again next run. Submissions that wait for an asynchronous answer (an Amazon
feed, a Meta batch) are written down with their items *before* they are sent; resolving
one records its outcomes and removes it in a single transaction, so a run killed at any
point never applies a delta twice.

    store = DeltaStore(state, "google|accounts/123/dataSources/456|en|US")
    plan = store.plan(sink_path, keepalive=25 * 86400, full=False, hold_after=3)
    for send in plan.sends(): ...
    store.record([Outcome(send.key, "upsert", send.hash, accepted=True)])
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

from feedsync.state import State

__all__ = ["DeltaStore", "Outcome", "Plan", "Send", "Submission", "sink_line"]

Op = Literal["upsert", "delete"]
Reason = Literal["new", "changed", "expired", "full"]
PAGE: Final = 2000
REASON_CHARS: Final = 500

_TEMP: Final = """
CREATE TEMP TABLE IF NOT EXISTS plan_items (
    key TEXT PRIMARY KEY, hash BLOB NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS plan_send (
    off INTEGER PRIMARY KEY, key TEXT NOT NULL, hash BLOB NOT NULL, len INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TEMP TABLE IF NOT EXISTS plan_delete (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS plan_held (
    key TEXT PRIMARY KEY, reason TEXT, rejections INTEGER NOT NULL
) WITHOUT ROWID;
"""

_HELD: Final = ("d.rejected IS NOT NULL AND d.rejected = p.hash AND d.rejections >= :hold"
                " AND NOT :full")


def sink_line(key: str, digest: bytes, record: bytes) -> bytes:
    """One line of an API sink file: JSON key, TAB, hex hash, TAB, JSON record, LF.

    The key is JSON so it never holds a raw tab or newline; the hash is over the record's
    bytes, which the sink writes with a fixed field order.
    """
    return b"%s\t%s\t%s\n" % (_json_key(key), digest.hex().encode("ascii"), record)


def _json_key(key: str) -> bytes:
    """``json.dumps(key, ensure_ascii=False)`` as UTF-8; nearly every key needs no escape
    (printable, no quote or backslash), and then it is the key between quotes."""
    if key.isprintable() and '"' not in key and "\\" not in key:
        return b'"' + key.encode("utf-8") + b'"'
    return json.dumps(key, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Send:
    """One item to send: its key, hash, JSON record (bytes) and why it goes."""

    key: str
    hash: bytes
    record: bytes
    reason: Reason


@dataclass(frozen=True, slots=True)
class Outcome:
    """The channel's answer for one key. ``hash`` is None for a delete."""

    key: str
    op: Op
    hash: bytes | None
    accepted: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """An asynchronous submission waiting for the channel's answer."""

    id: int
    run_id: int
    kind: str
    handle: str | None
    detail: dict[str, Any]
    created_at: datetime


@dataclass
class Plan:
    """What this run sends and deletes for one target; counts for the report."""

    store: DeltaStore
    sink: Path
    items: int = 0
    previous: int = 0
    new: int = 0
    changed: int = 0
    expired: int = 0
    forced: int = 0
    unchanged: int = 0
    held: int = 0
    deletes: int = 0
    duplicates: int = 0

    @property
    def sending(self) -> int:
        return self.new + self.changed + self.expired + self.forced

    def counts(self) -> dict[str, int]:
        return {"items": self.items, "previous": self.previous, "new": self.new,
                "changed": self.changed, "keepalive": self.expired, "full": self.forced,
                "unchanged": self.unchanged, "held": self.held, "deletes": self.deletes,
                "duplicates": self.duplicates}

    def sends(self) -> Iterator[Send]:
        """Items to send, in the order of the sink file, read a page at a time."""
        conn = self.store.state.connection
        last = -1
        with self.sink.open("rb") as handle:
            while True:
                with self.store.state.guard("could not be read"):
                    rows = conn.execute(
                        "SELECT off, key, hash, len, reason FROM temp.plan_send WHERE off > ?"
                        " ORDER BY off LIMIT ?", (last, PAGE)).fetchall()
                if not rows:
                    return
                for off, key, digest, length, reason in rows:
                    yield Send(key, digest, _record(handle, off, length), reason)
                last = rows[-1][0]

    def held_back(self) -> Iterator[tuple[str, str, int]]:
        """(key, the channel's last complaint, identical rejections) of held products."""
        for key, reason, count in self._paged("plan_held", "key, reason, rejections"):
            yield key, reason or "", int(count)

    def delete_keys(self) -> Iterator[str]:
        """Keys to delete (accepted before, not in this run), in key order, paged."""
        for (key,) in self._paged("plan_delete", "key"):
            yield key

    def _paged(self, table: str, columns: str) -> Iterator[tuple[Any, ...]]:
        conn = self.store.state.connection
        last: str | None = None
        sql = (f"SELECT {columns} FROM temp.{table} WHERE ? IS NULL OR key > ?"  # noqa: S608
               " ORDER BY key LIMIT ?")  # table and columns are this module's constants
        while True:
            with self.store.state.guard("could not be read"):
                rows = conn.execute(sql, (last, last, PAGE)).fetchall()
            if not rows:
                return
            yield from rows
            last = rows[-1][0]


def _record(handle: BinaryIO, off: int, length: int) -> bytes:
    handle.seek(off)
    line = handle.read(length)
    return line.split(b"\t", 2)[2].rstrip(b"\n")


def _sink_rows(handle: BinaryIO, counter: list[int]) -> Iterator[tuple[str, bytes, int, int]]:
    off = 0
    for line in handle:
        key_part, digest, _ = line.split(b"\t", 2)
        counter[0] += 1
        # A key with no escape in it is its bytes between the quotes (see _json_key).
        key = (key_part[1:-1].decode("utf-8") if b"\\" not in key_part
               else json.loads(key_part))
        yield key, binascii.unhexlify(digest), off, len(line)
        off += len(line)


class DeltaStore:
    """The delta rows and pending submissions of one channel target (see module doc)."""

    def __init__(self, state: State, target: str, clock: Callable[[], float] = time.time
                 ) -> None:
        self.state = state
        self.target = target
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------

    def accepted_count(self) -> int:
        with self.state.guard("could not be read"):
            row = self.state.connection.execute(
                "SELECT count(*) FROM deltas WHERE target = ? AND hash IS NOT NULL",
                (self.target,)).fetchone()
        return int(row[0])

    def row(self, key: str) -> dict[str, Any] | None:
        """One product's row (for tests, ``status`` and diagnostics)."""
        with self.state.guard("could not be read"):
            found = self.state.connection.execute(
                "SELECT hash, accepted_at, rejected, rejections, reason FROM deltas"
                " WHERE target = ? AND key = ?", (self.target, key)).fetchone()
        if found is None:
            return None
        return dict(zip(("hash", "accepted_at", "rejected", "rejections", "reason"), found,
                        strict=True))

    # --- the plan --------------------------------------------------------------------------

    def plan(self, sink: Path, *, keepalive: float | None, full: bool, hold_after: int
             ) -> Plan:
        """Compare the sink file with the rows; see the module docstring for the rules."""
        plan = Plan(self, sink, previous=self.accepted_count())
        cutoff = int(self.clock() - keepalive) if keepalive else None
        params = {"t": self.target, "full": full, "hold": max(hold_after, 1),
                  "cutoff": cutoff}
        conn = self.state.connection
        with self.state.transaction():
            for statement in _TEMP.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for table in ("plan_items", "plan_send", "plan_delete", "plan_held"):
                conn.execute(f"DELETE FROM temp.{table}")  # noqa: S608 - our own names
            lines = [0]
            with sink.open("rb") as handle:
                cursor = conn.executemany("INSERT OR IGNORE INTO temp.plan_items VALUES"
                                          " (?, ?, ?, ?)", _sink_rows(handle, lines))
            plan.items = cursor.rowcount if cursor.rowcount >= 0 else lines[0]
            plan.duplicates = lines[0] - plan.items
            conn.execute(
                "INSERT INTO temp.plan_send (off, key, hash, len, reason)"  # noqa: S608 - constant SQL
                " SELECT p.off, p.key, p.hash, p.len, CASE"
                "   WHEN d.key IS NULL THEN 'new'"
                "   WHEN d.hash IS NULL OR d.hash != p.hash THEN 'changed'"
                "   WHEN :full THEN 'full' ELSE 'expired' END"
                " FROM temp.plan_items p LEFT JOIN main.deltas d"
                "   ON d.target = :t AND d.key = p.key"
                " WHERE (d.key IS NULL OR d.hash IS NULL OR d.hash != p.hash OR :full"
                "        OR (:cutoff IS NOT NULL AND d.accepted_at < :cutoff))"
                f"   AND NOT coalesce({_HELD}, 0)", params)  # noqa: S608 - constant SQL
            conn.execute(
                "INSERT INTO temp.plan_delete (key) SELECT d.key FROM main.deltas d"
                " WHERE d.target = ? AND d.hash IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM temp.plan_items p WHERE p.key = d.key)", (self.target,))
            for reason, count in conn.execute(
                    "SELECT reason, count(*) FROM temp.plan_send GROUP BY reason"):
                setattr(plan, {"new": "new", "changed": "changed", "expired": "expired",
                               "full": "forced"}[reason], int(count))
            plan.deletes = int(conn.execute("SELECT count(*) FROM temp.plan_delete")
                               .fetchone()[0])
            plan.held = conn.execute(
                "INSERT INTO temp.plan_held (key, reason, rejections)"  # noqa: S608
                " SELECT p.key, d.reason, d.rejections FROM temp.plan_items p"
                f" JOIN main.deltas d ON d.target = :t AND d.key = p.key WHERE {_HELD}",
                params).rowcount
        plan.unchanged = plan.items - plan.sending - plan.held
        return plan

    def forget_gone(self) -> int:
        """Drop rows of products never accepted that this run's plan no longer has."""
        with self.state.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM deltas WHERE target = ? AND hash IS NULL AND key NOT IN"
                " (SELECT key FROM temp.plan_items)", (self.target,))
        return max(cursor.rowcount, 0)

    # --- outcomes --------------------------------------------------------------------------

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Record the channel's answers in one transaction."""
        with self.state.transaction() as conn:
            self._apply(conn, outcomes)

    def _apply(self, conn: Any, outcomes: Iterable[Outcome]) -> None:
        now = int(self.clock())
        for outcome in outcomes:
            reason = (outcome.reason or "")[:REASON_CHARS] or None
            if outcome.op == "delete":
                if outcome.accepted:
                    conn.execute("DELETE FROM deltas WHERE target = ? AND key = ?",
                                 (self.target, outcome.key))
                else:
                    conn.execute("UPDATE deltas SET reason = ? WHERE target = ? AND key = ?",
                                 (reason, self.target, outcome.key))
            elif outcome.accepted:
                conn.execute(
                    "INSERT INTO deltas (target, key, hash, accepted_at, rejected, rejections,"
                    " reason) VALUES (?, ?, ?, ?, NULL, 0, NULL) ON CONFLICT (target, key) DO"
                    " UPDATE SET hash = excluded.hash, accepted_at = excluded.accepted_at,"
                    " rejected = NULL, rejections = 0, reason = NULL",
                    (self.target, outcome.key, outcome.hash, now))
            else:
                conn.execute(
                    "INSERT INTO deltas (target, key, hash, accepted_at, rejected, rejections,"
                    " reason) VALUES (?, ?, NULL, NULL, ?, 1, ?) ON CONFLICT (target, key) DO"
                    " UPDATE SET rejections = CASE WHEN deltas.rejected = excluded.rejected"
                    " THEN deltas.rejections + 1 ELSE 1 END, rejected = excluded.rejected,"
                    " reason = excluded.reason",
                    (self.target, outcome.key, outcome.hash, reason))

    # --- submissions waiting for an answer --------------------------------------------------

    def add_submission(self, run_id: int, kind: str, detail: dict[str, Any],
                       items: Iterable[tuple[int, str, Op, bytes | None]]) -> int:
        """Write a submission and its items down *before* it is sent; return its id."""
        with self.state.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO submissions (run_id, target, kind, handle, detail_json,"
                " created_at) VALUES (?, ?, ?, NULL, ?, ?)",
                (run_id, self.target, kind, json.dumps(detail, sort_keys=True), _now()))
            submission = cursor.lastrowid
            assert submission is not None
            conn.executemany("INSERT INTO submission_items VALUES (?, ?, ?, ?, ?)",
                             ((submission, *item) for item in items))
        return submission

    def update_submission(self, submission: int, *, handle: str | None = None,
                          detail: dict[str, Any] | None = None) -> None:
        with self.state.transaction() as conn:
            if handle is not None:
                conn.execute("UPDATE submissions SET handle = ? WHERE id = ?",
                             (handle, submission))
            if detail is not None:
                conn.execute("UPDATE submissions SET detail_json = ? WHERE id = ?",
                             (json.dumps(detail, sort_keys=True), submission))

    def submissions(self, kind: str | None = None) -> list[Submission]:
        """Submissions of this target still waiting, oldest first."""
        with self.state.guard("could not be read"):
            rows = self.state.connection.execute(
                "SELECT id, run_id, kind, handle, detail_json, created_at FROM submissions"
                " WHERE target = ? AND (? IS NULL OR kind = ?) ORDER BY id",
                (self.target, kind, kind)).fetchall()
        return [Submission(r[0], r[1], r[2], r[3], json.loads(r[4]),
                           datetime.fromisoformat(r[5])) for r in rows]

    def submission_items(self, submission: int) -> list[tuple[int, str, Op, bytes | None]]:
        """(seq, key, op, hash) of a submission; bounded by one feed or batch."""
        with self.state.guard("could not be read"):
            return [(r[0], r[1], r[2], r[3]) for r in self.state.connection.execute(
                "SELECT seq, key, op, hash FROM submission_items WHERE submission_id = ?"
                " ORDER BY seq", (submission,))]

    def resolve(self, submission: int, outcomes: Iterable[Outcome]) -> None:
        """Record a submission's outcomes and remove it, in one transaction."""
        with self.state.transaction() as conn:
            self._apply(conn, outcomes)
            conn.execute("DELETE FROM submissions WHERE id = ?", (submission,))

    def drop_submission(self, submission: int) -> None:
        """Forget a submission that never reached the channel (its items are sent again)."""
        self.resolve(submission, ())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
