"""Geometry of the cost pages' inline SVG charts; the templates only draw what is computed here.

Every chart is plain SVG drawn by the server: no script, no library. Amounts stay ``Decimal``;
only pixel positions are floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from chargeback.services.budgets import MonthTotal, Slice

ZERO = Decimal(0)


def _ratio(amount: Decimal, scale: Decimal) -> float:
    return float(amount / scale) if scale > 0 else 0.0


@dataclass(frozen=True)
class HBar:
    label: str
    amount: Decimal
    y: float
    width: float
    text_y: float
    amount_x: float


@dataclass(frozen=True)
class HBarChart:
    """Horizontal bars, one per slice, longest first."""

    width: int
    height: int
    label_width: int
    bar_room: int
    row: int
    bars: list[HBar]
    total: Decimal


def hbar_chart(slices: Sequence[Slice], *, width: int = 560, label_width: int = 220) -> HBarChart:
    row = 26
    room = width - label_width - 90
    peak = max((s.amount for s in slices), default=ZERO)
    bars = []
    for i, piece in enumerate(slices):
        length = round(max(_ratio(piece.amount, peak) * room, 1.0 if piece.amount else 0.0), 1)
        bars.append(
            HBar(
                label=piece.label,
                amount=piece.amount,
                y=i * row + 4,
                width=length,
                text_y=i * row + 18,
                amount_x=round(label_width + length + 6, 1),
            )
        )
    return HBarChart(
        width=width,
        height=max(len(bars) * row + 8, 30),
        label_width=label_width,
        bar_room=room,
        row=row,
        bars=bars,
        total=sum((s.amount for s in slices), ZERO),
    )


@dataclass(frozen=True)
class Column:
    label: str
    amount: Decimal
    x: float
    y: float
    height: float
    source: str


@dataclass(frozen=True)
class ColumnChart:
    """One column per month, oldest first; the current month is marked as not closed."""

    width: int
    height: int
    plot_height: int
    column_width: float
    columns: list[Column]
    peak: Decimal


def column_chart(months: Sequence[MonthTotal], *, width: int = 720) -> ColumnChart:
    plot = 150
    step = width / max(len(months), 1)
    column_width = round(step * 0.7, 1)
    peak = max((m.amount for m in months), default=ZERO)
    columns = []
    for i, month in enumerate(months):
        height = round(_ratio(month.amount, peak) * (plot - 20), 1)
        columns.append(
            Column(
                label=month.label,
                amount=month.amount,
                x=round(i * step + (step - column_width) / 2, 1),
                y=round(plot - height, 1),
                height=height,
                source=month.source,
            )
        )
    return ColumnChart(
        width=width,
        height=plot + 34,
        plot_height=plot,
        column_width=column_width,
        columns=columns,
        peak=peak,
    )


@dataclass(frozen=True)
class Tick:
    percent: int
    x: float
    reached: bool


@dataclass(frozen=True)
class BudgetBar:
    """The month's spend against the budget, with the thresholds and the forecast marked."""

    width: int
    spent_width: float
    budget_x: float
    forecast_x: float
    ticks: list[Tick]
    level: str  # ok | warn | bad


def budget_bar(
    *,
    budget: Decimal,
    spent: Decimal,
    forecast: Decimal,
    thresholds: Sequence[int],
    width: int = 640,
) -> BudgetBar:
    top = max(budget * Decimal(max(thresholds, default=100)) / 100, budget, spent, forecast)
    scale = top * Decimal("1.05")

    def x(amount: Decimal) -> float:
        return round(_ratio(amount, scale) * width, 1)

    used = spent * 100 / budget if budget > 0 else ZERO
    level = "bad" if used >= 100 else "warn" if used >= min(thresholds, default=80) else "ok"
    return BudgetBar(
        width=width,
        spent_width=x(spent),
        budget_x=x(budget),
        forecast_x=x(forecast),
        ticks=[Tick(t, x(budget * t / 100), used >= t) for t in sorted(thresholds)],
        level=level,
    )
