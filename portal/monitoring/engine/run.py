"""The entry points: a window compared with the reference in one pass, or streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from typing import Any

import pandas as pd

from .accumulators import (
    _CategoricalColumn,
    _Column,
    _empty_window,
    _NotNumericError,
    _NumericColumn,
    _plan,
    _reference_problem,
)
from .methods import ColumnSpec, DriftOptions
from .reading import _as_float, _row_count
from .reference import Reference
from .results import ColumnResult, DriftReport, _report, _unknown


def drift_run(
    reference: Reference,
    current: pd.DataFrame | Mapping[str, Any],
    columns: Sequence[ColumnSpec] | None = None,
    options: DriftOptions | None = None,
    *,
    threads: int = 1,
) -> DriftReport:
    """Compare one window with the reference, one column at a time (``threads`` columns at a
    time: numpy's sorting and Parquet reads release the GIL). ``current`` may be a lazy mapping
    that reads a column when asked; give it a ``num_rows`` attribute."""
    options = options or DriftOptions()
    plan = _plan(reference, columns, options)
    rows = _row_count(current)
    if rows == 0:
        return _empty_window(plan, options, reference)
    with _pool(threads) as pool:
        results = list(pool.map(lambda item: _one_shot(item[0], item[1], current, rows), plan))
    return _report(results, options, rows, reference)


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads < 1:
        raise ValueError("threads must be at least 1")
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="drift")


def _one_shot(
    column: _Column, threshold: float | None, current: pd.DataFrame | Mapping[str, Any], rows: int
) -> ColumnResult:
    name = column.spec.name
    problem = _reference_problem(column)
    if problem:
        return _unknown(column.spec, problem)
    if name not in current:
        return _unknown(column.spec, "the column is not in the current window", missing=rows)
    if isinstance(column, _CategoricalColumn):
        column.add(current[name])
        return column.finish(threshold, None)
    try:
        current_sorted = column.add(current[name])
    except _NotNumericError:
        return _unknown(column.spec, "the current values are not numeric")
    if column.needs_histogram:
        column.start_histogram()
        if column.count:
            column.add_histogram(current_sorted)
    return column.finish(threshold, current_sorted)


def drift_run_chunks(
    reference: Reference,
    chunks: Iterable[pd.DataFrame | Mapping[str, Any]],
    columns: Sequence[ColumnSpec] | None = None,
    options: DriftOptions | None = None,
    *,
    exact: bool = False,
    threads: int = 1,
) -> DriftReport:
    """Compare a window streamed in chunks (for example one Parquet row group at a time).

    Memory is one chunk plus, per column, counts over the reference's distinct values.
    Everything equals ``drift_run`` on the whole window except the Wasserstein distance, which
    comes with an error bound (``statistic_error``, see the module docstring). A second pass
    over the chunks is made for numeric JS/PSI columns (their bins depend on the whole window's
    range) and, with ``exact=True``, for the current values inside the few reference intervals
    where the two CDFs cross, which makes the Wasserstein distance exact. ``chunks`` must then
    be re-iterable (a list, or an object whose ``__iter__`` starts over)."""
    options = options or DriftOptions()
    plan = _plan(reference, columns, options)
    binned = [column for column, _ in plan if column.needs_histogram]
    if (binned or exact) and iter(chunks) is chunks:
        raise ValueError(
            "a second pass is needed (binned JS/PSI or exact=True): pass re-iterable chunks"
        )
    rows = 0
    failed = {
        column.spec.name: problem for column, _ in plan if (problem := _reference_problem(column))
    }
    present: set[str] = set()
    with _pool(threads) as pool:
        for chunk in chunks:
            size = _row_count(chunk)
            if size == 0:
                continue
            rows += size
            feeding = [column for column, _ in plan if column.spec.name not in failed]
            for column, outcome in zip(
                feeding, pool.map(_feed, feeding, repeat(chunk), repeat(size)), strict=True
            ):
                if outcome == "fed":
                    present.add(column.spec.name)
                elif outcome != "absent":
                    failed[column.spec.name] = outcome
    if rows == 0:
        return _empty_window(plan, options, reference)
    _second_pass(plan, chunks, binned, exact, failed)
    results = []
    for column, threshold in plan:
        name = column.spec.name
        problem = failed.get(name)
        if problem is None and name not in present:
            problem = "the column is not in the current window"
        if problem:
            results.append(_unknown(column.spec, problem, missing=column.missing))
        else:
            results.append(column.finish(threshold, None))
    return _report(results, options, rows, reference)


def _feed(column: _Column, chunk: pd.DataFrame | Mapping[str, Any], size: int) -> str:
    """Add one chunk's values to a column: "fed", "absent" (its rows count as missing), or
    the reason the column cannot be compared."""
    name = column.spec.name
    if name not in chunk:
        column.missing += size
        return "absent"
    try:
        column.add(chunk[name])
    except _NotNumericError:
        return "the current values are not numeric"
    return "fed"


def _second_pass(
    plan: list[tuple[_Column, float | None]],
    chunks: Iterable[pd.DataFrame | Mapping[str, Any]],
    binned: list[_Column],
    exact: bool,
    failed: dict[str, str],
) -> None:
    histograms = [
        column
        for column in binned
        if isinstance(column, _NumericColumn) and column.count and column.spec.name not in failed
    ]
    for column in histograms:
        column.start_histogram()
    interiors = [
        column
        for column, _ in plan
        if exact
        and isinstance(column, _NumericColumn)
        and column.spec.name not in failed
        and column.plan_interior()
    ]
    if not histograms and not interiors:
        return
    for chunk in chunks:
        for column in histograms:
            if column.spec.name in chunk:
                converted = _as_float(chunk[column.spec.name])
                if converted is not None:
                    column.add_histogram(converted[0])
        for column in interiors:
            if column.spec.name in chunk:
                column.collect_interior(chunk[column.spec.name])
