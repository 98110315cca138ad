"""Reads of the catalog. Each runs inside the tenant's scope."""

from __future__ import annotations

from django.db.models import Func, IntegerField, OuterRef, Q, QuerySet, Subquery

from portal.catalog.models import ModelVersion, RegisteredModel, SyncRun, SyncStatus

ORDERINGS = {
    "name": "name",
    "-name": "-name",
    "updated": "mlflow_updated_ms",
    "-updated": "-mlflow_updated_ms",
}


def models_search(
    *,
    q: str = "",
    tag: str = "",
    owner: str = "",
    alias: str = "",
    status: str = "",
    risk_tier: str = "",
    ordering: str = "name",
) -> QuerySet[RegisteredModel]:
    """The tenant's catalog with the latest version and version count, in one query.

    Both figures are correlated subqueries over the (model, version) index, so the database
    computes them for the rows of the page only, and the page's count never joins the versions.
    """
    versions = ModelVersion.objects.filter(model=OuterRef("pk")).order_by()
    models = RegisteredModel.objects.annotate(
        latest_version=Subquery(versions.order_by("-version").values("version")[:1]),
        version_count=Subquery(
            versions.annotate(n=Func("pk", function="COUNT")).values("n"),
            output_field=IntegerField(),
        ),
    )
    if q:
        models = models.filter(Q(name__icontains=q) | Q(description__icontains=q))
    if tag:
        key, has_value, value = tag.partition("=")
        models = (
            models.filter(**{f"mlflow_tags__{key}": value})
            if has_value
            else models.filter(mlflow_tags__has_key=key)
        )
    if owner:
        models = models.filter(owner__iexact=owner)
    if alias:
        models = models.filter(aliases__has_key=alias)
    if risk_tier == "unclassified":
        models = models.filter(risk_tier="")
    elif risk_tier:
        models = models.filter(risk_tier=risk_tier)
    if status == "active":
        models = models.filter(gone_from_mlflow=False)
    elif status == "gone":
        models = models.filter(gone_from_mlflow=True)
    return models.order_by(ORDERINGS.get(ordering, "name"), "pk")


def sync_last_success() -> SyncRun | None:
    return SyncRun.objects.filter(status=SyncStatus.SUCCEEDED).order_by("-finished_at").first()


def sync_failed_since_success() -> SyncRun | None:
    """The newest sync when it failed (MLflow down, slow or refusing), else None."""
    latest = SyncRun.objects.exclude(status=SyncStatus.RUNNING).order_by("-started_at").first()
    return latest if latest is not None and latest.status == SyncStatus.FAILED else None
