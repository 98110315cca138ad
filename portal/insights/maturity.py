"""The maturity checklist of a tenant: the portal's answers, the owner's, the level, the history.

``maturity_checklist`` reads (inside the tenant's scope); ``maturity_assess`` saves an assessment
with the owner's answers to the questions the portal cannot settle, and audits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from portal.core.audit import Actor, audit_record
from portal.core.errors import InvalidRequest
from portal.insights.models import MaturityAssessment
from portal.insights.probes import AutoAnswer, auto_answers
from portal.insights.questions import BY_ID, GROUPS, QUESTIONS, Band, Question, band_for
from tenants.models import Tenant

PORTAL, OWNER = "portal", "owner"
HISTORY_LENGTH = 24


@dataclass(frozen=True)
class ChecklistItem:
    question: Question
    answered_by: str  # portal | owner
    answer: bool | None  # None: the owner has not answered yet
    evidence: str = ""
    link: str = ""
    link_label: str = ""

    @property
    def id(self) -> str:
        return self.question.id


@dataclass(frozen=True)
class Checklist:
    items: list[ChecklistItem]
    latest: MaturityAssessment | None

    @property
    def yes_count(self) -> int:
        return sum(1 for item in self.items if item.answer)

    @property
    def band(self) -> Band:
        return band_for(self.yes_count)

    @property
    def owner_questions(self) -> list[str]:
        return [item.id for item in self.items if item.answered_by == OWNER]

    @property
    def complete(self) -> bool:
        return all(item.answer is not None for item in self.items)

    def groups(self) -> list[tuple[str, list[ChecklistItem]]]:
        return [
            (label, [item for item in self.items if item.question.group == key])
            for key, label in GROUPS
        ]


def latest_assessment() -> MaturityAssessment | None:
    return MaturityAssessment.objects.order_by("-created_at", "-id").first()


def assessment_history(limit: int = HISTORY_LENGTH) -> list[MaturityAssessment]:
    """The tenant's latest assessments, oldest first (for the chart)."""
    recent = MaturityAssessment.objects.order_by("-created_at", "-id").only(
        "created_at", "yes_count", "level", "assessed_by_label"
    )[:limit]
    return list(reversed(recent))


def _item(question: Question, auto: AutoAnswer | None, previous: dict[str, Any]) -> ChecklistItem:
    if auto is not None and auto.answer is not None:
        return ChecklistItem(
            question, PORTAL, auto.answer, auto.evidence, auto.link, auto.link_label
        )
    earlier = previous.get(question.id)
    return ChecklistItem(
        question,
        OWNER,
        earlier if isinstance(earlier, bool) else None,
        auto.evidence if auto else "",
    )


def maturity_checklist(tenant: Tenant) -> Checklist:
    """Every question answered from the portal's data where it can be, the rest prefilled with
    the owner's answers of the latest assessment (None where there is none)."""
    autos = auto_answers(tenant)
    latest = latest_assessment()
    previous = latest.answers if latest else {}
    items = [_item(question, autos.get(question.id), previous) for question in QUESTIONS]
    return Checklist(items=items, latest=latest)


def _owner_answers(checklist: Checklist, answers: dict[str, Any]) -> dict[str, bool]:
    unknown = sorted(set(answers) - set(BY_ID))
    if unknown:
        raise InvalidRequest(
            f"There is no checklist question {', '.join(unknown)}; questions are q01 to q16."
        )
    owner = checklist.owner_questions
    settled = sorted(set(answers) - set(owner))
    if settled:
        raise InvalidRequest(
            f"{', '.join(settled)} {'is' if len(settled) == 1 else 'are'} answered from the "
            "portal's data; leave them out."
        )
    missing = [question for question in owner if question not in answers]
    if missing:
        raise InvalidRequest(f"Answer yes (true) or no (false) to {', '.join(missing)}.")
    wrong = sorted(question for question, value in answers.items() if not isinstance(value, bool))
    if wrong:
        raise InvalidRequest(f"Answers are true or false; {', '.join(wrong)} is neither.")
    return dict(answers)


@transaction.atomic
def maturity_assess(
    *, actor: Actor, tenant: Tenant, user: Any, answers: dict[str, Any]
) -> MaturityAssessment:
    """Save an assessment: the portal's answers as they stand now and the owner's ``answers`` to
    the remaining questions (all of them, true or false)."""
    checklist = maturity_checklist(tenant)
    given = _owner_answers(checklist, answers)
    final = {
        item.id: given[item.id] if item.answered_by == OWNER else bool(item.answer)
        for item in checklist.items
    }
    yes_count = sum(final.values())
    band = band_for(yes_count)
    assessment = MaturityAssessment.objects.create(
        tenant=tenant,
        answers=final,
        answered_by={item.id: item.answered_by for item in checklist.items},
        evidence={item.id: item.evidence for item in checklist.items if item.evidence},
        yes_count=yes_count,
        level=band.level,
        assessed_by=user,
        assessed_by_label=actor.label,
    )
    audit_record(
        actor=actor,
        action="maturity.assessed",
        object_type="maturity_assessment",
        object_id=assessment.pk,
        tenant_id=tenant.pk,
        after={"yes_count": yes_count, "level": band.label, "answers": final},
    )
    return assessment
