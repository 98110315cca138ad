"""Column accumulators: fed chunk by chunk, then finished into a ``ColumnResult``; the plan
of a run gives each column its accumulator and threshold."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .methods import (
    BINARY_UNIQUE,
    CHISQUARE,
    HISTOGRAM_UNIQUE,
    JENSEN_SHANNON,
    KS,
    KS_EXACT_LIMIT,
    METHODS,
    NUMERIC_UNIQUE,
    PSI,
    SMALL_REFERENCE,
    STD_FLOOR,
    UNSEEN_EXAMPLES,
    WASSERSTEIN,
    Z_TEST,
    ColumnSpec,
    DriftOptions,
    FloatArray,
    IntArray,
    MethodOverride,
    _check_method,
)
from .reading import _as_float, _category_counts
from .reference import CategoricalProfile, NumericProfile, Reference
from .results import ColumnResult, DriftReport, _unknown, _verdict
from .statistics import (
    _CdfGap,
    _histogram,
    _interior_positions,
    _keys_statistic,
    _ks_distance,
    _ks_pvalue,
    _percents_statistic,
    _sturges_edges,
    _wasserstein,
)


def _below(current: FloatArray, distinct: FloatArray, le: IntArray) -> IntArray:
    """``searchsorted(current, distinct, "left")`` given the "right" one: they differ only
    where a current value equals a reference value, which sits just below ``le``."""
    probe = np.maximum(le - 1, 0)
    equal = (le > 0) & (current[probe] == distinct)
    if not equal.any():
        return le
    lt = le.copy()
    lt[equal] = np.searchsorted(current, distinct[equal], side="left")
    return lt


def _offsets(distinct: FloatArray, le: IntArray, current: FloatArray) -> FloatArray:
    """Each sorted current value is anchored to the first reference value at or above it (the
    last one for values above them all); per anchor, the summed distance to it. The values of
    one anchor are contiguous, so this is one ``reduceat`` and no per-value temporary."""
    size = distinct.size
    starts = np.concatenate(([0], le))
    counts = np.diff(starts, append=current.size)
    sums = np.zeros(size + 1)
    occupied = counts > 0
    sums[occupied] = np.add.reduceat(current, starts[occupied])
    anchors = np.append(distinct, distinct[-1])
    offsets = counts * anchors - sums
    offsets[size] = -offsets[size]  # above the last reference value: v - u[-1]
    return offsets


class _NotNumericError(ValueError):
    pass


class _NumericColumn:
    def __init__(self, spec: ColumnSpec, profile: NumericProfile, method: str | None) -> None:
        self.spec, self.profile, self.method = spec, profile, method
        self.distinct, cumulative = profile.steps()
        self.fraction = cumulative / profile.values.size
        size = self.distinct.size
        self.le = np.zeros(size, np.int64)
        self.eq = np.zeros(size, np.int64)
        self.count = self.missing = 0
        self.minimum, self.maximum, self.integer = math.inf, -math.inf, True
        self.offsets: FloatArray | None = None
        self.extra: dict[float, int] | None = None
        self.extra_limit: int | None = None
        self.ks_buffer: list[FloatArray] | None = None
        self.edges: FloatArray | None = None
        self.histogram: IntArray | None = None
        self.pending: IntArray | None = None  # crossing intervals whose values a 2nd pass reads
        self.collected: list[tuple[IntArray, FloatArray]] = []
        self.needs_histogram = method in (JENSEN_SHANNON, PSI) and (
            profile.unique_count > HISTOGRAM_UNIQUE
        )
        default = method is None
        may_be_keys = (default and profile.unique_count <= NUMERIC_UNIQUE) or (
            method in (JENSEN_SHANNON, PSI) and not self.needs_histogram
        )
        if may_be_keys:
            self.extra = {}
            if default:  # past 5 unique values in all the method is KS or Wasserstein
                self.extra_limit = NUMERIC_UNIQUE + 1 - profile.unique_count
        small = profile.count <= SMALL_REFERENCE
        if method == WASSERSTEIN or (default and not small):
            self.offsets = np.zeros(size + 1)
        exact_ks = profile.count <= KS_EXACT_LIMIT and not profile.sketched
        if exact_ks and (method == KS or (default and small)):
            self.ks_buffer = []

    def add(self, raw: Any) -> FloatArray:
        """Count one chunk; returns its sorted finite values."""
        converted = _as_float(raw)
        if converted is None:
            raise _NotNumericError(self.spec.name)
        array, integer = converted
        self.integer = self.integer and integer
        finite = np.isfinite(array)
        kept = int(np.count_nonzero(finite))
        self.missing += array.size - kept
        current = array[finite] if kept < array.size else array.copy()
        current.sort()
        if kept:
            self._add_sorted(current)
        return current

    def _add_sorted(self, current: FloatArray) -> None:
        distinct = self.distinct
        self.count += current.size
        self.minimum = min(self.minimum, float(current[0]))
        self.maximum = max(self.maximum, float(current[-1]))
        le = np.searchsorted(current, distinct, side="right")
        lt = _below(current, distinct, le)
        self.le += le
        self.eq += le - lt
        if self.offsets is not None:
            self.offsets += _offsets(distinct, le, current)
        if self.extra is not None:
            self._add_extra(current, le, lt)
        if self.ks_buffer is not None:
            if self.count <= KS_EXACT_LIMIT:
                self.ks_buffer.append(current)
            else:
                self.ks_buffer = None

    def _add_extra(self, current: FloatArray, le: IntArray, lt: IntArray) -> None:
        """Count the current values the reference does not have (few unique values only)."""
        assert self.extra is not None
        unseen = np.ones(current.size, dtype=bool)
        for start, stop in zip(lt.tolist(), le.tolist(), strict=True):
            unseen[start:stop] = False
        values = current[unseen]
        if values.size == 0:
            return
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        counts = np.diff(np.append(starts, values.size))
        for value, count in zip(values[starts].tolist(), counts.tolist(), strict=True):
            self.extra[value] = self.extra.get(value, 0) + count
        if self.extra_limit is not None and len(self.extra) >= self.extra_limit:
            self.extra = None  # too many unique values for chi-square/Z/JS: KS or Wasserstein
            self.extra_limit = -1

    def start_histogram(self) -> None:
        if self.count:
            total = self.profile.count + self.count
            first = min(self.profile.minimum, self.minimum)
            last = max(self.profile.maximum, self.maximum)
            self.edges = _sturges_edges(first, last, total, self.integer and self.profile.integer)
            self.histogram = np.zeros(self.edges.size - 1, np.int64)

    def add_histogram(self, current: FloatArray) -> None:
        assert self.edges is not None and self.histogram is not None
        finite = current[np.isfinite(current)] if current.size else current
        self.histogram += _histogram(finite, self.edges)

    def plan_interior(self) -> bool:
        """After a streamed first pass: note the intervals where the Wasserstein area needs the
        values themselves; True when a second pass should collect them."""
        if not self.count or self.offsets is None or self.distinct.size < 2:
            return False
        if (self.method or self._default_method()) != WASSERSTEIN:
            return False
        gap = _CdfGap.of(self.distinct, self.fraction, self.le, self.eq, self.offsets, self.count)
        self.pending = gap.crossing
        return bool(self.pending.size)

    def collect_interior(self, raw: Any) -> None:
        assert self.pending is not None
        converted = _as_float(raw)
        if converted is None or not self.pending.size:
            return
        current = converted[0][np.isfinite(converted[0])]
        current.sort()
        segments = self.pending
        starts = np.searchsorted(current, self.distinct[segments], side="right")
        stops = np.searchsorted(current, self.distinct[segments + 1], side="left")
        lengths = stops - starts
        if lengths.any():
            values = current[_interior_positions(starts, lengths)]
            self.collected.append((np.repeat(segments, lengths), values))

    def _interior(
        self, current_sorted: FloatArray | None
    ) -> Callable[[IntArray, _CdfGap], FloatArray] | None:
        if current_sorted is not None:
            sorted_values = current_sorted

            def from_window(segments: IntArray, gap: _CdfGap) -> FloatArray:
                positions = _interior_positions(self.le[segments], gap.inside[segments])
                return sorted_values[positions]

            return from_window
        if self.pending is None:
            return None
        segment_ids = np.concatenate([ids for ids, _ in self.collected] or [np.zeros(0, np.int64)])
        values = np.concatenate([found for _, found in self.collected] or [np.zeros(0)])
        self.collected = []
        grouped = values[np.lexsort((values, segment_ids))]
        return lambda segments, gap: grouped

    def finish(self, threshold: float | None, current_sorted: FloatArray | None) -> ColumnResult:
        if self.count == 0:
            return _unknown(
                self.spec,
                f"no finite values in the current window ({self.missing} missing)",
                missing=self.missing,
            )
        method = self.method or self._default_method()
        counts = {
            "missing_current": self.missing,
            "unseen_categories": 0,
            "current_count": self.count,
        }
        if method == WASSERSTEIN:
            assert self.offsets is not None
            area, error = _wasserstein(
                self.distinct,
                self.fraction,
                self.le,
                self.eq,
                self.offsets,
                self.count,
                self._interior(current_sorted),
            )
            norm = max(self.profile.std, STD_FLOOR)
            if self.profile.sketched:
                spread = self.profile.maximum - self.profile.minimum
                error += spread * (1 / self.profile.values.size + 1 / self.profile.count)
            return _verdict(
                self.spec, method, area / norm, threshold, statistic_error=error / norm, **counts
            )
        if method == KS:
            return _verdict(self.spec, method, self._ks(current_sorted), threshold, **counts)
        if self.needs_histogram:
            assert self.edges is not None and self.histogram is not None
            reference = _histogram(self.profile.values, self.edges) / self.profile.values.size
            statistic = _percents_statistic(method, reference, self.histogram / self.count)
            return _verdict(self.spec, method, statistic, threshold, **counts)
        assert self.extra is not None
        cumulative = np.rint(self.fraction * self.profile.count).astype(np.int64)
        reference_counts = np.diff(cumulative, prepend=0)
        extra = sorted(self.extra.items())
        keys = self.distinct.tolist() + [value for value, _ in extra]
        reference_keys = np.concatenate([reference_counts, np.zeros(len(extra), np.int64)])
        current_keys = np.concatenate([self.eq, np.array([c for _, c in extra], np.int64)])
        statistic = _keys_statistic(method, keys, reference_keys, current_keys)
        return _verdict(self.spec, method, statistic, threshold, **counts)

    def _default_method(self) -> str:
        unique = self.profile.unique_count
        if unique <= NUMERIC_UNIQUE:
            unique = NUMERIC_UNIQUE + 1 if self.extra is None else unique + len(self.extra)
        if self.profile.count <= SMALL_REFERENCE:
            if unique > NUMERIC_UNIQUE:
                return KS
            return CHISQUARE if unique > BINARY_UNIQUE else Z_TEST
        return WASSERSTEIN if unique > NUMERIC_UNIQUE else JENSEN_SHANNON

    def _ks(self, current_sorted: FloatArray | None) -> float:
        n, m = self.profile.count, self.count
        if max(n, m) <= KS_EXACT_LIMIT and not self.profile.sketched:
            if current_sorted is None:
                assert self.ks_buffer is not None
                current_sorted = np.concatenate(self.ks_buffer)
            return float(stats.ks_2samp(self.profile.values, current_sorted).pvalue)
        d = _ks_distance(self.fraction, self.le, self.eq, m)
        return _ks_pvalue(d, n, m)


class _CategoricalColumn:
    needs_histogram = False

    def __init__(self, spec: ColumnSpec, profile: CategoricalProfile, method: str | None) -> None:
        self.spec, self.profile, self.method = spec, profile, method
        self.hits = np.zeros(len(profile.categories), np.int64)
        self.unseen: dict[Any, int] = {}
        self.count = self.missing = 0

    def add(self, raw: Any) -> None:
        categories, counts, missing = _category_counts(raw)
        self.missing += missing
        self.count += int(counts.sum())
        if not categories:
            return
        positions = self.profile.index.get_indexer(pd.Index(categories, dtype=object))
        known = positions >= 0
        np.add.at(self.hits, positions[known], counts[known])
        for position in np.flatnonzero(~known).tolist():
            value = categories[position]
            self.unseen[value] = self.unseen.get(value, 0) + int(counts[position])

    def finish(self, threshold: float | None, current_sorted: FloatArray | None) -> ColumnResult:
        if self.count == 0:
            return _unknown(
                self.spec,
                f"no values in the current window ({self.missing} missing)",
                missing=self.missing,
            )
        keys = list(self.profile.categories) + list(self.unseen)
        reference = np.concatenate([self.profile.counts, np.zeros(len(self.unseen), np.int64)])
        current = np.concatenate([self.hits, np.array(list(self.unseen.values()), np.int64)])
        method = self.method
        if method is None:
            if self.profile.count <= SMALL_REFERENCE:
                method = CHISQUARE if len(keys) > BINARY_UNIQUE else Z_TEST
            else:
                method = JENSEN_SHANNON
        statistic = _keys_statistic(method, keys, reference, current)
        frequent = sorted(self.unseen.items(), key=lambda item: -item[1])[:UNSEEN_EXAMPLES]
        return _verdict(
            self.spec,
            method,
            statistic,
            threshold,
            missing_current=self.missing,
            unseen_categories=sum(self.unseen.values()),
            current_count=self.count,
            unseen_examples=tuple(str(value) for value, _ in frequent),
        )


_Column = _NumericColumn | _CategoricalColumn


def _plan(
    reference: Reference, columns: Sequence[ColumnSpec] | None, options: DriftOptions
) -> list[tuple[_Column, float | None]]:
    """One accumulator per column with its threshold; bad configuration fails here, before any
    data is read."""
    specs = reference.specs if columns is None else tuple(columns)
    plan: list[tuple[_Column, float | None]] = []
    for spec in specs:
        if spec.name not in reference.profiles:
            raise ValueError(f"column {spec.name!r} is not in the reference profile")
        override = options.column_overrides.get(spec.name, MethodOverride())
        method = override.method or spec.method
        shared = options.method
        if method is None and shared is not None and spec.kind in METHODS[shared].kinds:
            method = shared
        _check_method(spec.name, method, spec.kind)
        threshold = override.threshold if override.threshold is not None else spec.threshold
        profile = reference.profiles[spec.name]
        column: _Column
        if spec.kind == "numeric":
            if not isinstance(profile, NumericProfile):
                raise ValueError(f"column {spec.name!r} was profiled as categorical")
            column = _NumericColumn(spec, profile, method)
        else:
            if not isinstance(profile, CategoricalProfile):
                raise ValueError(f"column {spec.name!r} was profiled as numeric")
            column = _CategoricalColumn(spec, profile, method)
        plan.append((column, threshold))
    return plan


def _empty_window(
    plan: list[tuple[_Column, float | None]], options: DriftOptions, reference: Reference
) -> DriftReport:
    return DriftReport(
        status="unknown",
        reason="the current window has no rows",
        columns=tuple(
            _unknown(column.spec, "the current window has no rows") for column, _ in plan
        ),
        dataset_drift=False,
        share_drifted=0.0,
        share_threshold=options.share,
        current_rows=0,
        reference_rows=reference.rows,
    )


def _reference_problem(column: _Column) -> str | None:
    if column.profile.count == 0:
        return "the reference has no usable values for this column"
    return None
