"""The same one pass, spread over worker processes.

Mapping, validating and serialising a product is ~95% of a build's CPU time and needs
nothing from other products, so it moves to workers. What must see products in catalog
order stays in this process: reading the catalog (so lines, row problems and profiles
behave exactly as in a serial run), duplicate-id detection, the report, the issue logs
and writing the feed files. The output is byte-for-byte the output of a serial run
(``tests/test_parallel.py`` holds this).

Memory stays bounded: batches are submitted with a window of ``2 × jobs`` in flight, so
the reader never runs ahead of the workers by more than that. Workers are forked after
every channel is compiled, so they inherit the compiled programs instead of re-loading
templates. A run falls back to serial when parallelism cannot help or cannot be exact:
one job, a small catalog, a writer that keeps state across items (Amazon's message ids),
or supplemental joins (their per-file statistics need every product in one place).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

from feedsync.model import WRITTEN, Product, Record, RowProblem
from feedsync.rules.duplicates import RESERVE_AFTER, SeenIds

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

    from feedsync.pipeline import Run

BATCH = 400
MIN_BYTES = 8 << 20          # below ~8 MB the pool costs more than it saves
MAX_AUTO_JOBS = 4

_RUN: Run | None = None       # set in the parent just before the fork; read by workers

Entry = RowProblem | tuple[str, int, dict[str, str]]
Result = tuple[str, int, str, list[tuple[int, list[Any], list[bytes] | None, bytes | None]]]


def jobs_for(run: Run, bytes_total: int) -> int:
    """How many worker processes this run should use; 1 means serial."""
    wanted = run.jobs if run.jobs > 0 else min(os.cpu_count() or 1, MAX_AUTO_JOBS)
    if wanted <= 1 or (run.jobs <= 0 and bytes_total < MIN_BYTES):
        return 1
    if run.controls.joins or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    writers = [o.writer for t in run.targets for o in t.outputs if o.file is not None]
    if not all(hasattr(w, "encode") and hasattr(w, "write_encoded") for w in writers):
        return 1
    return wanted


def run_parallel(run: Run, records: Iterable[Record | RowProblem], jobs: int) -> None:
    global _RUN
    stream = iter(records)
    head = _head(run, stream)
    seen = SeenIds()
    _RUN = run  # the workers get their copy of the run (compiled channels) at the fork
    pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_init_worker)
    _RUN = None
    try:
        pending: deque[AsyncResult[tuple[list[Any], Counter[str], int]]] = deque()
        for batch in _batches(chain(head, stream)):
            pending.append(pool.apply_async(_work, (batch,)))
            if len(pending) >= 2 * jobs:
                _merge(run, pending.popleft().get(), seen)
        while pending:
            _merge(run, pending.popleft().get(), seen)
        pool.close()
        pool.join()
    except BaseException:
        pool.terminate()
        pool.join()
        raise


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


def _work(batch: list[Entry]) -> tuple[list[Any], Counter[str], int]:
    """In a worker: every product of the batch through every target, encoded."""
    run = _RUN
    assert run is not None
    results: list[Any] = []
    controls = run.controls
    before_mapped = controls.mapped
    controls.unmapped.clear()
    for entry in batch:
        if isinstance(entry, RowProblem):
            results.append(entry)
            continue
        file, line, data = entry
        product = run.prepare(Product(data), file, line)
        results.append((product["id"], line, file, [_target(run, t, product)
                                                    for t in run.targets]))
    return results, Counter(controls.unmapped), controls.mapped - before_mapped


def _target(run: Run, target: Any, product: Product) -> Any:
    """One outcome, or for a fan-out target (local inventory) a list, one per store."""
    if target.stock is None:
        return _encode(run, target, product)
    from feedsync.pipeline import store_views

    return [_encode(run, target, view) for view in store_views(target, product)]


def _encode(run: Run, target: Any,
            product: Product) -> tuple[int, list[Any], list[bytes] | None, bytes | None]:
    from feedsync.pipeline import writer_issue
    from feedsync.writers import ItemRejected

    outcome = run.evaluate(target, product)
    if outcome.item is None:
        return outcome.kind, outcome.issues, None, outcome.filled
    try:
        payload = [o.writer.encode(outcome.item) for o in target.outputs if o.file is not None]
    except ItemRejected as exc:
        outcome.reject(writer_issue(target, product, exc))
        return outcome.kind, outcome.issues, None, outcome.filled
    return WRITTEN, outcome.issues, payload, outcome.filled


def _merge(run: Run, result: tuple[list[Any], Counter[str], int], seen: SeenIds) -> None:
    """In the parent, in catalog order: duplicates, counts, logs and the feed bytes.

    Feed bytes are gathered per output and written once per batch: far fewer calls, the
    same bytes in the same order.
    """
    entries, unmapped, mapped = result
    run.controls.unmapped.update(unmapped)
    run.controls.mapped += mapped
    report = run.report
    pending: dict[int, list[bytes]] = {}
    for entry in entries:
        if isinstance(entry, RowProblem):
            run.add_problem(entry)
            continue
        product_id, line, file, per_target = entry
        report.products_read += 1
        if report.products_read == RESERVE_AFTER:
            run.reserve(seen)
        first_line = seen.add(product_id, line) if product_id else 0
        if first_line:
            stub = Product(id=product_id)
            stub.file, stub.line = file, line
            for target in run.targets:
                run.duplicate(target, stub, first_line)
        else:
            for target, outcome in zip(run.targets, per_target, strict=True):
                if target.stock is not None:
                    target.stock.count(bool(outcome))
                    for one in outcome:
                        _apply(run, target, one, pending)
                else:
                    _apply(run, target, outcome, pending)
        run.tick(report.products_read)
    _flush(run, pending)


def _apply(run: Run, target: Any,
           outcome: tuple[int, list[Any], list[bytes] | None, bytes | None],
           pending: dict[int, list[bytes]]) -> None:
    kind, issues, payload, filled = outcome
    if filled is not None:
        target.fill.add(filled)
    if payload is not None:
        writing = [o for o in target.outputs if o.file is not None]
        for output, data in zip(writing, payload, strict=True):
            if getattr(output.writer, "concatenable", False):
                pending.setdefault(id(output), []).append(data)
            else:
                _flush(run, pending)  # keep the order of every output's bytes
                output.writer.write_encoded(data)
    if kind == WRITTEN and not issues:
        target.report.written += 1
    else:
        run.record_outcome(target, kind, issues)


def _flush(run: Run, pending: dict[int, list[bytes]]) -> None:
    if not pending:
        return
    for target in run.targets:
        for output in target.outputs:
            chunks = pending.get(id(output))
            if chunks:
                output.writer.write_encoded(  # type: ignore[attr-defined]  # jobs_for checked it
                    b"".join(chunks))
    pending.clear()
