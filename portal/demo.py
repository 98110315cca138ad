"""The demo company that ``manage.py seed_demo`` creates: idempotent, safe to run on every start.

Two business units and a person for every role, all with the password ``DEMO_PASSWORD``. Later
parts of the portal add their own steps to ``seed_demo`` (models, deployments, bills).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from governance.classification import MINIMAL_RISK_ANSWERS
from portal.core.audit import Actor
from tenants import services
from tenants.models import Membership, PlatformRole, Tenant, TenantRole, User
from tenants.scoping import tenant_scope

DEMO_PASSWORD = "mlops-demo-2026"  # noqa: S105 (published demo logins, printed by `make run`)
ACTOR = Actor.system("manage.py seed_demo")


@dataclass(frozen=True)
class DemoPerson:
    username: str
    first_name: str
    last_name: str
    tenant: str = ""
    role: str = ""
    platform_role: str = ""

    @property
    def description(self) -> str:
        if self.platform_role:
            return PlatformRole(self.platform_role).label
        return f"{TenantRole(self.role).label}, {DEMO_TENANTS[self.tenant][0]}"


DEMO_TENANTS = {
    "retail-credit": ("Retail Credit", "CC-4100"),
    "marketing": ("Marketing", "CC-5200"),
}

DEMO_PEOPLE = [
    DemoPerson("olivia", "Olivia", "Okafor", tenant="retail-credit", role=TenantRole.OWNER),
    DemoPerson("emma", "Emma", "Eriksen", tenant="retail-credit", role=TenantRole.ENGINEER),
    DemoPerson("victor", "Victor", "Varga", tenant="retail-credit", role=TenantRole.VIEWER),
    DemoPerson("mona", "Mona", "Marsh", tenant="marketing", role=TenantRole.OWNER),
    DemoPerson("milo", "Milo", "Moreau", tenant="marketing", role=TenantRole.ENGINEER),
    DemoPerson("grace", "Grace", "Gill", platform_role=PlatformRole.GOVERNANCE_LEAD),
    DemoPerson("gus", "Gus", "Greene", platform_role=PlatformRole.GOVERNANCE_LEAD),
    DemoPerson("fatima", "Fatima", "Farouk", platform_role=PlatformRole.FINANCE),
    DemoPerson("admin", "Ada", "Admin", platform_role=PlatformRole.PLATFORM_ADMIN),
]


@transaction.atomic
def seed_people_and_tenants() -> list[DemoPerson]:
    tenants = {}
    for slug, (name, cost_center) in DEMO_TENANTS.items():
        tenant = Tenant.objects.filter(slug=slug).first()
        tenants[slug] = tenant or services.tenant_create(
            actor=ACTOR, slug=slug, name=name, cost_center=cost_center
        )
    for person in DEMO_PEOPLE:
        user = User.objects.filter(username=person.username).first()
        if user is None:
            user = User(
                username=person.username,
                first_name=person.first_name,
                last_name=person.last_name,
                email=f"{person.username}@example.com",
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
        if person.platform_role:
            services.user_set_platform_role(
                actor=ACTOR, user=user, platform_role=person.platform_role
            )
        if person.tenant:
            tenant = tenants[person.tenant]
            with tenant_scope(tenant):
                if not Membership.objects.filter(user=user).exists():
                    services.membership_add(actor=ACTOR, tenant=tenant, user=user, role=person.role)
    return DEMO_PEOPLE


def seed_models(*, webhook_url: str = "") -> list[str]:
    """Demo models in MLflow (trained and registered when missing), then a sync of both units."""
    from django.conf import settings

    from portal.catalog.mlflow_adapter import MlflowRegistry, MlflowUnavailable
    from portal.catalog.sync import registry_sync
    from portal.demo_training import ensure_demo_models, ensure_webhook

    uri = settings.MLFLOW_TRACKING_URI
    registry = MlflowRegistry(uri)
    try:
        next(iter(registry.search_models(filter_string="name = 'credit-scoring'")), None)
    except MlflowUnavailable as error:
        return [
            f"MLflow at {uri} is not reachable, so the catalog stays empty for now: {error.detail}"
        ]
    lines = ensure_demo_models(uri)
    if webhook_url and settings.MLFLOW_WEBHOOK_SECRET:
        try:
            lines.append(
                ensure_webhook(uri, url=webhook_url, secret=settings.MLFLOW_WEBHOOK_SECRET)
            )
        except Exception as error:  # any failure to register it is only a warning
            lines.append(
                f"Warning: MLflow did not accept the registry webhook ({type(error).__name__}: "
                f"{str(error)[:200]}). New versions reach the catalog with the periodic sync "
                "instead of at once."
            )
    for slug in DEMO_TENANTS:
        tenant = Tenant.objects.get(slug=slug)
        with tenant_scope(tenant):
            run = registry_sync(tenant=tenant, trigger="seed", deep=True, registry=registry)
        if run is not None:
            lines.append(f"{tenant.name}: {run.models_seen} models in the catalog")
    return lines


# Both credit models decide on access to essential services by profiling people.
CREDIT_DECISIONS = {
    "prohibited_practice": False,
    "annex_iii_area": "essential_services",
    "narrow_procedural_task": False,
    "profiles_people": True,
    "interacts_with_people": False,
    "generates_content": False,
}
DEMO_CLASSIFICATIONS = {
    "credit-scoring": CREDIT_DECISIONS,
    "credit-limit": CREDIT_DECISIONS,
    "churn-prediction": MINIMAL_RISK_ANSWERS,
}
DEMO_CARD = {
    "intended_uses": "Pre-screening of retail loan applications; a credit officer decides.",
    "factors": "Thin credit files and volatile income lower accuracy.",
    "limitations": "Not for business loans or mortgages.",
    "ethical_considerations": (
        "Postcode is not a feature. The demographic parity difference between applicants under "
        "40 and from 40 on is measured on every run and must stay at most 0.1."
    ),
    "owner": "Olivia Owner",
}


def seed_governance() -> list[str]:
    """Policies from the repository, risk tiers for the demo models, and a few deployment
    requests so every role has something to look at. Only on a unit with no deployments yet."""
    from governance.services.cards import (
        card_get_or_create,
        card_review,
        card_submit,
        card_update,
    )
    from governance.services.policies import policy_load_from_repo
    from portal.catalog.models import ModelVersion, RegisteredModel
    from portal.deployments.models import Deployment
    from portal.deployments.services import DeploymentSpec
    from portal.deployments.workflow import deployment_request, model_classify

    lines = [f"Policy {v.name} v{v.version} loaded" for v in policy_load_from_repo(actor=ACTOR)]
    requests = {
        "retail-credit": [
            ("credit-scoring", "production", "emma"),
            ("credit-limit", "staging", "emma"),
        ],
        "marketing": [("churn-prediction", "staging", "milo")],
    }
    for slug, wanted in requests.items():
        tenant = Tenant.objects.get(slug=slug)
        with tenant_scope(tenant):
            if Deployment.objects.exists():
                continue
            for model in RegisteredModel.objects.filter(name__in=DEMO_CLASSIFICATIONS):
                if not model.risk_tier:
                    model_classify(
                        actor=ACTOR, model=model, answers=DEMO_CLASSIFICATIONS[model.name]
                    )
            for name, environment, username in wanted:
                version = ModelVersion.objects.filter(model__name=name).order_by("-version").first()
                if version is None:
                    continue
                if name == "credit-scoring":
                    # The card is written by the unit and approved by a governance lead, as the
                    # default policy wants for high-risk production.
                    card = card_get_or_create(actor=ACTOR, version=version)
                    card = card_update(actor=ACTOR, card=card, editor=None, **DEMO_CARD)
                    card = card_submit(actor=ACTOR, card=card, submitter=None)
                    lead = User.objects.get(username="grace")
                    card_review(actor=Actor.user(lead), reviewer=lead, card=card, approve=True)
                user = User.objects.get(username=username)
                deployment = deployment_request(
                    actor=Actor.user(user),
                    tenant=tenant,
                    spec=DeploymentSpec(
                        version=version, environment=environment, instance_type="cpu.medium"
                    ),
                    user=user,
                )
                lines.append(
                    f"{tenant.name}: {name} v{version.version} to {environment} is "
                    f"{deployment.get_state_display().lower()}"
                )
    return lines


TRAFFIC_ENDPOINT = ("marketing", "churn-prediction-staging")
TRAFFIC_ROWS = 400


def _churn_features(rows: int, seed: int, *, shifted: bool = False) -> Any:
    """Churn features as the demo model takes them; ``shifted`` is a market that changed."""
    from portal.demo_training import churn_frame

    features, _ = churn_frame(rows, seed)
    features = features.assign(plan=features.plan.map({"basic": 0.0, "plus": 1.0, "premium": 2.0}))
    if shifted:
        features = features.assign(
            tenure_months=(features.tenure_months * 0.4).round(),
            support_calls=features.support_calls + 3,
            monthly_spend=features.monthly_spend * 1.6,
        )
    return features


def seed_monitoring() -> list[str]:
    """A baseline for the churn model (its training data profile) and a drift monitor on its
    staging endpoint that opens an incident when the traffic drifts."""
    from portal.catalog.models import ModelVersion
    from portal.deployments.models import Deployment
    from portal.monitoring.models import Baseline, Monitor, Window
    from portal.monitoring.services import baseline_from_frame, monitor_create, monitor_update

    slug, endpoint = TRAFFIC_ENDPOINT
    tenant = Tenant.objects.get(slug=slug)
    lines: list[str] = []
    with tenant_scope(tenant), transaction.atomic():
        deployment = Deployment.objects.filter(name=endpoint).order_by("-revision").first()
        if deployment is None:
            return lines
        version = ModelVersion.objects.get(pk=deployment.model_version_id)
        if not Baseline.objects.filter(model_version=version).exists():
            baseline_from_frame(
                version=version,
                frame=_churn_features(300, seed=7),
                source="upload",
                detail="the demo training data (300 rows)",
                actor=ACTOR,
            )
            lines.append(f"{tenant.name}: baseline for churn-prediction v{version.version}")
        wanted: dict[str, Any] = {
            "window": Window.ROWS,
            "window_rows": TRAFFIC_ROWS,
            "interval_minutes": 60,
            "open_incident": True,
        }
        monitor = Monitor.objects.filter(endpoint=endpoint).first()
        if monitor is None:
            monitor_create(actor=ACTOR, tenant_id=tenant.pk, endpoint=endpoint, **wanted)
            lines.append(f"{tenant.name}: drift monitor on {endpoint}")
        else:  # created when the revision went live (it asked for drift monitoring)
            monitor_update(actor=ACTOR, monitor=monitor, **wanted)
    return lines


def seed_bills() -> list[str]:
    """Monthly budgets, and last month's bills: each unit ran a pilot endpoint for its last three days, metered by the
    portal's own meters and closed; Retail Credit's statement is finalized, Marketing's is in
    review with a disputed line."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from chargeback.models import BillingPeriod, Budget, PeriodState
    from chargeback.services.budgets import budget_set
    from chargeback.services.close import billing_period_close, period_statements, previous_month
    from chargeback.services.metering import metering_run, month_start, next_month
    from chargeback.services.statements import line_dispute, statement_finalize, statement_review
    from portal.catalog.models import ModelVersion
    from portal.deployments.models import Deployment, DeploymentState

    lines: list[str] = []
    for slug, amount in (("retail-credit", "2500"), ("marketing", "800")):
        tenant = Tenant.objects.get(slug=slug)
        with tenant_scope(tenant):
            if not Budget.objects.exists():
                budget_set(actor=ACTOR, tenant=tenant, amount=Decimal(amount))
                lines.append(f"{tenant.name}: monthly budget ${amount}")
    now = timezone.now()
    month = previous_month(now)
    if BillingPeriod.objects.filter(month=month, state=PeriodState.CLOSED).exists():
        return lines
    end = month_start(next_month(month))
    pilots = {
        "retail-credit": ("credit-limit", "gpu.t4"),
        "marketing": ("churn-prediction", "cpu.medium"),
    }
    for slug, (model_name, instance_type) in pilots.items():
        tenant = Tenant.objects.get(slug=slug)
        with tenant_scope(tenant):
            version = (
                ModelVersion.objects.filter(model__name=model_name).order_by("version").first()
            )
            name = f"{model_name}-pilot"
            if version is None or Deployment.objects.filter(name=name).exists():
                continue
            Deployment.objects.create(
                tenant=tenant,
                name=name,
                revision=1,
                model_version=version,
                environment="staging",
                instance_type=instance_type,
                drift_monitor=True,
                state=DeploymentState.RETIRED,
                live_from=end - timedelta(days=3),
                live_until=end - timedelta(hours=1),
                requested_by_label="pilot",
            )
    metering_run(until=end)
    period = billing_period_close(month=month, actor=ACTOR, now=now)
    lines.append(f"Closed {month:%B %Y}")
    for statement in period_statements(period):
        with tenant_scope(statement.tenant_id):
            if statement.tenant.slug == "retail-credit":
                statement_review(actor=ACTOR, statement=statement)
                statement = statement_finalize(actor=ACTOR, statement=statement)
            else:
                statement = statement_review(actor=ACTOR, statement=statement)
                owner = User.objects.get(username="mona")
                line = statement.lines.order_by("-amount").first()
                if line is not None:
                    line_dispute(
                        actor=Actor.user(owner),
                        user=owner,
                        line=line,
                        comment="The pilot ran on a smaller instance than this line says.",
                    )
            lines.append(f"{statement.tenant.name}: statement {statement.get_state_display()}")
    return lines


def send_demo_traffic(base_url: str, *, timeout: float = 300.0) -> list[str]:
    """Once the churn endpoint is live, send it shifted traffic through the gateway (with a
    fresh demo token), then run its drift monitor, which finds the drift."""
    import time

    import urllib3

    from portal.deployments.models import Deployment
    from portal.monitoring.models import CapturedRequest, Monitor
    from portal.monitoring.services import drift_run_execute, drift_run_request
    from tenants.models import ServiceToken

    slug, endpoint = TRAFFIC_ENDPOINT
    tenant = Tenant.objects.get(slug=slug)
    deadline = time.monotonic() + timeout
    while True:
        with tenant_scope(tenant):
            deployment = Deployment.objects.filter(name=endpoint).order_by("-revision").first()
            if deployment is None:
                return [f"{tenant.name} has no {endpoint} deployment; no demo traffic."]
            if deployment.state == "live" and deployment.serving.get("state") == "ready":
                break
            if deployment.state in ("failed", "rejected", "cancelled", "rolled_back", "retired"):
                return [f"{endpoint} is {deployment.state}; no demo traffic."]
        if time.monotonic() > deadline:
            return [f"{endpoint} did not go live within {timeout:.0f} s; no demo traffic."]
        time.sleep(2)
    with tenant_scope(tenant):
        if CapturedRequest.objects.filter(deployment__name=endpoint).count() >= 40:
            return [f"{endpoint} already has traffic."]
        for old in ServiceToken.objects.filter(name="demo-traffic", revoked_at__isnull=True):
            services.token_revoke(actor=ACTOR, token=old)
        _, secret = services.token_create(
            actor=ACTOR,
            tenant=tenant,
            name="demo-traffic",
            scopes=["predict"],
            expires_at=None,
            created_by=None,
        )
    features = _churn_features(TRAFFIC_ROWS, seed=99, shifted=True)
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))
    url = f"{base_url.rstrip('/')}/serve/{slug}/{endpoint}/invocations"
    answered = 0
    for start in range(0, TRAFFIC_ROWS, 10):
        chunk = features.iloc[start : start + 10]
        response = http.request(
            "POST",
            url,
            json={"dataframe_split": chunk.to_dict(orient="split", index=False)},
            headers={"Authorization": f"Bearer {secret}"},
        )
        answered += response.status == 200
    lines = [f"Sent {answered} requests ({TRAFFIC_ROWS} rows of shifted traffic) to {endpoint}"]
    time.sleep(3)  # the gateway writes its captures every second
    with tenant_scope(tenant):
        monitor = Monitor.objects.filter(endpoint=endpoint).first()
        with transaction.atomic():
            run = drift_run_request(deployment=deployment, monitor=monitor, trigger="demo")
        done = drift_run_execute(run_id=run.pk)
        if done is not None:
            lines.append(
                f"Drift run on {endpoint}: {done.status}, drift status {done.drift_status}"
            )
    return lines
