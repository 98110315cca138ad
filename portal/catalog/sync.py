"""Keeping each tenant's catalog in step with the MLflow registry.

A sync pass lists the tenant's registered models (tag ``portal.tenant=<slug>``, or the tenant's
name prefix). A model whose ``last_updated_timestamp``, aliases, tags and description have not
moved is skipped without a single write; MLflow does not move that timestamp for alias or
version-tag changes, which is why aliases and tags are compared too, and why a *deep* pass (hourly
by default, and on every webhook) re-reads the versions of every model. Only real changes are
written, each with one audit event. Models and versions missing from MLflow are flagged, never
deleted.

Each model is applied in its own transaction, after its MLflow reads: a failure half-way through
leaves every model either as it was or fully updated, and never flags anything as gone (that needs
a complete listing). At most one pass runs per tenant at a time (a partial unique constraint on
the running ``SyncRun``); a second one stands down.

The details pass downloads each new version's files once and records the manifest of their
SHA-256 hashes (``portal.catalog.digests``). A deep pass also hashes again the files of the
versions that have approvals in force or serving revisions (only those, so it stays cheap): a
version whose bytes changed is marked tampered by the deployments workflow, which receives
``portal.catalog.signals.version_files_changed``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.catalog.digests import listing_digest, manifest_changes, manifest_digest
from portal.catalog.mlflow_adapter import (
    ArtifactFiles,
    MlflowModel,
    MlflowNotFound,
    MlflowRegistry,
    MlflowRejected,
    MlflowUnavailable,
    MlflowVersion,
    VersionDetails,
)
from portal.catalog.models import (
    ModelVersion,
    RegisteredModel,
    SyncRun,
    SyncStatus,
    UnassignedModel,
)
from portal.catalog.ownership import (
    claimed_unit,
    model_owner,
    owned_names,
    ownership_records,
    ownership_settle,
)
from portal.catalog.signals import (
    signal_send_to_one,
    version_files_changed,
    version_manifest_found,
)
from portal.core.audit import Actor, Change, audit_record_many
from tenants.models import Tenant
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)

SYNC_ACTOR = Actor.system("mlflow sync")
ABANDONED_AFTER = timedelta(minutes=30)
BATCH = 100  # models whose versions are read in one MLflow call
OWNERSHIP_BATCH = 500  # models whose ownership records are read in one query
DETAIL_WORKERS = 4


def sync_start(*, tenant: Tenant, trigger: str, deep: bool) -> SyncRun | None:
    """Open a run for the tenant, or None when another one is already running."""
    now = timezone.now()
    SyncRun.objects.filter(status=SyncStatus.RUNNING, started_at__lt=now - ABANDONED_AFTER).update(
        status=SyncStatus.FAILED, finished_at=now, error="Abandoned: the worker running it stopped."
    )
    try:
        with transaction.atomic():
            return SyncRun.objects.create(tenant=tenant, trigger=trigger, deep=deep)
    except IntegrityError:
        return None


def _finish(run: SyncRun, *, status: str, error: str = "") -> SyncRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save()
    return run


def deep_sync_due(*, tenant: Tenant, every: timedelta) -> bool:
    last = (
        SyncRun.objects.filter(deep=True, status=SyncStatus.SUCCEEDED)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    return last is None or timezone.now() - last > every


def registry_sync(
    *,
    tenant: Tenant,
    trigger: str = "schedule",
    deep: bool = False,
    only: str | None = None,
    registry: MlflowRegistry | None = None,
    details: bool = True,
) -> SyncRun | None:
    """One sync pass for ``tenant`` (inside its scope); ``only`` limits it to one model name.

    The registry pass mirrors models, versions and aliases; the details pass then reads, for each
    version seen for the first time, its run data, signature, size and digest.
    """
    run = sync_start(tenant=tenant, trigger=trigger, deep=deep or bool(only))
    if run is None:
        logger.info("sync of %s skipped: another one is running", tenant.slug)
        return None
    registry = registry or MlflowRegistry()
    try:
        local_models = (
            RegisteredModel.objects.filter(name=only) if only else RegisteredModel.objects.all()
        )
        existing = {model.name: model for model in local_models}
        seen: set[str] = set()
        pending: list[tuple[RegisteredModel | None, MlflowModel]] = []
        held = {name for name, model in existing.items() if not model.gone_from_mlflow}
        for remote in _remote_models(registry, tenant, only, held):
            seen.add(remote.name)
            run.models_seen += 1
            local = existing.get(remote.name)
            if local is None or run.deep or not _unchanged(local, remote):
                pending.append((local, remote))
            if len(pending) >= BATCH:
                _sync_batch(run, tenant, pending, registry)
                pending = []
        _sync_batch(run, tenant, pending, registry)
        names = [only] if only else list(existing)
        for name in names:
            if name not in seen and name in existing and not existing[name].gone_from_mlflow:
                _mark_gone(run, existing[name])
        if details:
            version_details_sync(run=run, registry=registry, model_name=only)
            if run.deep:
                artifacts_recheck(run=run, registry=registry, model_name=only)
    except MlflowUnavailable as error:
        _finish(run, status=SyncStatus.FAILED, error=error.detail)
        raise
    except Exception as error:
        _finish(run, status=SyncStatus.FAILED, error=f"Unexpected error: {error}")
        raise
    return _finish(run, status=SyncStatus.SUCCEEDED)


def _remote_models(
    registry: MlflowRegistry, tenant: Tenant, only: str | None, held: set[str]
) -> Iterator[MlflowModel]:
    """The models MLflow lists for the tenant, and those it holds that MLflow lists elsewhere now
    (retagged, read by name), each kept only when the portal's ownership record gives it to the
    tenant (``ownership.ownership_settle``, which also flags a tag that disagrees)."""
    listed = (
        []
        if only
        else registry.models_of_tenant(slug=tenant.slug, name_prefix=tenant.mlflow_name_prefix)
    )
    names: set[str] = set()
    for chunk in _chunks(listed, OWNERSHIP_BATCH):
        records = ownership_records(model.name for model in chunk)
        for model in chunk:
            names.add(model.name)
            if ownership_settle(model, tenant=tenant, records=records):
                yield model
    for name in sorted(({only} if only else held) - names):
        try:
            model = registry.get_model(name)
        except MlflowNotFound:
            continue
        if ownership_settle(model, tenant=tenant):
            yield model


def _chunks(models: Iterable[MlflowModel], size: int) -> Iterator[list[MlflowModel]]:
    chunk: list[MlflowModel] = []
    for model in models:
        chunk.append(model)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _unchanged(local: RegisteredModel, remote: MlflowModel) -> bool:
    return (
        not local.gone_from_mlflow
        and local.mlflow_updated_ms == remote.updated_ms
        and local.aliases == remote.aliases
        and local.mlflow_tags == remote.tags
        and local.description == remote.description
    )


def _sync_batch(
    run: SyncRun,
    tenant: Tenant,
    pending: list[tuple[RegisteredModel | None, MlflowModel]],
    registry: MlflowRegistry,
) -> None:
    if not pending:
        return
    # MLflow is read before any transaction opens, so no lock is held while waiting on the network.
    versions = registry.versions_of_models([remote for _, remote in pending])
    for local, remote in pending:
        with transaction.atomic():
            changes: list[Change] = []
            writes_before = run.writes
            model = _apply_model(run, tenant, local, remote, changes)
            _apply_versions(run, model, versions[remote.name], changes)
            _audit(run, changes)
            if run.writes > writes_before:
                run.models_changed += 1
    SyncRun.objects.filter(pk=run.pk).update(
        models_seen=run.models_seen,
        models_changed=run.models_changed,
        versions_created=run.versions_created,
    )


def _model_fields(remote: MlflowModel) -> dict:
    return {
        "description": remote.description,
        "mlflow_tags": remote.tags,
        "aliases": remote.aliases,
        "gone_from_mlflow": False,
    }


def _apply_model(
    run: SyncRun,
    tenant: Tenant,
    local: RegisteredModel | None,
    remote: MlflowModel,
    changes: list[Change],
) -> RegisteredModel:
    now = timezone.now()
    if local is None:
        model = RegisteredModel.objects.create(
            tenant=tenant,
            name=remote.name,
            mlflow_created_ms=remote.created_ms,
            mlflow_updated_ms=remote.updated_ms,
            last_synced_at=now,
            **_model_fields(remote),
        )
        run.writes += 1
        changes.append(
            Change(
                "model.registered",
                "catalog_model",
                model.pk,
                after={"name": remote.name, **_model_fields(remote)},
            )
        )
        return model
    wanted = _model_fields(remote)
    before = {k: getattr(local, k) for k, v in wanted.items() if getattr(local, k) != v}
    after = {k: wanted[k] for k in before}
    if before or local.mlflow_updated_ms != remote.updated_ms:
        for name, value in wanted.items():
            setattr(local, name, value)
        local.mlflow_updated_ms, local.last_synced_at, local.gone_at = remote.updated_ms, now, None
        local.save()
        run.writes += 1
    if before:
        action = (
            "model.aliases_changed" if set(before) == {"aliases"} else "model.changed_in_mlflow"
        )
        if before.get("gone_from_mlflow"):
            action = "model.returned_to_mlflow"
        changes.append(Change(action, "catalog_model", local.pk, before=before, after=after))
    return local


def _version_fields(remote: MlflowVersion) -> dict:
    return {
        "run_id": remote.run_id,
        "source": remote.source,
        "status": remote.status,
        "description": remote.description,
        "aliases": remote.aliases,
        "mlflow_tags": remote.tags,
        "gone_from_mlflow": False,
    }


def _apply_versions(
    run: SyncRun, model: RegisteredModel, versions: list[MlflowVersion], changes: list[Change]
) -> None:
    local = {v.version: v for v in ModelVersion.objects.filter(model=model)}
    created = [
        ModelVersion(
            tenant_id=model.tenant_id,
            model=model,
            version=remote.version,
            mlflow_created_ms=remote.created_ms,
            mlflow_updated_ms=remote.updated_ms,
            **_version_fields(remote),
        )
        for remote in versions
        if remote.version not in local
    ]
    if created:
        ModelVersion.objects.bulk_create(created)
        run.versions_created += len(created)
        run.writes += 1
        changes.extend(
            Change(
                "version.registered",
                "model_version",
                version.pk,
                after={
                    "model": model.name,
                    "version": version.version,
                    "run_id": version.run_id,
                    "source": version.source,
                },
            )
            for version in created
        )
    for remote in versions:
        existing = local.get(remote.version)
        if existing is None:
            continue
        wanted = _version_fields(remote)
        before = {k: getattr(existing, k) for k, v in wanted.items() if getattr(existing, k) != v}
        if before:
            for name, value in wanted.items():
                setattr(existing, name, value)
            existing.mlflow_updated_ms = remote.updated_ms
            existing.save()
            run.versions_updated += 1
            run.writes += 1
            changes.append(
                Change(
                    "version.changed_in_mlflow",
                    "model_version",
                    existing.pk,
                    before={"version": remote.version, **before},
                    after={"version": remote.version, **{k: wanted[k] for k in before}},
                )
            )
    remote_numbers = {v.version for v in versions}
    for number, existing in local.items():
        if number not in remote_numbers and not existing.gone_from_mlflow:
            existing.gone_from_mlflow = True
            existing.save(update_fields=["gone_from_mlflow"])
            run.writes += 1
            changes.append(
                Change(
                    "version.gone_from_mlflow",
                    "model_version",
                    existing.pk,
                    before={"version": number, "gone_from_mlflow": False},
                    after={"version": number, "gone_from_mlflow": True},
                )
            )


@transaction.atomic
def _mark_gone(run: SyncRun, model: RegisteredModel) -> None:
    model.gone_from_mlflow, model.gone_at = True, timezone.now()
    model.save(update_fields=["gone_from_mlflow", "gone_at"])
    run.models_gone += 1
    run.writes += 1
    _audit(
        run,
        [
            Change(
                "model.gone_from_mlflow",
                "catalog_model",
                model.pk,
                before={"gone_from_mlflow": False},
                after={"gone_from_mlflow": True},
            )
        ],
    )


def _audit(run: SyncRun, changes: list[Change]) -> None:
    if changes:
        audit_record_many(actor=SYNC_ACTOR, tenant_id=run.tenant_id, changes=changes)
        run.writes += len(changes)


# --- details of versions seen for the first time -----------------------------------------------


def version_details_sync(
    *,
    run: SyncRun,
    registry: MlflowRegistry,
    model_name: str | None = None,
    workers: int = DETAIL_WORKERS,
) -> int:
    """Read run data, signature, size and digest of every version not read yet (of one model
    when ``model_name`` is given); returns how many.

    MLflow is read from a few threads (they never touch the database); each version is then
    written with its one audit event recording the digest first seen.
    """
    versions = ModelVersion.objects.filter(details_synced_at__isnull=True, gone_from_mlflow=False)
    if model_name:
        versions = versions.filter(model__name=model_name)
    pending = list(versions.select_related("model").order_by("pk"))
    if not pending:
        return 0

    def read(version: ModelVersion) -> VersionDetails:
        return registry.version_details(run_id=version.run_id, source=version.source)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(read, pending))
    now = timezone.now()
    for version, details in zip(pending, found, strict=True):
        with transaction.atomic():
            for name, value in asdict(details).items():
                if name != "problems":
                    setattr(version, name, value)
            version.details_error = "; ".join(details.problems)
            version.details_synced_at = now
            version.save()
            _audit(
                run,
                [
                    Change(
                        "version.digest_recorded",
                        "model_version",
                        version.pk,
                        after={
                            "model": version.model.name,
                            "version": version.version,
                            "artifact_digest": details.artifact_digest,
                            "artifact_size_bytes": details.artifact_size_bytes,
                        },
                    )
                ],
            )
    return len(pending)


# --- artifacts of approved and serving versions, hashed again on deep syncs --------------------


def _versions_to_recheck(model_name: str | None):
    """Versions with approvals in force or serving revisions, and versions recorded before
    content manifests (whose manifest is recorded once)."""
    in_force = Q(approvals__state="approved", approvals__artifact_digest=F("artifact_digest"))
    serving = Q(deployments__state__in=("deploying", "live"))
    recorded = ~Q(artifact_manifest={}) & (in_force | serving)
    without_manifest = Q(artifact_manifest={}) & ~Q(artifact_digest="")
    versions = ModelVersion.objects.filter(tampered_at__isnull=True, gone_from_mlflow=False).filter(
        recorded | without_manifest
    )
    if model_name:
        versions = versions.filter(model__name=model_name)
    return versions.distinct()


def artifacts_recheck(
    *,
    run: SyncRun,
    registry: MlflowRegistry,
    model_name: str | None = None,
    workers: int = DETAIL_WORKERS,
) -> int:
    """Hash again the files of the versions with approvals in force or serving revisions; mark
    those whose bytes changed tampered. Returns how many were checked.

    A version recorded before content manifests gets its manifest now when its files still give
    the digest it was recorded (and approved) with; else it is tampered too.
    MLflow is read from a few threads (they never touch the database), as in the details pass.
    """
    pending = list(_versions_to_recheck(model_name).select_related("model").order_by("pk"))
    if not pending:
        return 0

    def read(version: ModelVersion) -> ArtifactFiles:
        try:
            return registry.artifact_files(source=version.source)
        except (MlflowNotFound, MlflowRejected):
            return ArtifactFiles({}, "")  # the files, or the model holding them, are gone

    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(read, pending))
    unchanged = []
    for version, files in zip(pending, found, strict=True):
        digest = manifest_digest(files.manifest) if files.manifest else ""
        if not version.artifact_manifest:
            if files.manifest and version.artifact_digest == listing_digest(
                files.manifest, files.mlmodel_text
            ):
                signal_send_to_one(
                    version_manifest_found,
                    actor=SYNC_ACTOR,
                    version=version,
                    manifest=files.manifest,
                    digest=digest,
                )
                run.writes += 1
                continue
            changes = ["the file listing, sizes or MLmodel differ from the digest first recorded"]
        elif digest == version.artifact_digest:
            unchanged.append(version.pk)
            continue
        else:
            changes = manifest_changes(version.artifact_manifest, files.manifest)
        logger.warning(
            "The artifacts of %s v%s changed in MLflow: %s",
            version.model.name,
            version.version,
            "; ".join(changes),
        )
        signal_send_to_one(
            version_files_changed,
            actor=SYNC_ACTOR,
            version=version,
            found_digest=digest,
            changes=changes,
        )
        run.writes += 1
    if unchanged:
        ModelVersion.objects.filter(pk__in=unchanged).update(artifacts_checked_at=timezone.now())
        run.writes += 1
    return len(pending)


# --- models no tenant claims ---------------------------------------------------------------------


def _record_unassigned(model: MlflowModel, *, seen_at) -> None:
    UnassignedModel.objects.update_or_create(
        name=model.name,
        defaults={
            "mlflow_tags": model.tags,
            "latest_version": model.latest_version,
            "mlflow_updated_ms": model.updated_ms,
            "last_seen_at": seen_at,
        },
    )


def unassigned_scan(*, registry: MlflowRegistry | None = None) -> int:
    """Record the registered models that match no active tenant; returns how many there are."""
    registry = registry or MlflowRegistry()
    tenants = list(Tenant.objects.filter(active=True))
    owned = owned_names()
    now = timezone.now()
    names = set()
    for model in registry.search_models():
        if model.name in owned or claimed_unit(model, tenants=tenants) is not None:
            continue
        names.add(model.name)
        _record_unassigned(model, seen_at=now)
    UnassignedModel.objects.exclude(name__in=names).delete()
    return len(names)


def tenant_sync_model(
    *, name: str, trigger: str, registry: MlflowRegistry | None = None
) -> list[SyncRun]:
    """Sync one model by name into the tenant it belongs to (webhooks, assignment).

    A model deleted from MLflow is flagged in every tenant that had it.
    """
    registry = registry or MlflowRegistry()
    try:
        model: MlflowModel | None = registry.get_model(name)
    except MlflowNotFound:
        model = None
    tenants = list(Tenant.objects.filter(active=True))
    owner = model_owner(model, tenants=tenants) if model else None
    # Across tenants on purpose: a model may have moved, or vanished from every tenant.
    holders = set(
        RegisteredModel.objects.dangerously_across_tenants()
        .filter(name=name, gone_from_mlflow=False)
        .values_list("tenant_id", flat=True)
    )
    if model is not None and owner is None:
        _record_unassigned(model, seen_at=timezone.now())
    runs = []
    for tenant in tenants:
        if tenant == owner or tenant.pk in holders:
            with tenant_scope(tenant):
                run = registry_sync(tenant=tenant, trigger=trigger, only=name, registry=registry)
            if run is not None:
                runs.append(run)
    return runs
