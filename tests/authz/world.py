"""The company with one of everything in each unit, for the authorization tests.

Both units get the same shape of things (a model with a card, a classification and an open tier
proposal, a deployment waiting for approval, a live endpoint with a monitor and a baseline, an
incident, a webhook with a failed delivery, a token, a statement line with a dispute), under
different names, so a test can put B's names and ids under A's URLs. ``build_world`` runs inside an open transaction that the
caller rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from chargeback.models import LineDispute, Statement, StatementLine
from chargeback.services.statements import line_dispute
from chargeback.tests.builders import closed_month
from governance.models import ApprovalRequest, Incident, TierProposal
from governance.services.cards import card_get_or_create, card_update
from governance.services.delegations import delegation_create
from governance.services.incidents import incident_open
from governance.services.policies import policy_in_force
from governance.tests.builders import (
    ANSWERS,
    approved_card,
    classify,
    make_version,
    request,
)
from portal.catalog.models import CatalogJob, JobKind, ModelVersion, UnassignedModel
from portal.core.audit import Actor
from portal.deployments.models import Deployment
from portal.deployments.workflow import classification_submit
from portal.monitoring.models import Monitor
from portal.monitoring.services import baseline_from_upload, monitor_create
from portal.monitoring.tests.builders import make_deployment
from tenants.models import (
    DeliveryStatus,
    Membership,
    ServiceToken,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.notifications import webhook_endpoint_create
from tenants.scoping import dangerously_across_tenants, tenant_scope
from tests.builders import TEST_ACTOR, Company, make_company, make_token

MISSING_SLUG = "no-such-unit"
MISSING_ID = 987654321
MISSING_NAME = "no-such-thing"
MISSING_UUID = "00000000-0000-4000-8000-000000000000"
BASELINE_CSV = b"income,age,prediction\n" + b"".join(
    f"{40000 + i * 100},{20 + i % 50},{i % 2}\n".encode() for i in range(60)
)


@dataclass
class Unit:
    """One unit's things; the names differ between units, the shapes do not."""

    tenant: Tenant
    model: str
    version: ModelVersion
    deployment: Deployment  # waiting for approval
    live: Deployment  # serving, with a monitor and a baseline on its version
    approval: ApprovalRequest
    proposal: TierProposal  # the engineer's open proposal of a lower tier
    incident: Incident
    monitor: Monitor
    membership: Membership  # the unit's engineer
    token: ServiceToken
    webhook: WebhookEndpoint
    delivery: WebhookDelivery  # failed, so it can be redelivered
    statement: Statement
    line: StatementLine
    dispute: LineDispute
    job: CatalogJob  # a queued registration


@dataclass
class World:
    company: Company
    a: Unit
    b: Unit
    tokens: dict[str, str]  # scope -> secret of a token of A with only that scope
    policy: str  # the name of the policy in force
    policy_document: str
    unassigned: str  # a model in MLflow that belongs to no unit
    delegation: int  # the second governance lead's delegate, in force for a week


def make_unit(company: Company, tenant: Tenant, *, prefix: str, owner, engineer) -> Unit:
    """One of everything a unit owns, named after ``prefix`` (also the fuzzer's world)."""
    model = f"{prefix}-scorer"
    version = make_version(tenant, name=model)
    classify(tenant, version, "high")
    approved_card(tenant, version)  # the default policy wants it for high-risk production
    deployment = request(tenant, version, engineer, environment="production")
    with tenant_scope(tenant):  # edited after the request: a complete draft again
        card = card_get_or_create(actor=TEST_ACTOR, version=version)
        card_update(actor=TEST_ACTOR, card=card, editor=None, limitations="Not for business loans.")
    live = make_deployment(tenant, name=f"{prefix}-live")
    with tenant_scope(tenant):
        approval = ApprovalRequest.objects.get(deployment=deployment)
        proposal = classification_submit(
            actor=Actor.user(engineer),
            model=version.model,
            answers=ANSWERS["minimal"],
            user=engineer,
        ).proposal
        assert proposal is not None
        baseline_from_upload(
            version=live.model_version,
            content=BASELINE_CSV,
            filename="train.csv",
            prediction_column="prediction",
            actor=TEST_ACTOR,
        )
        monitor = monitor_create(actor=TEST_ACTOR, tenant_id=tenant.pk, endpoint=live.name)
        incident = incident_open(
            actor=TEST_ACTOR, tenant_id=tenant.pk, title=f"{prefix} is slow", severity="sev3"
        )
        membership = Membership.objects.get(user=engineer)
        webhook = webhook_endpoint_create(
            actor=TEST_ACTOR,
            tenant=tenant,
            url=f"https://hooks.{prefix}.example/portal",
            events=["*"],
            created_by=owner,
        )
        delivery = WebhookDelivery.objects.create(
            tenant=tenant,
            endpoint=webhook,
            event="deployment.approved",
            payload={},
            status=DeliveryStatus.FAILED,
            attempts=5,
        )
        statement = Statement.objects.get()
        line = StatementLine.objects.filter(statement=statement).order_by("position").first()
        assert line is not None
        dispute = line_dispute(
            actor=TEST_ACTOR, user=owner, line=line, comment="We did not run this."
        )
        job = CatalogJob.objects.create(
            tenant=tenant, kind=JobKind.REGISTRATION, model_name=model, requested_by={}
        )
    token, _ = make_token(tenant, ["read"], name=f"{prefix}-pipeline")
    return Unit(
        tenant=tenant,
        model=model,
        version=version,
        deployment=deployment,
        live=live,
        approval=approval,
        proposal=proposal,
        incident=incident,
        monitor=monitor,
        membership=membership,
        token=token,
        webhook=webhook,
        delivery=delivery,
        statement=statement,
        line=line,
        dispute=dispute,
        job=job,
    )


def build_world() -> World:
    from django.test import override_settings

    # Webhook hosts in the fixture are not resolved; the input-safety tests check addresses.
    with override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=True):
        company = make_company()
        with dangerously_across_tenants("authorization tests: a closed month of both units"):
            closed_month(company, "2026-10")
        a = make_unit(company, company.a, prefix="acme", owner=company.alice, engineer=company.amir)
        b = make_unit(company, company.b, prefix="bravo", owner=company.bob, engineer=company.ben)
    tokens = {
        scope: make_token(company.a, [scope], name=f"only-{scope}", days=30)[1]
        for scope in ("read", "write", "deploy", "predict")
    }
    policy = policy_in_force(company.a)
    unassigned = UnassignedModel.objects.create(name="orphan-model", latest_version=1)
    delegation = delegation_create(
        actor=TEST_ACTOR,
        lead=company.gus,
        delegate=company.grace,
        starts_at=None,
        ends_at=timezone.now() + timedelta(days=7),
    )
    return World(
        company=company,
        a=a,
        b=b,
        tokens=tokens,
        policy=policy.name,
        policy_document=policy.document,
        unassigned=unassigned.name,
        delegation=delegation.pk,
    )
