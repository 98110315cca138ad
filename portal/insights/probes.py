"""The maturity questions the portal answers from its own data, with the evidence it saw.

Each probe runs inside the tenant's scope and returns an ``AutoAnswer``: yes or no with a
sentence and a link to where a person can check it, or ``None`` when the portal's data cannot
settle the question (the tenant owner answers it then). A probe answers "no" only where the
portal's data is the whole truth (the unit's models, deployments and monitors all live here);
where work may happen outside the portal (training, retraining, tests), finding nothing leaves
the question to the owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.urls import reverse
from django.utils import timezone

from governance.models import ApprovalRequest, ApprovalState, AuditEvent, ModelCertification
from governance.models.approvals import CertificationState
from portal.catalog.models import ModelVersion, RegisteredModel, RiskTier, SyncRun, SyncStatus
from portal.deployments.models import Deployment, DeploymentState, Environment, GatewayMinute
from portal.monitoring.models import Monitor
from tenants.models import Tenant

ROLLBACK_LIMIT = timedelta(minutes=30)
ROLLBACKS_EXAMINED = 20
METRICS_WINDOW = timedelta(days=30)
NAMES_LISTED = 5


@dataclass(frozen=True)
class AutoAnswer:
    answer: bool | None
    evidence: str
    link: str = ""
    link_label: str = ""


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _verb(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


def _seconds(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _url(name: str, tenant: Tenant, query: str = "") -> str:
    return reverse(name, kwargs={"tenant": tenant.slug}) + (f"?{query}" if query else "")


def _models() -> Q:
    return Q(gone_from_mlflow=False)


def experiment_tracking(tenant: Tenant) -> AutoAnswer:
    found = ModelVersion.objects.exclude(run_id="").aggregate(
        versions=Count("pk"), models=Count("model", distinct=True)
    )
    link = _url("catalog-list", tenant)
    if not found["versions"]:
        return AutoAnswer(
            False, "No model version in the catalog links to an MLflow run yet.", link, "Models"
        )
    return AutoAnswer(
        True,
        f"{_plural(found['versions'], 'version')} of {_plural(found['models'], 'model')} "
        f"{_verb(found['versions'], 'links to the MLflow run that trained it', 'link to the MLflow runs that trained them')}.",
        link,
        "Models",
    )


def versions_with_metrics(tenant: Tenant) -> AutoAnswer:
    found = RegisteredModel.objects.filter(_models()).aggregate(
        total=Count("pk", distinct=True),
        measured=Count(
            "pk",
            distinct=True,
            filter=Q(versions__gone_from_mlflow=False) & ~Q(versions__metrics={}),
        ),
    )
    link = _url("catalog-list", tenant)
    if not found["total"]:
        return AutoAnswer(False, "The catalog holds no model yet.", link, "Models")
    return AutoAnswer(
        found["measured"] == found["total"],
        f"{found['measured']} of {_plural(found['total'], 'model')} "
        f"{_verb(found['total'], 'has', 'have')} a numbered version with logged metrics.",
        link,
        "Models",
    )


def datasets_identified(tenant: Tenant) -> AutoAnswer:
    newest = (
        ModelVersion.objects.filter(model=OuterRef("model"), gone_from_mlflow=False)
        .order_by("-version")
        .values("version")[:1]
    )
    found = (
        ModelVersion.objects.filter(gone_from_mlflow=False, model__gone_from_mlflow=False)
        .annotate(newest=Subquery(newest))
        .filter(version=F("newest"))
        .aggregate(total=Count("pk"), identified=Count("pk", filter=~Q(datasets=[])))
    )
    link = _url("catalog-list", tenant)
    if not found["total"]:
        return AutoAnswer(False, "The catalog holds no model version yet.", link, "Models")
    return AutoAnswer(
        found["identified"] == found["total"],
        f"The newest version of {found['identified']} of {_plural(found['total'], 'model')} "
        "records its training dataset (name, digest and source).",
        link,
        "Models",
    )


def production_documented(tenant: Tenant) -> AutoAnswer:
    found = Deployment.objects.filter(
        state=DeploymentState.LIVE, environment=Environment.PRODUCTION
    ).aggregate(
        total=Count("model_version__model", distinct=True),
        documented=Count(
            "model_version__model",
            distinct=True,
            filter=Q(model_version__model__intended_use__gt="")
            | Q(model_version__card__purpose__gt=""),
        ),
    )
    link = _url("deployment-list", tenant, "environment=production&state=live")
    if not found["total"]:
        return AutoAnswer(False, "No model is live in production yet.", link, "Deployments")
    return AutoAnswer(
        found["documented"] == found["total"],
        f"{found['documented']} of {_plural(found['total'], 'model')} live in production "
        f"{_verb(found['total'], 'has its', 'have their')} intended use in the catalog or a "
        "model card.",
        link,
        "Deployments",
    )


def central_registry(tenant: Tenant) -> AutoAnswer:
    models = RegisteredModel.objects.filter(_models()).count()
    synced = (
        SyncRun.objects.filter(status=SyncStatus.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    link = _url("catalog-sync", tenant)
    if not models:
        return AutoAnswer(False, "The catalog holds no model yet.", link, "MLflow sync")
    when = f" (last synced {synced:%Y-%m-%d %H:%M} UTC)" if synced else ""
    return AutoAnswer(
        True,
        f"{_plural(models, 'model')} in the portal's catalog, mirrored from the MLflow "
        f"registry{when}.",
        link,
        "MLflow sync",
    )


def staging_automated(tenant: Tenant) -> AutoAnswer:
    count = Deployment.objects.filter(
        environment=Environment.STAGING, live_from__isnull=False, decision__outcome="allow"
    ).count()
    link = _url("deployment-list", tenant, "environment=staging")
    if not count:
        return AutoAnswer(
            False,
            "No staging deployment has gone live on the policy's automatic approval yet.",
            link,
            "Staging deployments",
        )
    return AutoAnswer(
        True,
        f"{_plural(count, 'staging revision')} went live on the policy's automatic approval "
        "and an automatic rollout.",
        link,
        "Staging deployments",
    )


def production_metrics(tenant: Tenant) -> AutoAnswer:
    found = GatewayMinute.objects.filter(
        deployment__environment=Environment.PRODUCTION,
        minute__gte=timezone.now() - METRICS_WINDOW,
    ).aggregate(revisions=Count("deployment", distinct=True), requests=Sum("requests"))
    link = _url("deployment-list", tenant, "environment=production")
    if not found["revisions"]:
        return AutoAnswer(
            False,
            "The gateway measured no production traffic in the last 30 days.",
            link,
            "Production deployments",
        )
    return AutoAnswer(
        True,
        f"The gateway measured requests, errors and latency of "
        f"{_plural(found['revisions'], 'production revision')} in the last 30 days "
        f"({_plural(found['requests'] or 0, 'request')}).",
        link,
        "Production deployments",
    )


def drift_monitored(tenant: Tenant) -> AutoAnswer:
    active = Monitor.objects.filter(endpoint=OuterRef("name"), enabled=True)
    live = Deployment.objects.filter(state=DeploymentState.LIVE).annotate(monitored=Exists(active))
    watched = Q(monitored=True, drift_monitor=True)
    found = live.aggregate(total=Count("pk"), watched=Count("pk", filter=watched))
    link = _url("deployment-list", tenant, "state=live")
    if not found["total"]:
        return AutoAnswer(False, "No deployment is live yet.", link, "Live deployments")
    if found["watched"] == found["total"]:
        return AutoAnswer(
            True,
            f"{_verb(found['total'], 'The', 'All')} {_plural(found['total'], 'live revision')} "
            f"{_verb(found['total'], 'has', 'have')} an active drift monitor.",
            link,
            "Live deployments",
        )
    missing = sorted(set(live.exclude(watched).values_list("name", flat=True)[: NAMES_LISTED * 4]))[
        :NAMES_LISTED
    ]
    return AutoAnswer(
        False,
        f"{found['watched']} of {_plural(found['total'], 'live revision')} "
        f"{_verb(found['total'], 'has', 'have')} an active drift monitor; not watched: "
        f"{', '.join(missing)}.",
        link,
        "Live deployments",
    )


def retraining(tenant: Tenant) -> AutoAnswer:
    monitors = Monitor.objects.filter(enabled=True, retrain_webhook=True).count()
    if not monitors:
        return AutoAnswer(
            None, "No drift monitor calls a retraining webhook; retraining may run elsewhere."
        )
    return AutoAnswer(
        True,
        f"{_plural(monitors, 'drift monitor')} {_verb(monitors, 'calls', 'call')} the unit's "
        "retraining webhook when drift is found.",
        _url("deployment-list", tenant, "state=live"),
        "Live deployments",
    )


@dataclass(frozen=True)
class MeasuredRollback:
    endpoint: str
    from_revision: int
    to_revision: int
    decided_at: datetime
    took: timedelta


def measured_rollbacks(limit: int = ROLLBACKS_EXAMINED) -> list[MeasuredRollback]:
    """The tenant's latest rollbacks, newest first, each timed from the decision to roll back
    (its ``deployment.rolled_back`` event) to the moment the traffic moved (its
    ``deployment.traffic`` event)."""
    decided = list(
        AuditEvent.objects.filter(action="deployment.rolled_back", object_type="deployment")
        .order_by("-created_at", "-sequence")
        .values("object_id", "created_at", "after")[:limit]
    )
    if not decided:
        return []
    ids = [int(event["object_id"]) for event in decided if event["object_id"].isdigit()]
    revisions = {
        str(pk): (name, revision)
        for pk, name, revision in Deployment.objects.filter(pk__in=ids).values_list(
            "pk", "name", "revision"
        )
    }
    moves = list(
        AuditEvent.objects.filter(
            action="deployment.traffic",
            object_id__in={name for name, _ in revisions.values()},
            created_at__gte=min(event["created_at"] for event in decided),
        )
        .order_by("created_at", "sequence")
        .values("object_id", "created_at", "after")
    )
    found = []
    for event in decided:
        if event["object_id"] not in revisions:
            continue
        name, revision = revisions[event["object_id"]]
        to_revision = (event["after"] or {}).get("to_revision")
        why = f"rolled back from r{revision} to r{to_revision}"
        move = next(
            (
                m
                for m in moves
                if m["object_id"] == name
                and m["created_at"] >= event["created_at"]
                and (m["after"] or {}).get("why") == why
            ),
            None,
        )
        if move is not None:
            found.append(
                MeasuredRollback(
                    endpoint=name,
                    from_revision=revision,
                    to_revision=int(to_revision or 0),
                    decided_at=event["created_at"],
                    took=move["created_at"] - event["created_at"],
                )
            )
    return found


def rollback_fast(tenant: Tenant) -> AutoAnswer:
    rollbacks = measured_rollbacks()
    link = _url("deployment-list", tenant, "state=rolled_back")
    if not rollbacks:
        return AutoAnswer(
            False,
            "No rollback has been measured yet: roll a revision back once to measure it.",
            link,
            "Rolled back deployments",
        )
    latest = rollbacks[0]
    fast = latest.took <= ROLLBACK_LIMIT
    return AutoAnswer(
        fast,
        f"Latest measured rollback: {latest.endpoint} r{latest.from_revision} to "
        f"r{latest.to_revision} on {latest.decided_at:%Y-%m-%d}, traffic moved in "
        f"{_seconds(latest.took)} ({_plural(len(rollbacks), 'rollback')} measured).",
        link,
        "Rolled back deployments",
    )


def high_risk_approvals(tenant: Tenant) -> AutoAnswer:
    approved = ApprovalRequest.objects.filter(
        risk_tier=RiskTier.HIGH, state=ApprovalState.APPROVED
    ).count()
    unapproved = (
        Deployment.objects.filter(
            state=DeploymentState.LIVE,
            environment=Environment.PRODUCTION,
            model_version__model__risk_tier=RiskTier.HIGH,
        )
        .exclude(approvals__state=ApprovalState.APPROVED)
        .count()
    )
    link = reverse("approval-queue")
    if unapproved:
        return AutoAnswer(
            False,
            f"{_plural(unapproved, 'high-risk production revision')} went live without an "
            "approval.",
            _url("deployment-list", tenant, "environment=production&state=live"),
            "Production deployments",
        )
    if not approved:
        return AutoAnswer(None, "No high-risk model of the unit has been through approval yet.")
    return AutoAnswer(
        True,
        f"{_plural(approved, 'approval request')} for high-risk models were decided by "
        "governance reviewers, and every high-risk model live in production is approved.",
        link,
        "Approvals",
    )


def shadow_tests(tenant: Tenant) -> AutoAnswer:
    shadows = Deployment.objects.filter(shadow=True, live_from__isnull=False).count()
    if not shadows:
        return AutoAnswer(None, "No shadow revision has run; model tests may run in CI instead.")
    return AutoAnswer(
        True,
        f"{_plural(shadows, 'shadow revision')} tested a new version on a copy of live traffic.",
        _url("deployment-list", tenant),
        "Deployments",
    )


def production_hands_off(tenant: Tenant) -> AutoAnswer:
    count = Deployment.objects.filter(
        environment=Environment.PRODUCTION, live_from__isnull=False, decision__outcome="allow"
    ).count()
    link = _url("deployment-list", tenant, "environment=production")
    if not count:
        return AutoAnswer(
            False,
            "Every production deployment so far needed a person's approval.",
            link,
            "Production deployments",
        )
    return AutoAnswer(
        True,
        f"{_plural(count, 'production revision')} went live on the policy's automatic approval, "
        "with no person involved.",
        link,
        "Production deployments",
    )


def ai_act_governance(tenant: Tenant) -> AutoAnswer:
    found = RegisteredModel.objects.filter(_models()).aggregate(
        total=Count("pk"), classified=Count("pk", filter=~Q(risk_tier=""))
    )
    overdue = ModelCertification.objects.filter(
        Q(state=CertificationState.OVERDUE) | Q(due_at__lt=timezone.now())
    ).count()
    link = _url("catalog-list", tenant)
    if not found["total"]:
        return AutoAnswer(False, "The catalog holds no model yet.", link, "Models")
    sentence = (
        f"{found['classified']} of {_plural(found['total'], 'model')} "
        f"{_verb(found['total'], 'has', 'have')} an EU AI Act risk tier; "
        f"{_plural(overdue, 're-certification')} overdue."
    )
    return AutoAnswer(
        found["classified"] == found["total"] and not overdue, sentence, link, "Models"
    )


PROBES: dict[str, Callable[[Tenant], AutoAnswer]] = {
    "q01": experiment_tracking,
    "q02": versions_with_metrics,
    "q03": datasets_identified,
    "q04": production_documented,
    "q06": central_registry,
    "q07": staging_automated,
    "q08": production_metrics,
    "q09": drift_monitored,
    "q10": retraining,
    "q11": rollback_fast,
    "q12": high_risk_approvals,
    "q13": shadow_tests,
    "q14": production_hands_off,
    "q16": ai_act_governance,
}


def auto_answers(tenant: Tenant) -> dict[str, AutoAnswer]:
    """What the portal's data says about each question it can probe (inside the tenant scope)."""
    return {question: probe(tenant) for question, probe in PROBES.items()}
