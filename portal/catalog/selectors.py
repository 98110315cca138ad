"""Reads of the catalog. Each runs inside the tenant's scope."""

from __future__ import annotations

from django.db.models import Func, IntegerField, OuterRef, QuerySet, Subquery

from portal.catalog.models import ModelVersion, RegisteredModel, SyncRun, SyncStatus

ORDERINGS = {
    "name": "name",
    "-name": "-name",
    "updated": "mlflow_updated_ms",
    "-updated": "-mlflow_updated_ms",
}


def models_search() -> QuerySet[RegisteredModel]:
    """The tenant's catalog by name, with the latest version and version count, in one query
    (``portal.catalog.filters.CatalogFilter`` searches, filters and orders it otherwise).

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
    return models.order_by(ORDERINGS["name"], "pk")


def sync_last_success() -> SyncRun | None:
    return SyncRun.objects.filter(status=SyncStatus.SUCCEEDED).order_by("-finished_at").first()


def sync_failed_since_success() -> SyncRun | None:
    """The newest sync when it failed (MLflow down, slow or refusing), else None."""
    latest = SyncRun.objects.exclude(status=SyncStatus.RUNNING).order_by("-started_at").first()
    return latest if latest is not None and latest.status == SyncStatus.FAILED else None
