"""The drift-over-time chart as numbers an SVG template draws: no JavaScript, no CDN."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.monitoring.models import DriftRun

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    status: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    points: list[Point]
    line: str
    threshold_y: float
    grid: list[tuple[float, str]]
    first_label: str
    last_label: str
    left: int
    right: int
    bottom: int


def _y(share: float) -> float:
    return round(TOP + (1 - min(max(share, 0.0), 1.0)) * (HEIGHT - TOP - BOTTOM), 1)


def drift_chart(runs: Sequence[DriftRun]) -> Chart | None:
    """Share of drifted columns per run (oldest left), with the dataset-drift threshold."""
    if not runs:
        return None
    span = WIDTH - LEFT - RIGHT
    step = span / max(len(runs) - 1, 1)
    points = []
    for index, run in enumerate(runs):
        x = round(LEFT + (index * step if len(runs) > 1 else span / 2), 1)
        when = (run.finished_at or run.created_at).strftime("%Y-%m-%d %H:%M")
        points.append(
            Point(
                x=x,
                y=_y(run.share_drifted),
                status=run.drift_status,
                title=f"{when} UTC: {run.get_drift_status_display()}, "
                f"{run.share_drifted:.0%} of columns drifted",
            )
        )
    threshold = runs[-1].share_threshold
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        points=points,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        threshold_y=_y(threshold),
        grid=[(_y(v), f"{v:.0%}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)],
        first_label=(runs[0].finished_at or runs[0].created_at).strftime("%m-%d %H:%M"),
        last_label=(runs[-1].finished_at or runs[-1].created_at).strftime("%m-%d %H:%M"),
        left=LEFT,
        right=WIDTH - RIGHT,
        bottom=HEIGHT - BOTTOM,
    )
