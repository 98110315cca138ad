"""The drift methods as Evidently registers them, and what a run is asked: the columns, a
method and threshold per column, the share of drifted columns that makes the dataset drift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

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
