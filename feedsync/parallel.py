"""The same one pass, spread over worker processes.

Mapping, validating and serialising a product is ~95% of a build's CPU time and needs
nothing from other products, so it moves to workers. What must see products in catalog
order stays in this process: reading the catalog (so lines, row problems and profiles
behave exactly as in a serial run), duplicate-id detection, the report, the issue logs
and writing the feed files. Both sides call the per-product core (``feedsync/core.py``):
a worker computes each product's ids and outcomes, and the parent settles them with the
same ``Run.settle`` a serial run uses. The output is byte-for-byte the output of a serial
run (``tests/test_parallel.py`` holds this).

Memory stays bounded: batches are submitted with a window of ``2 × jobs`` in flight, so
the reader never runs ahead of the workers by more than that. Workers are forked after
every channel is compiled, so they inherit the compiled programs instead of re-loading
templates. A run falls back to serial when parallelism cannot help or cannot be exact:
one job, a small catalog, a writer that is not stateless, or supplemental joins (their
per-file statistics need every product in one place). Amazon's listings feed is
stateless: workers encode its messages, the parent gives each its id in catalog order
(``AmazonListingsWriter.write_encoded``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from feedsync.controls import reserves_fired
from feedsync.core import WRITTEN, ChannelTarget, Outcome, OutcomeKind
from feedsync.model import Issue, Product, Record, RowProblem

if TYPE_CHECKING:
    import multiprocessing.pool
    from multiprocessing.pool import AsyncResult

    from feedsync.pipeline import Pending, Run

BATCH = 400
MIN_BYTES = 8 << 20          # below ~8 MB the pool costs more than it saves
MAX_AUTO_JOBS = 4
STOP_WAIT = 10.0             # seconds an error waits for the batches in flight

log = logging.getLogger("feedsync.parallel")

_RUN: Run | None = None       # set in the parent just before the fork; read by workers

Entry = RowProblem | tuple[str, int, dict[str, str]]
# (catalog id, ids per id group, line, file) of a product; its outcomes are in the marks
Head = tuple[str, list[str], int, str]
# An outcome that is not "written, nothing to say": (kind, issues, fill, failed, encoded,
# the reserve controls that fired: the report counts them)
Unusual = tuple[OutcomeKind, list[Issue], int, tuple[str, ...], bool, list[str]]
Mark = int | Unusual


@dataclass(slots=True)
class Packed:
    """A batch's results, packed for the pipe to the parent.

    A pickled ``Outcome`` costs a class reference, an argument tuple and a list per
    outcome; unpickling them was ~35 us a product for seven channels, more than reading
    the catalog. Here nearly every outcome is one small int, and the bytes of each output
    travel as one blob for the whole batch, cut apart by ``lengths`` in the parent.

    ``marks`` holds, per product and target in order: the number of views for a fan-out
    target, then per view the outcome's fill mask (written, no issue, no failed
    expression) or an ``Unusual`` tuple. ``lengths`` holds each encoded payload's size,
    in the order they were encoded; ``blobs`` one per output slot (target, output).
    """

    entries: list[RowProblem | Head]
    marks: list[Mark]
    lengths: array[int]
    blobs: list[bytes]
    unmapped: Counter[str]
    mapped: int


def jobs_for(run: Run, bytes_total: int) -> int:
    """How many worker processes this run should use; 1 means serial."""
    cores = cores_available()
    wanted = run.jobs if run.jobs > 0 else min(cores, MAX_AUTO_JOBS)
    if wanted > cores:
        # More workers than cores only adds memory and forks (--jobs 100000 would start
        # 100000 processes): cap, and say so, since the user asked for more.
        log.warning("--jobs %d capped at %d, the cores available to this process",
                    wanted, cores)
        wanted = cores
    if wanted <= 1 or (run.jobs <= 0 and bytes_total < MIN_BYTES):
        return 1
    if run.controls.joins or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    writers = [o.writer for t in run.targets for o in t.encoding]
    if not all(w.stateless for w in writers):
        return 1
    return wanted


def cores_available() -> int:
    """The cores this process may run on (its affinity mask, e.g. under taskset or a
    container's cpuset), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_parallel(run: Run, records: Iterable[Record | RowProblem], jobs: int) -> None:
    global _RUN
    stream = iter(records)
    head = _head(run, stream)
    _RUN = run  # the workers get their copy of the run (compiled channels) at the fork
    pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_init_worker)
    _RUN = None
    pending: deque[AsyncResult[Packed]] = deque()
    try:
        for batch in _batches(chain(head, stream)):
            pending.append(pool.apply_async(_work, (batch,)))
            if len(pending) >= 2 * jobs:
                _merge(run, pending.popleft().get())
        while pending:
            _merge(run, pending.popleft().get())
        pool.close()
        pool.join()
    except BaseException:
        _stop(pool, pending)
        raise


def _stop(pool: multiprocessing.pool.Pool, pending: Iterable[AsyncResult[Packed]]) -> None:
    """Stop the pool after an error (a refusal, a signal, a worker's exception).

    ``Pool.terminate`` joins the thread that feeds batches to the workers, and that thread
    may be blocked mid-write of a batch into the pipe of the workers terminate has just
    killed: the run then hangs for ever (seen with the catalog-changed refusal, 2 runs in
    8 of tests/test_hostile_catalog_rewrite.py). The batches in flight (at most 2 × jobs)
    are let finish first, so the feeder is idle when terminate runs.
    """
    pool.close()
    deadline = time.monotonic() + STOP_WAIT
    for result in pending:
        result.wait(max(0.0, deadline - time.monotonic()))
    pool.terminate()
    pool.join()


def _head(run: Run, stream: Iterator[Record | RowProblem]) -> list[Record | RowProblem]:
    """Read up to the first record, so override columns are bound before the fork."""
    head: list[Record | RowProblem] = []
    for item in stream:
        head.append(item)
        if isinstance(item, Record):
            run.bind_columns(Product(item.data))
            break
    return head


def _batches(items: Iterable[Record | RowProblem]) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    for item in items:
        batch.append(item if isinstance(item, RowProblem) else (item.file, item.line, item.data))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _init_worker() -> None:
    # The parent handles Ctrl-C and SIGTERM and then stops the pool; a worker just ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A parent killed with SIGKILL leaves no one to stop the pool: the worker's next write
    # to the result pipe fails, and multiprocessing prints that BrokenPipeError's traceback
    # before the process ends. Nothing a worker says matters once its parent is gone, so a
    # worker's own stderr is the null device (its errors reach the parent as results).
    _silence_stderr()


def _silence_stderr() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives with the worker


def _work(batch: list[Entry]) -> Packed:
    """In a worker: every product of the batch through every target, encoded and packed."""
    run = _RUN
    assert run is not None
    entries: list[RowProblem | Head] = []
    marks: list[Mark] = []
    lengths: array[int] = array("Q")
    slots: list[list[bytes]] = [[] for _ in range(_slot_count(run))]
    bases = _slot_bases(run)
    controls = run.controls
    before_mapped = controls.mapped
    controls.unmapped.clear()
    defaults = run.defaults
    for entry in batch:
        if isinstance(entry, RowProblem):
            entries.append(entry)
            continue
        file, line, data = entry
        product = run.prepare(Product(data), file, line)
        catalog_id = product["id"]
        ids = run.ids.ids(product)
        entries.append((catalog_id, ids, line, file))
        for target, base in zip(run.targets, bases, strict=True):
            views = target.views(product)
            if target.stock is not None:
                marks.append(len(views))
            for view in views:
                _pack(target.outcome(view, ids[target.group] or catalog_id, defaults),
                      marks, lengths, slots, base)
    return Packed(entries, marks, lengths, [b"".join(slot) for slot in slots],
                  Counter(controls.unmapped), controls.mapped - before_mapped)


def _slot_count(run: Run) -> int:
    return sum(len(target.encoding) for target in run.targets)


def _slot_bases(run: Run) -> list[int]:
    """The first output slot of each target."""
    bases, base = [], 0
    for target in run.targets:
        bases.append(base)
        base += len(target.encoding)
    return bases


def _pack(outcome: Outcome, marks: list[Mark], lengths: array[int],
          slots: list[list[bytes]], base: int) -> None:
    payload = outcome.payload
    if payload is not None:
        for offset, data in enumerate(payload):
            slots[base + offset].append(data)
            lengths.append(len(data))
    reserved = reserves_fired(outcome.fired) if outcome.fired else []
    if (outcome.kind == WRITTEN and not outcome.issues and not outcome.failed
            and payload is not None and not reserved):
        marks.append(outcome.fill)
    else:
        marks.append((outcome.kind, outcome.issues, outcome.fill, outcome.failed,
                      payload is not None, reserved))


class _Unpacker:
    """The parent's side of ``Packed``: outcomes again, in the order they were packed."""

    def __init__(self, run: Run, packed: Packed) -> None:
        self._marks = iter(packed.marks)
        self._lengths = iter(packed.lengths)
        self._blobs = packed.blobs
        self._positions = [0] * len(packed.blobs)
        self._shapes = [(base, len(target.encoding), target.stock is not None)
                        for base, target in zip(_slot_bases(run), run.targets, strict=True)]

    def product(self) -> list[list[Outcome]]:
        """The next product's outcomes, per target (per store view)."""
        marks = self._marks
        per_target = []
        for base, outputs, fan_out in self._shapes:
            count = next(marks) if fan_out else 1
            assert type(count) is int
            per_target.append([self._outcome(next(marks), base, outputs)
                               for _ in range(count)])
        return per_target

    def _outcome(self, mark: Mark, base: int, outputs: int) -> Outcome:
        if type(mark) is int:
            return Outcome(WRITTEN, [], payload=self._payload(base, outputs), fill=mark)
        kind, issues, fill, failed, encoded, reserved = mark  # type: ignore[misc]
        return Outcome(kind, issues, payload=self._payload(base, outputs) if encoded else None,
                       fill=fill, failed=failed, fired=reserved)

    def _payload(self, base: int, outputs: int) -> list[bytes]:
        payload = []
        positions, blobs, lengths = self._positions, self._blobs, self._lengths
        for slot in range(base, base + outputs):
            start = positions[slot]
            end = positions[slot] = start + next(lengths)
            payload.append(blobs[slot][start:end])
        return payload


def _merge(run: Run, packed: Packed) -> None:
    """In the parent, in catalog order: duplicates, counts, logs and the feed bytes.

    Feed bytes are gathered per output and written once per batch: far fewer calls, the
    same bytes in the same order.
    """
    run.controls.unmapped.update(packed.unmapped)
    run.controls.mapped += packed.mapped
    report = run.report
    unpacker = _Unpacker(run, packed)
    pending: Pending = {}
    for entry in packed.entries:
        if isinstance(entry, RowProblem):
            run.add_problem(entry)
            continue
        catalog_id, ids, line, file = entry
        per_target = unpacker.product()
        report.products_read += 1

        def outcomes(target: ChannelTarget, product_id: str, index: int,
                     per_target: list[list[Outcome]] = per_target) -> list[Outcome]:
            return per_target[index]

        run.settle(catalog_id, file, line, ids, outcomes, pending)
    run.flush(pending)
