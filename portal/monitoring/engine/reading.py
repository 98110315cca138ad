"""Reading columns: rows of a frame or a lazy mapping, numeric values as float64, category
counts; NaN, None and +/-inf are counted as missing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .methods import FloatArray, IntArray


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
