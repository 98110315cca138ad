"""Geometry of the insights pages' inline SVG charts: the templates draw what is computed here.

No script and no library; values stay ``Decimal`` or ``int``, only pixel positions are floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from portal.insights.models import MaturityAssessment
from portal.insights.questions import BANDS, QUESTIONS

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 80, 12, 28


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class BandLine:
    y: float
    label_y: float
    label: str


@dataclass(frozen=True)
class LevelChart:
    width: int
    height: int
    left: int
    right: int
    bottom: int
    points: list[Point]
    line: str
    bands: list[BandLine]
    first_label: str
    last_label: str


def _score_y(score: float) -> float:
    return round(TOP + (1 - score / len(QUESTIONS)) * (HEIGHT - TOP - BOTTOM), 1)


def level_chart(assessments: Sequence[MaturityAssessment]) -> LevelChart | None:
    """Yes answers per assessment (oldest left) against the seeds' level bands."""
    if not assessments:
        return None
    span = WIDTH - LEFT - RIGHT
    step = span / max(len(assessments) - 1, 1)
    points = [
        Point(
            x=round(LEFT + (i * step if len(assessments) > 1 else span / 2), 1),
            y=_score_y(a.yes_count),
            title=f"{a.created_at:%Y-%m-%d}: {a.yes_count} of 16 yes, "
            f"{BANDS[a.level].label} ({a.assessed_by_label})",
        )
        for i, a in enumerate(assessments)
    ]
    bands = [
        BandLine(
            y=_score_y(band.high + 0.5) if band.high < len(QUESTIONS) else _score_y(band.high),
            label_y=_score_y((band.low + band.high) / 2),
            label=band.label,
        )
        for band in BANDS
    ]
    return LevelChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        bottom=HEIGHT - BOTTOM,
        points=points,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        bands=bands,
        first_label=f"{assessments[0].created_at:%Y-%m-%d}",
        last_label=f"{assessments[-1].created_at:%Y-%m-%d}",
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal | int | None
    x: float
    y: float
    height: float
    text_y: float


@dataclass(frozen=True)
class BarChart:
    title: str
    unit: str
    width: int
    height: int
    base: float
    bar_width: float
    bars: list[Bar]
    peak: Decimal | int


def month_bars(
    title: str, unit: str, values: Sequence[tuple[str, Decimal | int | None]]
) -> BarChart:
    """One bar per month; a month without a value (None) has no bar and says so in its title."""
    width, height, top, bottom = 300, 140, 16, 22
    room = height - top - bottom
    slot = width / max(len(values), 1)
    peak = max((v for _, v in values if v is not None), default=0)
    bars = []
    for index, (label, value) in enumerate(values):
        share = float(value) / float(peak) if value and peak else 0.0
        length = round(max(share * room, 1.0 if value else 0.0), 1)
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(index * slot + slot * 0.15, 1),
                y=round(top + room - length, 1),
                height=length,
                text_y=round(top + room - length - 3, 1),
            )
        )
    return BarChart(
        title=title,
        unit=unit,
        width=width,
        height=height,
        base=top + room,
        bar_width=round(slot * 0.7, 1),
        bars=bars,
        peak=peak,
    )
