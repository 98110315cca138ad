"""The drift engine against scipy and against generated data with known shifts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from portal.monitoring.engine import (
    ColumnSpec,
    DriftOptions,
    MethodOverride,
    drift_run,
    drift_run_chunks,
    reference_profile,
)

NUMERIC = ["n1", "n2", "n3", "n4"]
CATEGORICAL = ["c1", "c2"]
SPECS = [ColumnSpec(name, "numeric") for name in NUMERIC] + [
    ColumnSpec(name, "categorical") for name in CATEGORICAL
]


def _frame(rows: int, seed: int, shifted: frozenset[str] = frozenset()) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def shift(name: str) -> float:
        return 1.0 if name in shifted else 0.0

    colours = ["red", "green", "blue", "amber"]
    calm = [0.4, 0.3, 0.2, 0.1]
    moved = [0.1, 0.2, 0.3, 0.4]
    return pd.DataFrame(
        {
            "n1": rng.normal(shift("n1"), 1, rows),
            "n2": rng.exponential(1 + shift("n2"), rows),
            "n3": rng.integers(0, 50, rows) + 10 * shift("n3"),
            "n4": rng.uniform(0, 1 + shift("n4"), rows),
            "c1": rng.choice(colours, rows, p=moved if "c1" in shifted else calm),
            "c2": rng.choice(["web", "app", "api"], rows),
        }
    )


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[start : start + size] for start in range(0, len(frame), size)]


def test_a_large_reference_flags_exactly_the_shifted_columns() -> None:
    shifted = frozenset({"n1", "n3", "c1"})
    reference = reference_profile(_frame(5000, 1), SPECS)

    report = drift_run(reference, _frame(20000, 2, shifted))

    assert set(report.drifted_columns) == shifted
    assert {c.name: c.method for c in report.columns} == {
        **dict.fromkeys(NUMERIC, "wasserstein"),
        **dict.fromkeys(CATEGORICAL, "jensenshannon"),
    }
    assert report.share_drifted == 0.5
    assert report.dataset_drift and report.status == "drift"


def test_a_small_reference_flags_exactly_the_shifted_columns() -> None:
    shifted = frozenset({"n2", "c1"})
    reference = reference_profile(_frame(800, 3), SPECS)

    report = drift_run(reference, _frame(5000, 4, shifted))

    assert set(report.drifted_columns) == shifted
    assert {c.name: c.method for c in report.columns} == {
        **dict.fromkeys(NUMERIC, "ks"),
        "c1": "chisquare",
        "c2": "chisquare",
    }
    assert not report.dataset_drift and report.status == "warning"


def test_an_unshifted_window_is_ok() -> None:
    reference = reference_profile(_frame(5000, 5), SPECS)

    report = drift_run(reference, _frame(20000, 6))

    assert report.status == "ok" and report.drifted_columns == ()


def test_numeric_columns_with_few_values_use_the_category_tests() -> None:
    rng = np.random.default_rng(7)
    specs = [ColumnSpec("three", "numeric"), ColumnSpec("two", "numeric")]
    small = pd.DataFrame({"three": rng.integers(0, 3, 500), "two": rng.integers(0, 2, 500)})
    large = pd.DataFrame({"three": rng.integers(0, 3, 5000), "two": rng.integers(0, 2, 5000)})
    current = pd.DataFrame({"three": rng.integers(0, 3, 900), "two": rng.integers(0, 2, 900)})

    on_small = drift_run(reference_profile(small, specs), current)
    on_large = drift_run(reference_profile(large, specs), current)

    assert [c.method for c in on_small.columns] == ["chisquare", "z"]
    assert [c.method for c in on_large.columns] == ["jensenshannon", "jensenshannon"]


def test_unique_values_are_counted_over_both_samples() -> None:
    rng = np.random.default_rng(8)
    spec = [ColumnSpec("x", "numeric")]
    reference = reference_profile(pd.DataFrame({"x": rng.integers(0, 4, 600)}), spec)

    widened = drift_run(reference, pd.DataFrame({"x": rng.integers(0, 8, 600)}))

    assert widened.columns[0].method == "ks"


@pytest.mark.parametrize("current_rows", [700, 30000])
def test_ks_p_value_equals_scipy(current_rows: int) -> None:
    rng = np.random.default_rng(9)
    reference_values = np.round(rng.normal(0, 1, 900), 2)  # ties on both sides
    current_values = np.round(rng.normal(0.1, 1.1, current_rows), 2)
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "numeric")]
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    expected = stats.ks_2samp(reference_values, current_values).pvalue
    assert result.method == "ks"
    assert result.statistic == pytest.approx(expected, rel=1e-9)
    assert result.drifted == (expected <= 0.05)


@pytest.mark.parametrize("rounding", [None, 1])
def test_wasserstein_equals_scipy_divided_by_the_reference_std(rounding: int | None) -> None:
    rng = np.random.default_rng(10)
    reference_values = rng.normal(0, 2, 4000)
    current_values = np.concatenate([rng.normal(0.3, 2.5, 12000), [-30.0, 40.0]])
    if rounding is not None:
        reference_values = np.round(reference_values, rounding)
        current_values = np.round(current_values, rounding)
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "numeric")]
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    expected = stats.wasserstein_distance(reference_values, current_values) / np.std(
        reference_values
    )
    assert result.method == "wasserstein"
    assert result.statistic == pytest.approx(expected, rel=1e-9)
    assert result.statistic_error == 0.0


def test_the_reference_std_has_a_floor() -> None:
    reference_values = np.concatenate([np.zeros(1500), np.arange(6) * 1e-6])
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "numeric")]
    )
    current_values = np.full(2000, 1e-6)

    result = drift_run(reference, {"x": current_values}).columns[0]

    expected = stats.wasserstein_distance(reference_values, current_values) / 0.001
    assert result.statistic == pytest.approx(expected, rel=1e-9)


def test_jensen_shannon_on_categories_equals_scipy_with_the_natural_log() -> None:
    rng = np.random.default_rng(11)
    reference_values = rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2])
    current_values = rng.choice(["a", "b", "c", "new"], 4000, p=[0.3, 0.3, 0.2, 0.2])
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "categorical")]
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    keys = ["a", "b", "c", "new"]
    p = np.array([np.mean(reference_values == key) for key in keys])
    q = np.array([np.mean(current_values == key) for key in keys])
    assert result.method == "jensenshannon"
    assert result.statistic == pytest.approx(distance.jensenshannon(p, q), rel=1e-9)
    assert result.unseen_categories == int(np.sum(current_values == "new"))


def test_chi_square_equals_scipy_with_expected_counts_scaled_from_the_reference() -> None:
    rng = np.random.default_rng(12)
    reference_values = rng.choice(["a", "b", "c"], 600, p=[0.5, 0.3, 0.2])
    current_values = rng.choice(["a", "b", "c"], 1500, p=[0.45, 0.35, 0.2])
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "categorical")]
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    keys = ["a", "b", "c"]
    observed = [np.sum(current_values == key) for key in keys]
    expected = [np.sum(reference_values == key) * 1500 / 600 for key in keys]
    assert result.method == "chisquare"
    assert result.statistic == pytest.approx(stats.chisquare(observed, expected).pvalue, rel=1e-9)


def test_a_category_unseen_by_a_small_reference_makes_chi_square_drift() -> None:
    reference = reference_profile(
        pd.DataFrame({"x": ["a", "b", "c"] * 100}), [ColumnSpec("x", "categorical")]
    )

    result = drift_run(reference, {"x": np.array(["a", "b", "c", "d"] * 50)}).columns[0]

    assert (result.method, result.statistic, result.drifted) == ("chisquare", 0.0, True)
    assert result.unseen_categories == 50 and result.unseen_examples == ("d",)


def test_the_z_test_is_the_two_proportion_test_on_the_first_sorted_value() -> None:
    reference_values = np.array(["no"] * 300 + ["yes"] * 200)
    current_values = np.array(["no"] * 400 + ["yes"] * 400)
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "categorical")]
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    p1, p2 = 200 / 500, 400 / 800
    pooled = (200 + 400) / 1300
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 500 + 1 / 800))
    assert result.method == "z"
    assert result.statistic == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))), rel=1e-9)
    assert result.drifted


def test_the_z_test_of_one_shared_value_is_one() -> None:
    reference = reference_profile(pd.DataFrame({"x": ["a"] * 50}), [ColumnSpec("x", "categorical")])

    result = drift_run(reference, {"x": np.array(["a"] * 70)}).columns[0]

    assert (result.method, result.statistic, result.drifted) == ("z", 1.0, False)


def _sturges_percents(reference_values, current_values, fill):
    edges = np.histogram_bin_edges(np.concatenate([reference_values, current_values]), "sturges")
    p = np.histogram(reference_values, edges)[0] / len(reference_values)
    q = np.histogram(current_values, edges)[0] / len(current_values)
    if fill:
        for array in (p, q):
            smallest = array[array != 0].min()
            array[array == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return p, q


def test_psi_uses_sturges_bins_over_both_samples_and_fills_empty_bins() -> None:
    rng = np.random.default_rng(13)
    reference_values = rng.normal(0, 1, 3000)
    current_values = rng.normal(2, 1, 5000)
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}), [ColumnSpec("x", "numeric", method="psi")]
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    p, q = _sturges_percents(reference_values, current_values, fill=True)
    assert result.method == "psi"
    assert result.statistic == pytest.approx(np.sum((p - q) * np.log(p / q)), rel=1e-9)
    assert result.drifted and result.threshold == 0.1


def test_numeric_jensen_shannon_uses_sturges_bins_without_filling() -> None:
    rng = np.random.default_rng(14)
    reference_values = rng.normal(0, 1, 3000)
    current_values = rng.normal(0.5, 1, 5000)
    reference = reference_profile(
        pd.DataFrame({"x": reference_values}),
        [ColumnSpec("x", "numeric", method="jensenshannon")],
    )

    result = drift_run(reference, {"x": current_values}).columns[0]

    p, q = _sturges_percents(reference_values, current_values, fill=False)
    assert result.statistic == pytest.approx(distance.jensenshannon(p, q), rel=1e-9)


def test_psi_on_categories_fills_the_missing_share() -> None:
    reference = reference_profile(
        pd.DataFrame({"x": ["a"] * 600 + ["b"] * 400}), [ColumnSpec("x", "categorical")]
    )
    options = DriftOptions(column_overrides={"x": MethodOverride(method="psi")})

    result = drift_run(reference, {"x": np.array(["a"] * 500 + ["c"] * 500)}, options=options)

    p = np.array([0.6, 0.4, 0.0001])
    q = np.array([0.5, 0.0001, 0.5])
    assert result.columns[0].statistic == pytest.approx(np.sum((p - q) * np.log(p / q)), rel=1e-9)


def test_per_column_overrides_set_method_and_threshold() -> None:
    reference_frame = _frame(5000, 15)
    current = _frame(20000, 16, frozenset({"n1"}))
    specs = [ColumnSpec("n1", "numeric", threshold=10.0), ColumnSpec("n2", "numeric")]
    reference = reference_profile(reference_frame, specs)
    options = DriftOptions(column_overrides={"n2": MethodOverride(method="ks", threshold=1e-300)})

    report = drift_run(reference, current, options=options)

    n1, n2 = report.columns
    assert (n1.method, n1.threshold, n1.drifted) == ("wasserstein", 10.0, False)
    assert (n2.method, n2.threshold) == ("ks", 1e-300)
    assert n2.statistic == pytest.approx(
        stats.ks_2samp(reference_frame["n2"], current["n2"]).pvalue, rel=1e-9
    )


def test_one_method_for_all_columns_applies_where_it_fits() -> None:
    reference = reference_profile(_frame(5000, 17), SPECS)

    report = drift_run(reference, _frame(8000, 18), options=DriftOptions(method="psi"))

    assert {c.method for c in report.columns} == {"psi"}


def test_a_method_that_does_not_fit_the_column_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="does not apply"):
        ColumnSpec("x", "categorical", method="wasserstein")
    with pytest.raises(ValueError, match="unknown drift method"):
        ColumnSpec("x", "numeric", method="hellinger")


def test_an_empty_window_gives_status_unknown_with_a_reason() -> None:
    reference = reference_profile(_frame(2000, 19), SPECS)

    for report in (
        drift_run(reference, _frame(2000, 20).iloc[:0]),
        drift_run_chunks(reference, iter([])),
    ):
        assert report.status == "unknown"
        assert report.reason == "the current window has no rows"
        assert not report.dataset_drift and report.current_rows == 0
        assert {c.status for c in report.columns} == {"unknown"}


def test_missing_values_and_unseen_categories_are_counted_not_dropped_silently() -> None:
    reference = reference_profile(
        pd.DataFrame({"x": np.arange(2000.0), "c": ["a", "b"] * 1000}),
        [ColumnSpec("x", "numeric"), ColumnSpec("c", "categorical")],
    )
    current = pd.DataFrame(
        {
            "x": [np.nan, np.inf, -np.inf, None, 5.0, 6.0] * 100,
            "c": pd.Series(["a", None, "z", "y", "z", np.nan] * 100, dtype=object),
        }
    )

    report = drift_run(reference, current)

    x, c = report.columns
    assert (x.missing_current, x.current_count) == (400, 200)
    assert (c.missing_current, c.unseen_categories, c.current_count) == (200, 300, 400)
    assert c.unseen_examples == ("z", "y")


def test_a_column_without_values_is_unknown_and_left_out_of_the_share() -> None:
    reference = reference_profile(_frame(2000, 21), SPECS)
    current = _frame(3000, 22, frozenset({"n1"}))
    current["n2"] = np.nan
    current = current.drop(columns=["c2"])

    report = drift_run(reference, current)

    n2, c2 = report.column("n2"), report.column("c2")
    assert n2.status == "unknown" and "no finite values" in (n2.reason or "")
    assert n2.missing_current == 3000
    assert c2.status == "unknown" and c2.reason == "the column is not in the current window"
    assert report.share_drifted == pytest.approx(1 / 4)


def test_categorical_dtype_and_arrays_give_the_same_result() -> None:
    reference = reference_profile(_frame(3000, 23), SPECS)
    current = _frame(6000, 24, frozenset({"c1"}))
    as_categories = current.astype({"c1": "category", "c2": "category"})
    as_arrays = {name: current[name].to_numpy() for name in current.columns}

    expected = drift_run(reference, current)

    assert drift_run(reference, as_categories) == expected
    assert drift_run(reference, as_arrays) == expected


def test_a_chunked_run_equals_the_one_shot_run_within_its_bound() -> None:
    reference = reference_profile(_frame(5000, 25), SPECS)
    current = _frame(30000, 26, frozenset({"n2", "c2"}))
    current.loc[current.index[::97], "n1"] = np.nan

    one_shot = drift_run(reference, current)
    streamed = drift_run_chunks(reference, _chunks(current, 4096))
    exact = drift_run_chunks(reference, _chunks(current, 4096), exact=True)

    for whole, part, precise in zip(one_shot.columns, streamed.columns, exact.columns, strict=True):
        assert (part.method, part.drifted, part.missing_current) == (
            whole.method,
            whole.drifted,
            whole.missing_current,
        )
        assert whole.statistic is not None and part.statistic is not None
        assert abs(part.statistic - whole.statistic) <= part.statistic_error + 1e-12
        assert precise.statistic == pytest.approx(whole.statistic, rel=1e-9)
        assert precise.statistic_error == 0.0
        if part.method == "wasserstein":
            assert part.statistic_error < 0.02 * whole.statistic
        else:
            assert part.statistic_error == 0.0


def test_chunked_small_reference_tests_equal_the_one_shot_run() -> None:
    reference = reference_profile(_frame(900, 27), SPECS)
    for rows in (6000, 40000):  # exact and asymptotic KS p-values
        current = _frame(rows, 28, frozenset({"n3"}))

        one_shot = drift_run(reference, current)
        streamed = drift_run_chunks(reference, _chunks(current, 1500))

        for whole, part in zip(one_shot.columns, streamed.columns, strict=True):
            assert part.statistic == pytest.approx(whole.statistic, rel=1e-9, abs=1e-300)


def test_binned_psi_needs_a_second_pass_over_reiterable_chunks() -> None:
    reference = reference_profile(_frame(3000, 29), [ColumnSpec("n1", "numeric", method="psi")])
    current = _frame(9000, 30, frozenset({"n1"}))

    with pytest.raises(ValueError, match="re-iterable"):
        drift_run_chunks(reference, iter(_chunks(current, 1000)))
    streamed = drift_run_chunks(reference, _chunks(current, 1000))

    assert streamed.columns[0].statistic == pytest.approx(
        drift_run(reference, current).columns[0].statistic, rel=1e-9
    )


def test_a_quantile_sketch_stays_within_its_reported_bound() -> None:
    reference_frame = _frame(50000, 31)
    current = _frame(20000, 32, frozenset({"n1"}))
    spec = [ColumnSpec("n1", "numeric")]
    exact = drift_run(reference_profile(reference_frame, spec), current).columns[0]

    sketched_reference = reference_profile(reference_frame, spec, sketch_size=1000)
    sketched = drift_run(sketched_reference, current).columns[0]

    assert sketched_reference.profiles["n1"].values.size == 1000
    assert exact.statistic is not None and sketched.statistic is not None
    assert abs(sketched.statistic - exact.statistic) <= sketched.statistic_error
    assert sketched.drifted == exact.drifted


def test_columns_on_two_threads_give_the_same_report() -> None:
    reference = reference_profile(_frame(5000, 33), SPECS)
    current = _frame(20000, 34, frozenset({"n4", "c2"}))

    assert drift_run(reference, current, threads=2) == drift_run(reference, current)
    assert drift_run_chunks(reference, _chunks(current, 3000), threads=2) == drift_run_chunks(
        reference, _chunks(current, 3000)
    )
