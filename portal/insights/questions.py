"""The maturity checklist from the seeds: 16 yes/no questions in four groups, and the scoring bands.

0-4 yes: Level 0 (critical investment priority)
5-8 yes: Level 1 (base present, automation missing)
9-12 yes: Level 2 (good foundation, focus on CT and governance)
13-16 yes: Level 3-4 (optimization and scaling)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    id: str
    group: str
    text: str


GROUPS = (
    ("tracking", "Level 1: Tracking"),
    ("pipeline", "Level 2: Pipeline"),
    ("continuous_training", "Level 3: Continuous Training"),
    ("cicdct", "Level 4: CI/CD/CT"),
)

QUESTIONS: tuple[Question, ...] = (
    Question("q01", "tracking", "Do we use a tool to track ML experiments (MLflow, W&B, Neptune)?"),
    Question("q02", "tracking", "Does every model have a version number and metrics log?"),
    Question("q03", "tracking", "Are training datasets versioned and identifiable?"),
    Question("q04", "tracking", "Is there minimal documentation for each model in production?"),
    Question("q05", "pipeline", "Can training be started with a single command/trigger?"),
    Question("q06", "pipeline", "Is there a centralized model registry?"),
    Question("q07", "pipeline", "Is deployment to staging automated?"),
    Question("q08", "pipeline", "Are production model performance metrics measured?"),
    Question("q09", "continuous_training", "Is data drift monitored automatically?"),
    Question(
        "q10", "continuous_training", "Is there an automatic or semi-automatic retraining process?"
    ),
    Question(
        "q11", "continuous_training", "Can rollback to a previous version happen in < 30 minutes?"
    ),
    Question(
        "q12", "continuous_training", "Is there a formal approval process for high-risk models?"
    ),
    Question("q13", "cicdct", "Are model tests (unit, integration, shadow) automated?"),
    Question("q14", "cicdct", "Can production deployment happen without human intervention?"),
    Question("q15", "cicdct", "Are MLOps team KPIs measured and reported to management?"),
    Question("q16", "cicdct", "Is AI governance aligned with the AI Act and sector regulations?"),
)
QUESTION_IDS = tuple(q.id for q in QUESTIONS)
BY_ID = {q.id: q for q in QUESTIONS}


@dataclass(frozen=True)
class Band:
    level: int  # 0, 1, 2, or 3 for "Level 3-4"
    label: str
    low: int
    high: int
    advice: str


BANDS = (
    Band(0, "Level 0", 0, 4, "Critical investment priority."),
    Band(1, "Level 1", 5, 8, "Base present, automation missing."),
    Band(2, "Level 2", 9, 12, "Good foundation, focus on continuous training and governance."),
    Band(3, "Level 3-4", 13, 16, "Optimization and scaling."),
)


def band_for(yes_count: int) -> Band:
    """The seeds' scoring band of a number of yes answers (0 to 16)."""
    if not 0 <= yes_count <= len(QUESTIONS):
        raise ValueError(f"a checklist has 0 to {len(QUESTIONS)} yes answers, not {yes_count}")
    return next(band for band in BANDS if band.low <= yes_count <= band.high)


def level_label(level: int) -> str:
    return BANDS[level].label
