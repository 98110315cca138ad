"""Statistics on counts: each method's statistic from per-value or per-bin counts of both
samples, and the Wasserstein distance from counts and offsets with its error bound."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import distance

from .methods import CHISQUARE, PSI, Z_TEST, FloatArray, IntArray


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
