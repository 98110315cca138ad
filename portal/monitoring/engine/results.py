"""Results: one verdict per column and the report of a run, with its status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .methods import METHODS, ColumnSpec, DriftOptions, Kind, Status
from .reference import Reference


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
