"""The drift engine: a window of current rows against a precomputed reference profile.

Contract. ``reference_profile`` reads the reference (training) frame once and keeps a compact
profile: numeric columns as their sorted finite values (or a quantile sketch) with count, standard
deviation and unique count; categorical columns as value counts. ``drift_run`` compares a current
window (a DataFrame, or a mapping of column name to array) with that profile column by column, and
``drift_run_chunks`` does the same for a window streamed in chunks with bounded memory. Nothing
here imports Django or Evidently; it is numpy and scipy.

The methods, statistics and verdicts are those of Evidently 0.7's default ``DataDriftPreset``
(``evidently.legacy.calculations.stattests``), so reports can be compared with it:

- NaN, None and +/-inf are dropped from both samples before anything else (they are counted and
  reported as ``missing_current``). Unique counts are taken over both cleaned samples together.
- Reference of at most 1,000 values: a numeric column with more than 5 unique values uses the
  two-sample Kolmogorov-Smirnov test (``ks``, drift when p <= 0.05); any other column uses
  chi-square (``chisquare``) with more than 2 unique values, else the two-proportion Z-test
  (``z``), both drifting when p < 0.05.
- Reference above 1,000 values: a numeric column with more than 5 unique values uses the
  Wasserstein distance divided by the reference standard deviation (floor 0.001; ``wasserstein``,
  drift when >= 0.1); any other column the Jensen-Shannon distance with the natural logarithm
  (``jensenshannon``, drift when >= 0.1).
- Chi-square, Z, Jensen-Shannon and PSI on categorical values use the union of both samples'
  categories, so a category unseen in the reference takes part in the statistic exactly as in
  Evidently (it is also counted in ``unseen_categories``). On a numeric column whose reference
  has more than 20 unique values, Jensen-Shannon and PSI use ``np.histogram_bin_edges(..., bins=
  "sturges")`` over both samples; PSI replaces empty bins by a small value, Jensen-Shannon does not.
- The dataset drifts when the share of drifted columns is at least 0.5.

``psi`` (threshold 0.1) and the methods above can be chosen per column, with a threshold.

Report status: ``drift`` when the dataset drifts, ``warning`` when some columns drift but
fewer than the share, ``ok``, or ``unknown`` with a reason.

Where this engine differs from Evidently, on purpose: a column with no usable values (all
missing, absent from the window, or not numeric) gets status ``unknown`` with a reason and is left
out of the share of drifted columns (Evidently raises); an empty window gives a report with status
``unknown`` and a reason; the Z-test on values of mixed types that do not sort orders them by type
name and text (Evidently raises).

Exactness. One-shot runs give Evidently's statistics up to floating-point rounding (agreement with
scipy is tested to 1e-9). A streamed run is exact for every method except the Wasserstein
distance: per reference interval it keeps counts and summed offsets, which give the exact area
between the two CDFs wherever they do not cross inside an interval; where they do, the area is
bounded from both sides and the midpoint is reported, with the half-width in
``statistic_error`` (normalised like the statistic). The bound only involves intervals between
adjacent reference values, so it is small (tested); ``exact=True`` removes it with a second pass
that reads only the values inside those intervals. A quantile-sketched reference of ``s`` points
adds at most ``(max - min) * (1/s + 1/n) / std`` to the Wasserstein error, also reported; other
statistics on a sketched column are approximate as well (the KS distance by at most 1/s + 1/n).

Speed and memory. Each numeric window column is sorted once (a copy); every statistic then comes
from ``searchsorted`` of the reference's distinct values into it and per-interval sums, with no
per-value temporaries. Categorical columns are counted through category codes or ``factorize``.
Columns are processed one at a time (or ``threads`` at a time).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial import distance

Kind = Literal["numeric", "categorical"]
Status = Literal["ok", "warning", "drift", "unknown"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

KS = "ks"
CHISQUARE = "chisquare"
Z_TEST = "z"
WASSERSTEIN = "wasserstein"
JENSEN_SHANNON = "jensenshannon"
PSI = "psi"

SMALL_REFERENCE = 1000  # Evidently: reference_data.shape[0] <= 1000 picks the p-value tests
NUMERIC_UNIQUE = 5  # a numeric column needs more than this many unique values for KS/Wasserstein
BINARY_UNIQUE = 2  # chi-square needs more than this many unique values, else the Z-test
HISTOGRAM_UNIQUE = 20  # JS/PSI bin a numeric column whose reference has more unique values
KS_EXACT_LIMIT = 10000  # scipy's ks_2samp uses the exact distribution up to this sample size
STD_FLOOR = 0.001
MIN_SKETCH_SIZE = 100
UNSEEN_EXAMPLES = 5


@dataclass(frozen=True)
class Method:
    """A drift method as Evidently registers it."""

    name: str
    label: str  # Evidently's display name, as its reports print it
    threshold: float
    kinds: frozenset[str]
    p_value: bool  # a p-value drifts below the threshold, a distance at or above it
    inclusive: bool = False  # KS drifts at p <= threshold, chi-square and Z at p < threshold

    def drifted(self, statistic: float, threshold: float) -> bool:
        if self.p_value:
            return statistic <= threshold if self.inclusive else statistic < threshold
        return statistic >= threshold


_BOTH = frozenset({"numeric", "categorical"})
METHODS: dict[str, Method] = {
    KS: Method(KS, "K-S p_value", 0.05, frozenset({"numeric"}), p_value=True, inclusive=True),
    CHISQUARE: Method(CHISQUARE, "chi-square p_value", 0.05, frozenset({"categorical"}), True),
    Z_TEST: Method(Z_TEST, "Z-test p_value", 0.05, frozenset({"categorical"}), True),
    WASSERSTEIN: Method(
        WASSERSTEIN, "Wasserstein distance (normed)", 0.1, frozenset({"numeric"}), False
    ),
    JENSEN_SHANNON: Method(JENSEN_SHANNON, "Jensen-Shannon distance", 0.1, _BOTH, False),
    PSI: Method(PSI, "PSI", 0.1, _BOTH, False),
}


def _check_method(name: str, method: str | None, kind: str) -> None:
    if method is None:
        return
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r} for {name!r}; known: {sorted(METHODS)}")
    if kind not in METHODS[method].kinds:
        raise ValueError(f"drift method {method!r} does not apply to {kind} column {name!r}")


@dataclass(frozen=True)
class ColumnSpec:
    """A monitored column; ``method`` and ``threshold`` override the default choice."""

    name: str
    kind: Kind
    method: str | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"column {self.name!r}: kind must be numeric or categorical")
        _check_method(self.name, self.method, self.kind)


@dataclass(frozen=True)
class MethodOverride:
    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftOptions:
    """``share``: dataset drift when at least this share of columns drifts. ``method``: one
    method for every column it applies to. ``column_overrides``: per column method/threshold,
    which win over the column spec's."""

    share: float = 0.5
    method: str | None = None
    column_overrides: Mapping[str, MethodOverride] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Reference profiles


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Sorted finite reference values (all of them, or ``len(values)`` evenly spaced quantiles
    when ``sketched``), with the facts the methods need from the full column."""

    values: FloatArray
    count: int
    missing: int
    std: float
    minimum: float
    maximum: float
    unique_count: int
    integer: bool

    @property
    def sketched(self) -> bool:
        return len(self.values) != self.count

    def steps(self) -> tuple[FloatArray, IntArray]:
        """Distinct values (``values`` itself when they are) and, for each, how many of
        ``values`` are less or equal."""
        values = self.values
        starts = np.empty(values.size, dtype=bool)
        starts[:1] = True
        np.not_equal(values[1:], values[:-1], out=starts[1:])
        if starts.all():
            return values, np.arange(1, values.size + 1, dtype=np.int64)
        first = np.flatnonzero(starts)
        return values[first], np.append(first[1:], values.size).astype(np.int64)


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    categories: tuple[Any, ...]
    counts: IntArray
    count: int
    missing: int

    @cached_property
    def index(self) -> pd.Index:
        return pd.Index(list(self.categories), dtype=object)


Profile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class Reference:
    rows: int
    specs: tuple[ColumnSpec, ...]
    profiles: Mapping[str, Profile]

    def spec(self, name: str) -> ColumnSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)


def reference_profile(
    frame: pd.DataFrame | Mapping[str, Any],
    columns: Sequence[ColumnSpec],
    *,
    sketch_size: int | None = None,
) -> Reference:
    """Profile the reference once. With ``sketch_size``, a numeric column with more unique
    values than that keeps ``sketch_size`` quantiles instead of every value."""
    if sketch_size is not None and sketch_size < MIN_SKETCH_SIZE:
        raise ValueError(f"sketch_size must be at least {MIN_SKETCH_SIZE}")
    profiles: dict[str, Profile] = {}
    for spec in columns:
        raw = frame[spec.name]
        if spec.kind == "numeric":
            profiles[spec.name] = _numeric_profile(spec.name, raw, sketch_size)
        else:
            categories, counts, missing = _category_counts(raw)
            order = np.argsort(-counts, kind="stable")
            profiles[spec.name] = CategoricalProfile(
                categories=tuple(categories[i] for i in order),
                counts=counts[order],
                count=int(counts.sum()),
                missing=missing,
            )
    return Reference(rows=_row_count(frame), specs=tuple(columns), profiles=profiles)


def _numeric_profile(name: str, raw: Any, sketch_size: int | None) -> NumericProfile:
    converted = _as_float(raw)
    if converted is None:
        raise ValueError(f"reference column {name!r} is not numeric")
    array, integer = converted
    finite = array[np.isfinite(array)]  # always a copy, sorted in place below
    finite.sort()
    count = int(finite.size)
    unique = int(np.count_nonzero(finite[1:] != finite[:-1]) + 1) if count else 0
    std = float(np.std(finite)) if count else 0.0
    values = finite
    if sketch_size is not None and unique > sketch_size:
        positions = ((np.arange(sketch_size) + 0.5) * count / sketch_size).astype(np.int64)
        values = finite[positions]
    return NumericProfile(
        values=values,
        count=count,
        missing=int(array.size - count),
        std=std,
        minimum=float(finite[0]) if count else math.nan,
        maximum=float(finite[-1]) if count else math.nan,
        unique_count=unique,
        integer=integer,
    )


# ---------------------------------------------------------------------------------------------
# Reading columns


def _row_count(frame: pd.DataFrame | Mapping[str, Any]) -> int:
    """Rows of a frame, or of a mapping of columns: its ``num_rows`` when it has one (a lazy
    column reader need not read a column to answer), else the length of its first column."""
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    rows = getattr(frame, "num_rows", None)
    if isinstance(rows, int):
        return rows
    for values in frame.values():
        return len(values)
    return 0


def _as_float(values: Any) -> tuple[FloatArray, bool] | None:
    """The column as float64 (without a copy when it already is), and whether it is integer;
    None when it is not numeric."""
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if dtype == np.float64:
            return values.to_numpy(), False
        integer = pd.api.types.is_integer_dtype(dtype)
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            return values.to_numpy(dtype=np.float64, na_value=np.nan), integer
        values = values.to_numpy()
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return np.asarray(array, dtype=np.float64), array.dtype.kind in "iu"
    try:
        return np.asarray(pd.to_numeric(array, errors="raise"), dtype=np.float64), False
    except (TypeError, ValueError):
        return None


def _category_counts(values: Any) -> tuple[list[Any], IntArray, int]:
    """Distinct non-missing values with their counts, and the number of missing ones (NaN,
    None, +/-inf), without pandas object-dtype work for categoricals and numbers."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes if isinstance(values, pd.Series) else values.codes)
        uniques: list[Any] = list(dtype.categories.tolist())
        tallies = np.bincount(codes.astype(np.int64) + 1, minlength=len(uniques) + 1)
    else:
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            array = np.asarray(values)
            finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
            distinct, counts = np.unique(finite, return_counts=True)
            missing = int(array.size - finite.size)
            return distinct.tolist(), counts.astype(np.int64), missing
        codes, found = pd.factorize(values, use_na_sentinel=True)
        uniques = list(found.tolist())
        tallies = np.bincount(np.asarray(codes, dtype=np.int64) + 1, minlength=len(uniques) + 1)
    missing = int(tallies[0])
    counts = tallies[1:].astype(np.int64)
    keep = counts > 0
    for position, value in enumerate(uniques):
        if isinstance(value, float) and not math.isfinite(value):
            missing += int(counts[position])
            keep[position] = False
    return [value for value, kept in zip(uniques, keep, strict=True) if kept], counts[keep], missing


# ---------------------------------------------------------------------------------------------
# Statistics on counts


def _sturges_edges(first: float, last: float, total: int, integer: bool) -> FloatArray:
    """``np.histogram_bin_edges(both samples, bins="sturges")`` from their min, max and size."""
    ptp = last - first
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = ptp / (np.log2(total) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        bins = int(np.ceil((last - first) / width))
    else:
        bins = 1
    return np.linspace(first, last, bins + 1, endpoint=True, dtype=np.float64)


def _histogram(values: FloatArray, edges: FloatArray) -> IntArray:
    """``np.histogram(values, edges)[0]`` (last bin closed) without sorting the values."""
    bins = edges.size - 1
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = bins - 1
    inside = (index >= 0) & (index < bins)
    return np.bincount(index[inside], minlength=bins).astype(np.int64)


def _fill_zeroes(percents: FloatArray) -> FloatArray:
    """Evidently's ``feel_zeroes``: empty bins get a small share, so PSI stays finite."""
    smallest = percents[percents != 0].min()
    filler = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(percents == 0, filler, percents)


def _percents_statistic(method: str, reference: FloatArray, current: FloatArray) -> float:
    if method == PSI:
        reference, current = _fill_zeroes(reference), _fill_zeroes(current)
        return float(np.sum((reference - current) * np.log(reference / current)))
    return float(distance.jensenshannon(reference, current))


def _keys_statistic(
    method: str, keys: Sequence[Any], reference: IntArray, current: IntArray
) -> float:
    """Chi-square, Z, JS or PSI over the union of both samples' values (``keys``)."""
    n, m = int(reference.sum()), int(current.sum())
    if method == CHISQUARE:
        expected = reference * (m / n)
        if np.any(expected == 0):  # a value unseen in the reference: infinite chi-square
            return 0.0
        return float(stats.chisquare(current, expected).pvalue)
    if method == Z_TEST:
        return _z_test(keys, reference, current, n, m)
    return _percents_statistic(method, reference / n, current / m)


def _z_test(keys: Sequence[Any], reference: IntArray, current: IntArray, n: int, m: int) -> float:
    in_reference, in_current = np.flatnonzero(reference), np.flatnonzero(current)
    if len(in_reference) == 1 and len(in_current) == 1 and in_reference[0] == in_current[0]:
        return 1.0
    try:  # Evidently codes the sorted first value as 0 and every other value as 1
        first = min(range(len(keys)), key=keys.__getitem__)
    except TypeError:  # values of mixed types do not sort (Evidently fails there)
        first = min(range(len(keys)), key=lambda i: (type(keys[i]).__name__, str(keys[i])))
    p1 = float(n - int(reference[first])) / n
    p2 = float(m - int(current[first])) / m
    pooled = float(p1 * n + p2 * m) / (n + m)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n + 1.0 / m))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _ks_distance(fraction: FloatArray, le: IntArray, eq: IntArray, m: int) -> float:
    """``ks_2samp``'s D from the reference CDF at its distinct values and, per value, the
    current counts at or below it (``le``) and equal to it (``eq``): the extremes of the CDF
    difference are at reference values or at the last current value before one."""
    lt = le - eq
    at_values = fraction - le / m
    before_next = fraction[:-1] - lt[1:] / m
    lowest = min(float(at_values.min()), float(-lt[0] / m))
    highest = float(at_values.max())
    if before_next.size:
        lowest = min(lowest, float(before_next.min()))
        highest = max(highest, float(before_next.max()))
    below = float(np.clip(-lowest, 0, 1))
    return below if below > highest else highest


def _ks_pvalue(d: float, n: int, m: int) -> float:
    big, small = sorted([float(n), float(m)], reverse=True)
    en = big * small / (big + small)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))


@dataclass(frozen=True)
class _CdfGap:
    """The two empirical CDFs between adjacent reference values ``u[j] < u[j+1]``: there the
    reference CDF is a constant ``level``, and the current CDF rises from ``low`` to ``high``
    over the ``inside`` current values that lie strictly between; ``spread`` is their summed
    ``(u[j+1] - v) / m``, so ``(low - level) * width + spread`` is the integral of
    ``F_cur - F_ref`` over the interval."""

    width: FloatArray
    level: FloatArray
    low: FloatArray
    high: FloatArray
    inside: IntArray
    spread: FloatArray

    @classmethod
    def of(
        cls,
        distinct: FloatArray,
        fraction: FloatArray,
        le: IntArray,
        eq: IntArray,
        offsets: FloatArray,
        m: int,
    ) -> _CdfGap:
        lt = le - eq
        return cls(
            width=np.diff(distinct),
            level=fraction[:-1],
            low=le[:-1] / m,
            high=lt[1:] / m,
            inside=lt[1:] - le[:-1],
            spread=offsets[1 : distinct.size] / m,
        )

    @property
    def crossing(self) -> IntArray:
        """Intervals where the current CDF crosses the reference level: the only ones whose
        area needs the individual current values."""
        return np.flatnonzero((self.low < self.level) & (self.high > self.level))


def _wasserstein(
    distinct: FloatArray,
    fraction: FloatArray,
    le: IntArray,
    eq: IntArray,
    offsets: FloatArray,
    m: int,
    interior: Callable[[IntArray, _CdfGap], FloatArray] | None,
) -> tuple[float, float]:
    """Area between the two empirical CDFs (scipy's ``wasserstein_distance``) and an error bound
    (0 when exact).

    Below the first and above the last reference value, and over every interval where the
    current CDF stays on one side of the reference level, the counts and offsets give the area
    exactly. Where it crosses, ``interior(segments, gap)`` (the current values inside those
    intervals, grouped by interval and sorted) gives it exactly; without them (a streamed window) the area
    lies between ``|J|`` and the most either side of the crossing can hold, and the midpoint is
    returned with the half-width as the bound."""
    size = distinct.size
    total = float(offsets[0] + offsets[size]) / m
    if size == 1:
        return total, 0.0
    gap = _CdfGap.of(distinct, fraction, le, eq, offsets, m)
    above = gap.low >= gap.level
    below = ~above & (gap.high <= gap.level)
    total += float(np.sum(np.where(above, (gap.low - gap.level) * gap.width + gap.spread, 0.0)))
    total += float(
        np.sum(
            np.where(
                below,
                (gap.level - gap.high) * gap.width + (gap.inside * gap.width / m - gap.spread),
                0.0,
            )
        )
    )
    segments = gap.crossing
    if segments.size == 0:
        return total, 0.0
    if interior is not None:
        values = interior(segments, gap)
        return total + _crossing_area(distinct, gap, le, m, values, segments), 0.0
    width, level = gap.width[segments], gap.level[segments]
    signed = (gap.low[segments] - level) * width + gap.spread[segments]
    least = np.abs(signed)
    most = np.minimum(
        signed + 2 * (level - gap.low[segments]) * width,
        -signed + 2 * (gap.high[segments] - level) * width,
    )
    return total + float(np.sum((least + most) / 2)), float(np.sum((most - least) / 2))


def _interior_positions(starts: IntArray, lengths: IntArray) -> IntArray:
    """Positions ``starts[i] .. starts[i] + lengths[i] - 1`` for every i, concatenated."""
    ends = np.cumsum(lengths)
    rank = np.arange(int(ends[-1]) if ends.size else 0) - np.repeat(ends - lengths, lengths)
    return np.repeat(starts, lengths) + rank


def _crossing_area(
    distinct: FloatArray,
    gap: _CdfGap,
    le: IntArray,
    m: int,
    interior: FloatArray,
    segments: IntArray,
) -> float:
    """Exact area over the crossing intervals, from their current values (grouped, sorted)."""
    lengths = gap.inside[segments]
    ends = np.cumsum(lengths)
    firsts = ends - lengths
    rank = np.arange(int(ends[-1])) - np.repeat(firsts, lengths)
    following = np.empty_like(interior)
    following[:-1] = interior[1:]
    following[ends - 1] = distinct[segments + 1]
    steps = (np.repeat(le[segments], lengths) + rank + 1) / m
    level = gap.level[segments]
    area = float(np.sum(np.abs(steps - np.repeat(level, lengths)) * (following - interior)))
    heads = interior[firsts] - distinct[segments]
    return area + float(np.sum(heads * np.abs(gap.low[segments] - level)))


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ColumnResult:
    name: str
    kind: Kind
    method: str | None  # Evidently's registered name (``ks``, ``wasserstein``, ...)
    statistic: float | None
    threshold: float | None
    drifted: bool
    missing_current: int  # NaN, None and +/-inf rows in the window (left out of the statistic)
    unseen_categories: int  # window rows whose category the reference never had
    current_count: int  # values that went into the statistic
    status: Status = "ok"
    reason: str | None = None
    statistic_error: float = 0.0  # bound on |statistic - exact value|; 0 when exact
    unseen_examples: tuple[str, ...] = ()

    @property
    def method_label(self) -> str | None:
        return METHODS[self.method].label if self.method else None


@dataclass(frozen=True)
class DriftReport:
    status: Status
    reason: str | None
    columns: tuple[ColumnResult, ...]
    dataset_drift: bool
    share_drifted: float
    share_threshold: float
    current_rows: int
    reference_rows: int

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.drifted)

    def column(self, name: str) -> ColumnResult:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unknown(spec: ColumnSpec, reason: str, *, missing: int = 0) -> ColumnResult:
    return ColumnResult(
        name=spec.name,
        kind=spec.kind,
        method=None,
        statistic=None,
        threshold=None,
        drifted=False,
        missing_current=missing,
        unseen_categories=0,
        current_count=0,
        status="unknown",
        reason=reason,
    )


def _verdict(
    spec: ColumnSpec,
    method: str,
    statistic: float,
    threshold: float | None,
    **counts: Any,
) -> ColumnResult:
    chosen = METHODS[method]
    limit = chosen.threshold if threshold is None else threshold
    drifted = bool(chosen.drifted(statistic, limit))
    return ColumnResult(
        name=spec.name,
        kind=spec.kind,
        method=method,
        statistic=statistic,
        threshold=limit,
        drifted=drifted,
        status="drift" if drifted else "ok",
        **counts,
    )


def _report(
    results: list[ColumnResult], options: DriftOptions, rows: int, reference: Reference
) -> DriftReport:
    known = [result for result in results if result.status != "unknown"]
    drifted = sum(result.drifted for result in known)
    share = drifted / len(known) if known else 0.0
    dataset_drift = bool(known) and share >= options.share
    status: Status
    reason = None
    if not known:
        status = "unknown"
        reason = "no column could be compared: " + "; ".join(
            f"{result.name}: {result.reason}" for result in results
        )
    elif dataset_drift:
        status = "drift"
    else:
        status = "warning" if drifted else "ok"
    return DriftReport(
        status=status,
        reason=reason,
        columns=tuple(results),
        dataset_drift=dataset_drift,
        share_drifted=share,
        share_threshold=options.share,
        current_rows=rows,
        reference_rows=reference.rows,
    )


# ---------------------------------------------------------------------------------------------
# Column accumulators: fed chunk by chunk, then finished into a ColumnResult


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


# ---------------------------------------------------------------------------------------------
# Entry points


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
