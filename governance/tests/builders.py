"""Builders of the catalog rows and governance steps the governance tests build on.

A model version of a unit, its classification into a risk tier, its completed (and approved)
card, a deployment request of it, a reviewer's decision and a published policy; no MLflow needed.
"""

from __future__ import annotations

from pathlib import Path

from governance.classification import MINIMAL_RISK_ANSWERS
from governance.services.cards import (
    TEXT_FIELDS,
    card_get_or_create,
    card_review,
    card_submit,
    card_update,
)
from portal.catalog.models import ModelVersion, RegisteredModel
from portal.core.audit import Actor
from portal.deployments.services import DeploymentSpec
from portal.deployments.workflow import deployment_request, model_classify
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for

ANSWERS = {
    "high": {
        "prohibited_practice": False,
        "annex_iii_area": "essential_services",
        "narrow_procedural_task": False,
        "profiles_people": True,
        "interacts_with_people": False,
        "generates_content": False,
    },
    "limited": {
        "prohibited_practice": False,
        "annex_iii_area": "none",
        "narrow_procedural_task": False,
        "profiles_people": False,
        "interacts_with_people": True,
        "generates_content": True,
    },
    "minimal": MINIMAL_RISK_ANSWERS,
    "prohibited": {
        "prohibited_practice": True,
        "annex_iii_area": "none",
        "narrow_procedural_task": False,
        "profiles_people": False,
        "interacts_with_people": False,
        "generates_content": False,
    },
}
# A validation metric over the default policy's bar and a fairness metric within its threshold.
GOOD_METRICS = {"val_accuracy": 0.91, "fairness_demographic_parity_difference": 0.04}
# The repository's default policy: tests publish variants of it.
DEFAULT = (Path(__file__).resolve().parents[1] / "policies" / "default.yaml").read_text()


def make_version(
    tenant, name: str = "credit-scorer", version: int = 1, *, metrics=None, digest: str = ""
) -> ModelVersion:
    with tenant_scope(tenant):
        model, _ = RegisteredModel.objects.get_or_create(
            tenant=tenant, name=name, defaults={"use_case": "Scores credit applications."}
        )
        return ModelVersion.objects.create(
            tenant=tenant,
            model=model,
            version=version,
            run_id="a" * 32,
            source=f"models:/m-{'b' * 32}",
            metrics=GOOD_METRICS if metrics is None else metrics,
            params={"C": "1.0"},
            datasets=[
                {
                    "name": "credit-train",
                    "digest": "d1g35t",
                    "source": "s3://x",
                    "context": "training",
                }
            ],
            artifact_digest=digest or f"{name}-v{version}-digest",
        )


def classify(tenant, version: ModelVersion, tier: str, user=None) -> None:
    with tenant_scope(tenant):
        model_classify(
            actor=Actor.user(user) if user else TEST_ACTOR,
            model=version.model,
            answers=ANSWERS[tier],
            user=user,
        )
        version.model.refresh_from_db()


def complete_card(tenant, version: ModelVersion) -> None:
    with tenant_scope(tenant):
        card = card_get_or_create(actor=TEST_ACTOR, version=version)
        card_update(
            actor=TEST_ACTOR,
            card=card,
            editor=None,
            **{name: f"The {name.replace('_', ' ')} of this model." for name in TEXT_FIELDS},
        )


def approved_card(tenant, version: ModelVersion, reviewer=None) -> None:
    """The version's card complete, sent for review and approved by a governance lead."""
    complete_card(tenant, version)
    with tenant_scope(tenant):
        card = card_submit(
            actor=TEST_ACTOR,
            card=card_get_or_create(actor=TEST_ACTOR, version=version),
            submitter=None,
        )
        card_review(actor=TEST_ACTOR, reviewer=reviewer, card=card, approve=True)


def request(tenant, version: ModelVersion, user, environment: str = "production", **extra):
    with tenant_scope(tenant):
        return deployment_request(
            actor=Actor.user(user),
            tenant=tenant,
            spec=DeploymentSpec(
                version=version,
                environment=environment,
                instance_type=extra.pop("instance_type", "cpu.small"),
                **extra,
            ),
            user=user,
        )


def publish(user, document: str, note: str = ""):
    return client_for(user).post(
        "/api/v1/policies/", {"document": document, "note": note}, format="json"
    )


def decide(user, approval_id: int, verdict: str = "approve", comment: str = ""):
    return client_for(user).post(
        f"/api/v1/approvals/{approval_id}/decisions/",
        {"verdict": verdict, "comment": comment},
        format="json",
    )
