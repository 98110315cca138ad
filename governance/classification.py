"""The EU AI Act risk questionnaire and the classifier that turns its answers into a tier.

The questionnaire is short on purpose: a prohibited-practice check (Article 5), the Annex III
areas that make a system high risk (Article 6(2)) with the Article 6(3) exception for narrow
procedural tasks that do not profile people, and the transparency duties of Article 50 that
make a system limited risk. Everything else is minimal risk. ``CLASSIFIER_VERSION`` changes
whenever a question or a rule changes, so every stored classification says which rules made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.catalog.models import RiskTier
from portal.core.errors import InvalidRequest

CLASSIFIER_VERSION = "2026.1"

ANNEX_III_AREAS: dict[str, str] = {
    "none": "None of these",
    "biometrics": "Biometric identification, categorisation or emotion recognition of people",
    "critical_infrastructure": "Safety components of critical infrastructure "
    "(energy, water, gas, heating, road traffic, digital infrastructure)",
    "education": "Education and vocational training (admission, assessment, proctoring)",
    "employment": "Employment and hiring (recruiting, screening CVs, promotion, termination, "
    "task allocation, monitoring of workers)",
    "essential_services": "Access to essential services (credit scoring, life and health "
    "insurance pricing, public benefits, emergency dispatch)",
    "law_enforcement": "Law enforcement (risk of offending, evidence reliability, profiling)",
    "migration": "Migration, asylum and border control",
    "justice": "Administration of justice and democratic processes (elections)",
}
# The answers for a model with none of the traits above: it is minimal risk.
MINIMAL_RISK_ANSWERS: dict[str, Any] = {
    "prohibited_practice": False,
    "annex_iii_area": "none",
    "narrow_procedural_task": False,
    "profiles_people": False,
    "interacts_with_people": False,
    "generates_content": False,
}


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    help: str = ""
    choices: dict[str, str] = field(default_factory=dict)  # empty: a yes/no question

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "text": self.text,
            "help": self.help,
            "kind": "choice" if self.choices else "yes_no",
            "choices": [{"value": k, "label": v} for k, v in self.choices.items()],
        }


QUESTIONS: tuple[Question, ...] = (
    Question(
        "prohibited_practice",
        "Does the model do any of the practices the EU AI Act prohibits?",
        "Social scoring; manipulating people subliminally or exploiting their age, disability or "
        "situation; predicting crimes from profiling alone; untargeted scraping of facial images; "
        "emotion recognition at work or in education; biometric categorisation by race, "
        "politics, religion or sexual orientation; real-time remote biometric identification in "
        "public spaces for law enforcement.",
    ),
    Question(
        "annex_iii_area",
        "Is the model used in one of these areas?",
        "The areas of Annex III of the EU AI Act.",
        choices=ANNEX_III_AREAS,
    ),
    Question(
        "narrow_procedural_task",
        "In that area, does the model only perform a narrow procedural task, or only improve "
        "the result of work a person already completed?",
        "For example sorting documents into folders, or checking a finished text for tone. "
        "Answer no when there is no area above.",
    ),
    Question(
        "profiles_people",
        "Does the model profile people (evaluate their behaviour, economic situation, health, "
        "preferences, reliability or location)?",
    ),
    Question(
        "interacts_with_people",
        "Does the model interact directly with people, for example as a chatbot or voice agent?",
    ),
    Question(
        "generates_content",
        "Does the model generate or alter text, images, audio or video that people will see?",
    ),
)


@dataclass(frozen=True)
class Classification:
    tier: str
    reasons: list[str]
    answers: dict[str, Any]
    classifier_version: str = CLASSIFIER_VERSION


def answers_clean(answers: Any) -> dict[str, Any]:
    """The answers in canonical form, or a 400 that names each missing or malformed answer."""
    if not isinstance(answers, dict):
        raise InvalidRequest("answers must be an object mapping each question's key to an answer.")
    clean: dict[str, Any] = {}
    problems = []
    for question in QUESTIONS:
        value = answers.get(question.key)
        if question.choices:
            if not isinstance(value, str) or value not in question.choices:
                problems.append(f"{question.key} (one of: {', '.join(question.choices)})")
            else:
                clean[question.key] = value
        elif not isinstance(value, bool):
            problems.append(f"{question.key} (true or false)")
        else:
            clean[question.key] = value
    unknown = sorted(set(answers) - {q.key for q in QUESTIONS})
    if unknown:
        raise InvalidRequest(f"These are not questions of the questionnaire: {', '.join(unknown)}.")
    if problems:
        raise InvalidRequest(f"Answer every question; missing or not valid: {'; '.join(problems)}.")
    return clean


def classify(answers: Any) -> Classification:
    """The tier the answers give, with the reasons in words a person can check."""
    clean = answers_clean(answers)
    if clean["prohibited_practice"]:
        return Classification(
            RiskTier.PROHIBITED,
            ["It performs a practice that Article 5 of the EU AI Act prohibits."],
            clean,
        )
    area = clean["annex_iii_area"]
    reasons: list[str] = []
    if area != "none":
        label = ANNEX_III_AREAS[area]
        if clean["narrow_procedural_task"] and not clean["profiles_people"]:
            reasons.append(
                f"It is used in an Annex III area ({label}) but only for a narrow procedural "
                "task without profiling people, so Article 6(3) exempts it from high risk."
            )
        else:
            why = (
                " and it profiles people, so the Article 6(3) exemption cannot apply"
                if clean["profiles_people"] and clean["narrow_procedural_task"]
                else ""
            )
            return Classification(
                RiskTier.HIGH,
                [f"It is used in an Annex III high-risk area: {label}{why}."],
                clean,
            )
    duties = []
    if clean["interacts_with_people"]:
        duties.append("people must be told they are interacting with an AI system")
    if clean["generates_content"]:
        duties.append("generated or altered content must be marked as such")
    if duties:
        reasons.append(f"Article 50 transparency duties apply: {'; '.join(duties)}.")
        return Classification(RiskTier.LIMITED, reasons, clean)
    reasons.append("None of the prohibited, high-risk or transparency conditions apply.")
    return Classification(RiskTier.MINIMAL, reasons, clean)


def questionnaire() -> dict[str, Any]:
    return {
        "classifier_version": CLASSIFIER_VERSION,
        "questions": [q.as_dict() for q in QUESTIONS],
    }


@dataclass(frozen=True)
class AnswerChange:
    """One question answered differently: the answer in force and the proposed one."""

    question: Question
    in_force: Any
    proposed: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question.key,
            "text": self.question.text,
            "in_force": self.in_force,
            "proposed": self.proposed,
        }

    @property
    def in_force_label(self) -> str:
        return answer_label(self.question, self.in_force)

    @property
    def proposed_label(self) -> str:
        return answer_label(self.question, self.proposed)


def answer_label(question: Question, value: Any) -> str:
    """An answer as the questionnaire words it: Yes, No, or the label of the choice."""
    if value is None:
        return "not answered"
    if question.choices:
        return question.choices.get(value, str(value))
    return "Yes" if value else "No"


def answers_diff(in_force: dict[str, Any], proposed: dict[str, Any]) -> list[AnswerChange]:
    """The questions whose proposed answer differs from the one in force, in questionnaire order."""
    return [
        AnswerChange(question, in_force.get(question.key), proposed.get(question.key))
        for question in QUESTIONS
        if in_force.get(question.key) != proposed.get(question.key)
    ]
