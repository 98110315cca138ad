"""Reference profiles: what the engine keeps of the reference (training) frame, read once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .methods import MIN_SKETCH_SIZE, ColumnSpec, FloatArray, IntArray
from .reading import _as_float, _category_counts, _row_count


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
