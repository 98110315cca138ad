"""The drift engine against Evidently 0.7's ``DataDriftPreset``, and a 10,000,000-row window.

Data (seeded): a 200,000-row reference and a 1,000,000-row current frame with 15 numeric and 5
categorical columns, 6 of them shifted (4 numeric, 2 categorical, one of those with a category
the reference never had), a little missing data; written to Parquet in a temporary folder.

Each side runs in its own subprocess that reads the Parquet files, then times the drift
computation alone and reports the process's peak RSS (``VmHWM``):
- the engine: ``reference_profile`` + ``drift_run`` in the project's venv, reading the Parquet
  files column by column as it goes (those reads are inside its timing), on one thread and
  again on two (the engine package is loaded from its folder, so the process does not import the
  portal package and Celery); the targets are judged on the one-thread run;
- Evidently: ``Report([DataDriftPreset()], include_tests=True).run(...)`` in its own venv,
  ``var/bench-evidently`` (made on first use; Evidently is never installed in the project).
Targets: the same method and verdict on every column, statistics within 1e-6 relative, at least
20x faster, at most a quarter of Evidently's peak RSS.

Then a 10,000,000-row window written as 10 Parquet files of 1,000,000 rows is streamed through
``drift_run_chunks`` one row group at a time, on two threads (target: peak RSS under 2 GB).

Environment: ``BENCH_DRIFT_CURRENT`` (rows, default 1,000,000) and ``BENCH_DRIFT_PARTITIONS``
(default 10) shrink the run for a quick look. Only the standard library is imported at the top:
this file is also the child script of both venvs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "portal" / "monitoring" / "engine"
EVIDENTLY_VENV = ROOT / "var" / "bench-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently>=0.7,<0.8", "pandas<3", "pyarrow"]  # 0.7 breaks on pandas 3
REFERENCE_ROWS = 200_000
CURRENT_ROWS = int(os.environ.get("BENCH_DRIFT_CURRENT", "1000000"))
PARTITIONS = int(os.environ.get("BENCH_DRIFT_PARTITIONS", "10"))
PARTITION_ROWS = 1_000_000
ROW_GROUP = 250_000
NUMERIC = [f"n{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]
SHIFTED = {"n00", "n03", "n07", "n11", "c0", "c3"}
SPEEDUP_TARGET = 20.0
MEMORY_TARGET = 0.25
STREAM_MEMORY_TARGET_MB = 2048
TOLERANCE = 1e-6


# ---------------------------------------------------------------------------------------------
# Data


def _table(rows: int, seed: int, shifted: bool) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)

    def on(name: str) -> bool:
        return shifted and name in SHIFTED

    numeric = {
        "n00": rng.normal(0.5 if on("n00") else 0.0, 1.0, rows),
        "n01": rng.normal(10.0, 3.0, rows),
        "n02": rng.lognormal(0.0, 0.8, rows),
        "n03": rng.exponential(3.0 if on("n03") else 2.0, rows),
        "n04": rng.uniform(0.0, 100.0, rows),
        "n05": rng.poisson(4.0, rows).astype(np.float64),
        "n06": rng.gamma(2.0, 2.0, rows),
        "n07": rng.normal(53.0 if on("n07") else 50.0, 10.0, rows),
        "n08": rng.beta(2.0, 5.0, rows),
        "n09": rng.integers(0, 1000, rows).astype(np.float64),
        "n10": rng.normal(0.0, 1.0, rows),
        "n11": rng.uniform(0.2, 1.2, rows) if on("n11") else rng.uniform(0.0, 1.0, rows),
        "n12": rng.lognormal(1.0, 0.3, rows),
        "n13": rng.standard_t(5.0, rows),
        "n14": np.round(rng.normal(0.0, 2.0, rows), 1),
    }
    numeric["n10"][rng.random(rows) < 0.01] = np.nan
    categories = {
        "c0": (["alpha", "beta", "gamma", "delta", "epsilon"], [0.4, 0.25, 0.15, 0.1, 0.1]),
        "c1": (["web", "app", "api"], [0.5, 0.3, 0.2]),
        "c2": ([f"city-{i:02d}" for i in range(12)], [1 / 12] * 12),
        "c3": (["bronze", "silver", "gold", "platinum"], [0.4, 0.3, 0.2, 0.1]),
        "c4": (["no", "yes"], [0.7, 0.3]),
    }
    if shifted:
        categories["c0"] = (categories["c0"][0], [0.1, 0.15, 0.25, 0.2, 0.3])
        categories["c3"] = (
            ["bronze", "silver", "gold", "platinum", "trial"],
            [0.3, 0.2, 0.15, 0.1, 0.25],
        )
    arrays = {name: pa.array(values, from_pandas=True) for name, values in numeric.items()}
    for name, (names, weights) in categories.items():
        codes = rng.choice(len(names), rows, p=weights).astype(np.int32)
        mask = (rng.random(rows) < 0.005) if name == "c2" else None
        arrays[name] = pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=mask), pa.array(names, pa.string())
        )
    return pa.table(arrays)


def _write(folder: Path) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    reference, current = folder / "reference.parquet", folder / "current.parquet"
    pq.write_table(_table(REFERENCE_ROWS, 1, shifted=False), reference, row_group_size=ROW_GROUP)
    pq.write_table(_table(CURRENT_ROWS, 2, shifted=True), current, row_group_size=ROW_GROUP)
    os.sync()  # no write-back competing with the timed runs
    return reference, current


def _write_partitions(folder: Path) -> list[Path]:
    import pyarrow.parquet as pq

    partitions = []
    for index in range(PARTITIONS):
        path = folder / "window" / f"part-{index:02d}.parquet"
        path.parent.mkdir(exist_ok=True)
        pq.write_table(
            _table(PARTITION_ROWS, 100 + index, shifted=True), path, row_group_size=ROW_GROUP
        )
        partitions.append(path)
    os.sync()
    return partitions


# ---------------------------------------------------------------------------------------------
# Children (each prints one ``RESULT {json}`` line)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_engine() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "drift_engine", ENGINE / "__init__.py", submodule_search_locations=[str(ENGINE)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["drift_engine"] = module
    spec.loader.exec_module(module)
    return module


def _specs(engine: Any) -> list[Any]:
    return [engine.ColumnSpec(name, "numeric") for name in NUMERIC] + [
        engine.ColumnSpec(name, "categorical") for name in CATEGORICAL
    ]


class _ParquetColumns(Mapping[str, Any]):
    """A Parquet file as a mapping of column name to values, each read when asked for: the
    engine works column by column, so only one column is in memory at a time."""

    def __init__(self, path: str) -> None:
        import pyarrow.parquet as pq

        self.path = path
        metadata = pq.read_metadata(path)
        self.names = list(metadata.schema.names)
        self.num_rows = metadata.num_rows
        self.read_seconds = 0.0  # summed over threads

    def __getitem__(self, name: str) -> Any:
        import pyarrow.parquet as pq

        started = time.perf_counter()
        column = pq.read_table(self.path, columns=[name]).column(0).to_pandas()
        self.read_seconds += time.perf_counter() - started
        return column

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _child_engine(reference_path: str, current_path: str, threads: str) -> dict[str, Any]:
    engine = _load_engine()
    reference_columns, current_columns = (
        _ParquetColumns(reference_path),
        _ParquetColumns(current_path),
    )
    started = time.perf_counter()
    reference = engine.reference_profile(reference_columns, _specs(engine))
    profiled = time.perf_counter()
    report = engine.drift_run(reference, current_columns, threads=int(threads))
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "profile_seconds": profiled - started,
        "run_seconds": finished - profiled,
        "read_seconds": reference_columns.read_seconds + current_columns.read_seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "share": report.share_drifted,
        "dataset_drift": report.dataset_drift,
        "columns": {
            c.name: [c.method_label, c.statistic, c.drifted, c.missing_current, c.unseen_categories]
            for c in report.columns
        },
    }


def _child_evidently(reference_path: str, current_path: str) -> dict[str, Any]:
    import warnings

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    frames = []
    for path in (reference_path, current_path):
        frame = pd.read_parquet(path)
        for name in CATEGORICAL:  # plain strings, as most Evidently users hand them over
            frame[name] = frame[name].astype(object)
        frames.append(frame)
    reference_frame, current_frame = frames
    read_seconds = time.perf_counter() - started
    frames_mb = sum(frame.memory_usage(deep=True).sum() for frame in frames) / 2**20
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current_frame, data_definition=definition),
        Dataset.from_pandas(reference_frame, data_definition=definition),
    )
    seconds = time.perf_counter() - started
    result = snapshot.dict()
    verdicts = {
        test["metric_config"]["metric_id"]: test["status"] == "FAIL"
        for test in result["tests"]
        if test["id"] == "drift"
    }
    columns, share = {}, None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = [config["method"], metric["value"], verdicts[metric["id"]]]
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    return {
        "seconds": seconds,
        "read_seconds": read_seconds,
        "frames_mb": frames_mb,
        "peak_rss_mb": _peak_rss_mb(),
        "share": share,
        "columns": columns,
    }


class _RowGroups:
    """The window's Parquet partitions, one row group at a time; re-iterable."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __iter__(self) -> Any:
        import pyarrow.parquet as pq

        for path in self.paths:
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                yield parquet.read_row_group(group).to_pandas()


def _child_stream(reference_path: str, threads: str, *partitions: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    engine = _load_engine()
    started = time.perf_counter()
    reference = engine.reference_profile(pq.read_table(reference_path).to_pandas(), _specs(engine))
    report = engine.drift_run_chunks(reference, _RowGroups(list(partitions)), threads=int(threads))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "rows": report.current_rows,
        "drifted": sorted(report.drifted_columns),
        "max_error": max(c.statistic_error for c in report.columns),
        "share": report.share_drifted,
    }


CHILDREN = {"engine": _child_engine, "evidently": _child_evidently, "stream": _child_stream}


# ---------------------------------------------------------------------------------------------
# Parent


def _run_child(python: Path, kind: str, *arguments: Path | int) -> dict[str, Any]:
    completed = subprocess.run(
        [str(python), str(Path(__file__).resolve()), kind, *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(f"{kind} child failed ({completed.returncode}):\n{completed.stderr[-3000:]}")


def _evidently_python() -> Path | None:
    """The Evidently venv's interpreter, made on first use; None (with the reason printed)
    when it cannot be made."""
    python = EVIDENTLY_VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently, pyarrow; print(evidently.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"  creating {EVIDENTLY_VENV.relative_to(ROOT)} with {' '.join(EVIDENTLY_REQUIREMENTS)}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_REQUIREMENTS],
            check=True,
            capture_output=True,
            text=True,
        )
        subprocess.run(probe, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or str(error)
        print(f"  SKIP the Evidently comparison: its venv could not be made: {detail[-1500:]}")
        return None
    return python


def _agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[int, float]:
    print(
        f"  {'column':7}{'method (engine)':32}{'engine':>16}{'Evidently':>16}"
        f"{'rel. diff':>10}  verdicts   missing unseen"
    )
    agreeing, worst = 0, 0.0
    for name in NUMERIC + CATEGORICAL:
        method, statistic, drifted, missing, unseen = ours["columns"][name]
        their_method, their_statistic, their_drifted = theirs["columns"][name]
        scale = max(abs(their_statistic), 1e-300)
        relative = abs(statistic - their_statistic) / scale if statistic != their_statistic else 0
        worst = max(worst, relative)
        same = method == their_method and drifted == their_drifted and relative <= TOLERANCE
        agreeing += same
        mark = "" if same else f"  MISMATCH (Evidently: {their_method})"
        print(
            f"  {name:7}{method:32}{statistic:16.9g}{their_statistic:16.9g}{relative:10.1e}"
            f"  {drifted!s:5}/{their_drifted!s:5} {missing:7} {unseen:6}{mark}"
        )
    return agreeing, worst


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    results: dict[str, Any] = {}
    try:
        print(
            f"drift: reference {REFERENCE_ROWS:,} rows, current {CURRENT_ROWS:,} rows, "
            f"{len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical columns, "
            f"shifted: {', '.join(sorted(SHIFTED))}",
            flush=True,
        )
        started = time.perf_counter()
        reference, current = _write(folder)
        print(f"  wrote Parquet in {time.perf_counter() - started:.0f} s", flush=True)
        ours = _run_child(Path(sys.executable), "engine", reference, current, 1)
        two = _run_child(Path(sys.executable), "engine", reference, current, 2)
        results.update(engine=ours, engine_two_threads=two)
        for label, run in (("engine:   ", ours), ("2 threads:", two)):
            print(
                f"  {label} {run['seconds']:7.2f} s (reference profile {run['profile_seconds']:.2f}"
                f" s + drift run {run['run_seconds']:.2f} s, both including their column-by-column"
                f" Parquet reads), peak RSS {run['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        python = _evidently_python()
        if python is not None:
            print("  running Evidently (a few minutes)...", flush=True)
            theirs = _run_child(python, "evidently", reference, current)
            results["evidently"] = theirs
            print(
                f"  Evidently: {theirs['seconds']:7.2f} s (Report.run; reading both frames first took "
                f"{theirs['read_seconds']:.1f} s, {theirs['frames_mb']:.0f} MB), "
                f"peak RSS {theirs['peak_rss_mb']:.0f} MB",
                flush=True,
            )
            agreeing, worst = _agreement(ours, theirs)
            columns = len(NUMERIC) + len(CATEGORICAL)
            speedup = theirs["seconds"] / ours["seconds"]
            memory = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
            results.update(speedup=speedup, memory_ratio=memory, agreeing=agreeing)
            print(f"  share drifted: engine {ours['share']:.2f}, Evidently {theirs['share']:.2f}")
            print(
                f"  agreement: {agreeing}/{columns} columns (method, verdict, statistic within "
                f"{TOLERANCE:g}; worst relative difference {worst:.1e})  "
                f"{_verdict(agreeing == columns and ours['share'] == theirs['share'])}"
            )
            print(
                f"  speedup:   {speedup:.1f}x on one thread (target >= {SPEEDUP_TARGET:g}x)  "
                f"{_verdict(speedup >= SPEEDUP_TARGET)}; {theirs['seconds'] / two['seconds']:.1f}x "
                f"on two threads"
            )
            print(
                f"  memory:    {memory:.3f} of Evidently's peak RSS on one thread (target <= "
                f"{MEMORY_TARGET})  {_verdict(memory <= MEMORY_TARGET)}; "
                f"{two['peak_rss_mb'] / theirs['peak_rss_mb']:.3f} on two threads",
                flush=True,
            )
        if PARTITIONS:
            started = time.perf_counter()
            partitions = _write_partitions(folder)
            print(
                f"  wrote {PARTITIONS} Parquet partitions of {PARTITION_ROWS:,} rows "
                f"in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            stream = _run_child(Path(sys.executable), "stream", reference, 2, *partitions)
            results["stream"] = stream
            print(
                f"  streamed {stream['rows']:,} rows ({PARTITIONS} Parquet files, one row group "
                f"of {ROW_GROUP:,} at a time, 2 threads): {stream['seconds']:.1f} s, peak RSS "
                f"{stream['peak_rss_mb']:.0f} MB (target < {STREAM_MEMORY_TARGET_MB} MB)  "
                f"{_verdict(stream['peak_rss_mb'] < STREAM_MEMORY_TARGET_MB)}"
            )
            print(
                f"    drifted: {', '.join(stream['drifted'])}; largest Wasserstein error bound "
                f"{stream['max_error']:.1e}  {_verdict(set(stream['drifted']) == SHIFTED)}",
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        print("RESULT " + json.dumps(CHILDREN[sys.argv[1]](*sys.argv[2:])), flush=True)
    else:
        main()
