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

Modules: ``methods`` (the methods and what a run is asked), ``reading`` (a column's values),
``reference`` (the profile), ``statistics`` (each method's statistic from counts), ``results``,
``accumulators`` (a column fed chunk by chunk) and ``run`` (the entry points). They import one
another relatively, so the package also loads from its folder alone, without the portal package
and Celery (the drift benchmark loads it so).
"""

from __future__ import annotations

from .methods import METHODS, ColumnSpec, DriftOptions, MethodOverride
from .reference import CategoricalProfile, NumericProfile, Profile, Reference, reference_profile
from .results import ColumnResult, DriftReport
from .run import drift_run, drift_run_chunks

__all__ = [
    "METHODS",
    "CategoricalProfile",
    "ColumnResult",
    "ColumnSpec",
    "DriftOptions",
    "DriftReport",
    "MethodOverride",
    "NumericProfile",
    "Profile",
    "Reference",
    "drift_run",
    "drift_run_chunks",
    "reference_profile",
]
