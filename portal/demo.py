"""The demo company that ``manage.py seed_demo`` creates: idempotent, safe to run on every start.

Two business units and a person for every role, all with the password ``DEMO_PASSWORD``. Later
parts of the portal add their own steps to ``seed_demo`` (models, deployments, bills).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from governance.audit import Actor
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
        lines.append(ensure_webhook(uri, url=webhook_url, secret=settings.MLFLOW_WEBHOOK_SECRET))
    for slug in DEMO_TENANTS:
        tenant = Tenant.objects.get(slug=slug)
        with tenant_scope(tenant):
            run = registry_sync(tenant=tenant, trigger="seed", deep=True, registry=registry)
        if run is not None:
            lines.append(f"{tenant.name}: {run.models_seen} models in the catalog")
    return lines


DEMO_CLASSIFICATIONS = {
    "credit-scoring": {
        "prohibited_practice": False,
        "annex_iii_area": "essential_services",
        "narrow_procedural_task": False,
        "profiles_people": True,
        "interacts_with_people": False,
        "generates_content": False,
    },
    "credit-limit": {
        "prohibited_practice": False,
        "annex_iii_area": "essential_services",
        "narrow_procedural_task": False,
        "profiles_people": True,
        "interacts_with_people": False,
        "generates_content": False,
    },
    "churn-prediction": {
        "prohibited_practice": False,
        "annex_iii_area": "none",
        "narrow_procedural_task": False,
        "profiles_people": False,
        "interacts_with_people": False,
        "generates_content": False,
    },
}
DEMO_CARD = {
    "intended_uses": "Pre-screening of retail loan applications; a credit officer decides.",
    "factors": "Thin credit files and volatile income lower accuracy.",
    "limitations": "Not for business loans or mortgages.",
    "ethical_considerations": "Age and postcode are not features; the fairness gap is tracked.",
    "owner": "Olivia Owner",
}


def seed_governance() -> list[str]:
    """Policies from the repository, risk tiers for the demo models, and a few deployment
    requests so every role has something to look at. Only on a unit with no deployments yet."""
    from governance.services.cards import card_get_or_create, card_update
    from governance.services.classification import model_classify
    from governance.services.policies import policy_load_from_repo
    from portal.catalog.models import ModelVersion, RegisteredModel
    from portal.deployments.models import Deployment
    from portal.deployments.services import deployment_request

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
                    card = card_get_or_create(actor=ACTOR, version=version)
                    card_update(actor=ACTOR, card=card, **DEMO_CARD)
                user = User.objects.get(username=username)
                deployment = deployment_request(
                    actor=Actor.user(user),
                    tenant=tenant,
                    version=version,
                    environment=environment,
                    instance_type="cpu.medium",
                    user=user,
                )
                lines.append(
                    f"{tenant.name}: {name} v{version.version} to {environment} is "
                    f"{deployment.get_state_display().lower()}"
                )
    return lines
