"""Changes people make to the catalog: metadata, registering a run's model, assigning a model.

Registration and assignment answer at once what can be checked quickly (the name, the source's
form, that the run is in one of the unit's experiments) and queue the rest as a ``CatalogJob``
that a worker carries out and the caller follows (``GET .../catalog-jobs/<id>/``).
"""

from __future__ import annotations

import re
from dataclasses import asdict

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.catalog.mlflow_adapter import (
    TENANT_TAG,
    WEBHOOK_NAME,
    MlflowNotFound,
    MlflowRegistry,
    MlflowUnavailable,
)
from portal.catalog.models import (
    CatalogJob,
    ClaimedVia,
    JobKind,
    JobStatus,
    ModelVersion,
    RegisteredModel,
    UnassignedModel,
)
from portal.catalog.ownership import claimed_unit, ownership_claim, ownership_of
from portal.catalog.sync import registry_sync
from portal.core.audit import Actor, apply_updates, audit_record
from portal.core.errors import Conflict, InvalidRequest, NotFound, PortalError
from tenants.models import Tenant
from tenants.scoping import tenant_scope

METADATA_FIELDS = ("owner", "use_case", "intended_use", "limitations")

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
ARTIFACT_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")


@transaction.atomic
def model_update_metadata(
    *, actor: Actor, model: RegisteredModel, **updates: str
) -> RegisteredModel:
    before, after = apply_updates(
        model,
        editable=METADATA_FIELDS,
        updates=updates,
        refusal="These fields come from MLflow or are not editable",
    )
    if not after:
        return model
    model.save(update_fields=list(after))
    audit_record(
        actor=actor,
        action="model.metadata_updated",
        object_type="catalog_model",
        object_id=model.pk,
        tenant_id=model.tenant_id,
        before=before,
        after=after,
    )
    return model


def mlflow_webhook_point(*, actor: Actor, url: str, registry: MlflowRegistry | None = None) -> str:
    """Point MLflow's registry webhook at the portal's receiver ``url``, signed with
    ``MLFLOW_WEBHOOK_SECRET``, so a new version reaches the catalog in seconds. Created once and
    updated after; recorded in the platform's audit trail (the URL, never the secret)."""
    if not settings.MLFLOW_WEBHOOK_SECRET:
        raise InvalidRequest(
            "MLFLOW_WEBHOOK_SECRET is empty: the portal would refuse every delivery. Set it first."
        )
    if not re.match(r"^https?://[^/\s]+/\S*$", url):
        raise InvalidRequest(f"The webhook URL must be an http(s) URL with a path, got {url!r}.")
    registry = registry or MlflowRegistry()
    done = registry.point_webhook(url=url, secret=settings.MLFLOW_WEBHOOK_SECRET)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=f"mlflow_webhook.{done}",
            object_type="mlflow_webhook",
            object_id=WEBHOOK_NAME,
            tenant_id=None,
            after={"url": url, "tracking_uri": registry.tracking_uri},
        )
    return done


def registration_source(*, run_id: str, artifact_path: str = "", logged_model_id: str = "") -> str:
    """The source URI the portal builds itself; anything else a caller sends is refused."""
    if logged_model_id:
        if not LOGGED_MODEL_ID.match(logged_model_id):
            raise InvalidRequest(
                "logged_model_id must look like 'm-' followed by 32 hexadecimal characters."
            )
        return f"models:/{logged_model_id}"
    if not RUN_ID.match(run_id or ""):
        raise InvalidRequest("run_id must be the 32 hexadecimal characters of an MLflow run id.")
    path = artifact_path or "model"
    if not ARTIFACT_PATH.match(path) or ".." in path.split("/"):
        raise InvalidRequest(
            "artifact_path must be a relative path inside the run, such as 'model' "
            "(letters, digits, '.', '_', '-' and '/'; no '..', no scheme, no leading '/')."
        )
    return f"runs:/{run_id}/{path}"


def unit_namespace(tenant: Tenant) -> str:
    """The names a unit may give new models from the portal: its MLflow prefix, else its slug."""
    return tenant.mlflow_name_prefix or f"{tenant.slug}-"


def _refused_name(tenant: Tenant) -> InvalidRequest:
    # One sentence whether the name is free, another unit's or nobody's: it reveals no other unit's
    # names.
    return InvalidRequest(
        "name must be one of this unit's models, or a new name that begins with "
        f"'{unit_namespace(tenant)}'."
    )


def _check_name(*, tenant: Tenant, name: str) -> None:
    if not MODEL_NAME.match(name or ""):
        raise InvalidRequest(
            "name must start with a letter or digit and use only letters, digits, '.', '_' and '-' "
            "(at most 200 characters)."
        )
    record = ownership_of(name)
    if record is not None and record.tenant_id == tenant.pk:
        return
    if record is None and name.startswith(unit_namespace(tenant)):
        return
    raise _refused_name(tenant)


def _check_source(
    registry: MlflowRegistry, *, tenant: Tenant, run_id: str, logged_model_id: str
) -> None:
    """The run (or logged model) is in one of the unit's experiments; the same refusal when it
    is missing or another unit's, so the answer tells nothing about other units."""
    thing = "logged_model_id names no logged model" if logged_model_id else "run_id names no run"
    refusal = InvalidRequest(f"{thing} in this unit's MLflow experiments.")
    try:
        experiment = registry.experiment_of(run_id=run_id, logged_model_id=logged_model_id)
    except MlflowNotFound:
        raise refusal from None
    if claimed_unit(experiment, tenants=[tenant]) != tenant:
        raise refusal


def model_register_from_run(
    *,
    actor: Actor,
    tenant: Tenant,
    name: str,
    run_id: str = "",
    artifact_path: str = "",
    logged_model_id: str = "",
    registry: MlflowRegistry | None = None,
) -> CatalogJob:
    """Check a registration at once (the name, the source, that the run is the unit's) and queue
    it for a worker; refusals are a 400 here, MLflow's own answers land on the job."""
    _check_name(tenant=tenant, name=name)
    source = registration_source(
        run_id=run_id, artifact_path=artifact_path, logged_model_id=logged_model_id
    )
    _check_source(
        registry or MlflowRegistry(),
        tenant=tenant,
        run_id=run_id,
        logged_model_id=logged_model_id,
    )
    return _job_queue(
        actor=actor,
        tenant=tenant,
        kind=JobKind.REGISTRATION,
        name=name,
        source=source,
        run_id="" if logged_model_id else run_id,
    )


def model_assign(*, actor: Actor, name: str, tenant: Tenant) -> CatalogJob:
    """Give an unassigned MLflow model to a tenant: the portal records the owner now, and a
    worker tags the model in MLflow and syncs it in."""
    if not UnassignedModel.objects.filter(name=name).exists():
        raise NotFound(f"'{name}' is not in the list of unassigned models.")
    with transaction.atomic():
        record = ownership_claim(name=name, tenant=tenant, via=ClaimedVia.ASSIGNMENT, actor=actor)
        if record.tenant_id != tenant.pk:
            raise Conflict(f"'{name}' already belongs to {record.tenant.name}.")
        UnassignedModel.objects.filter(name=name).delete()
        audit_record(
            actor=actor,
            action="model.assigned",
            object_type="mlflow_model",
            object_id=name,
            tenant_id=tenant.pk,
            after={"name": name, "tenant": tenant.slug},
        )
        return _job_queue(actor=actor, tenant=tenant, kind=JobKind.ASSIGNMENT, name=name)


@transaction.atomic
def _job_queue(
    *, actor: Actor, tenant: Tenant, kind: str, name: str, source: str = "", run_id: str = ""
) -> CatalogJob:
    with tenant_scope(tenant):
        job = CatalogJob.objects.create(
            tenant=tenant,
            kind=kind,
            model_name=name,
            source=source,
            run_id=run_id,
            requested_by=asdict(actor),
        )
    # By name: the task module imports this one.
    current_app.tasks["catalog.run_job"].delay_on_commit(tenant_id=tenant.pk, job_id=job.pk)
    return job


# --- the queued part (inside the job's tenant scope, on a worker) ------------------------------


def catalog_job_run(*, job_id: int, registry: MlflowRegistry | None = None) -> CatalogJob | None:
    """Carry out a queued job; safe to run twice (a finished job is left alone, a version already
    created is not created again). ``MlflowUnavailable`` is left to the task to retry; MLflow's
    refusals and the portal's fail the job with their sentence."""
    job = CatalogJob.objects.filter(pk=job_id).first()
    if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return job
    if job.started_at is None:
        job.started_at = timezone.now()
    _progress(job, "started", status=JobStatus.RUNNING)
    registry = registry or MlflowRegistry()
    try:
        if job.kind == JobKind.REGISTRATION:
            _register(job, registry)
        else:
            _assign(job, registry)
    except MlflowUnavailable:
        raise
    except PortalError as error:
        return catalog_job_fail(job_id=job.pk, error=error.detail)
    return job


def catalog_job_fail(*, job_id: int, error: str) -> CatalogJob | None:
    job = CatalogJob.objects.filter(pk=job_id).first()
    if job is not None and job.status != JobStatus.SUCCEEDED:
        job.status, job.error, job.finished_at = JobStatus.FAILED, error, timezone.now()
        job.progress = "failed"
        job.save(update_fields=["status", "error", "finished_at", "progress"])
    return job


def catalog_job_wait(*, job_id: int, reason: str) -> None:
    """The job waits for a retry: back to queued, with the reason as its progress."""
    CatalogJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED, progress=f"waiting to retry: {reason}"[:200]
    )


def _progress(job: CatalogJob, progress: str, *, status: str = JobStatus.RUNNING) -> None:
    job.progress, job.status = progress, status
    job.save(update_fields=["progress", "status", "started_at", "version"])


def _actor(job: CatalogJob) -> Actor:
    return Actor(**job.requested_by)


def _register(job: CatalogJob, registry: MlflowRegistry) -> None:
    tenant, name = job.tenant, job.model_name
    if job.version is None:
        record = ownership_of(name)
        if record is None:
            try:
                existing = registry.get_model(name)
            except MlflowNotFound:
                existing = None
            if existing is not None and existing.tags.get(TENANT_TAG, tenant.slug) != tenant.slug:
                raise _refused_name(tenant)  # another unit's claim the portal has not synced yet
            record = ownership_claim(
                name=name, tenant=tenant, via=ClaimedVia.REGISTRATION, actor=_actor(job)
            )
        if record.tenant_id != tenant.pk:
            raise _refused_name(tenant)
        _progress(job, "registering in MLflow")
        source, run_id = job.source, job.run_id
        if source.startswith("models:/"):
            run_id = registry.logged_model_run(source.removeprefix("models:/"))
        else:
            # MLflow 3 logs a run's model as a logged model: register that, as MLflow does.
            path = source.removeprefix(f"runs:/{run_id}/")
            logged = registry.logged_model_of_run(run_id, path)
            if logged is not None:
                source = f"models:/{logged}"
        created = registry.create_version(
            name=name, source=source, run_id=run_id, tenant_slug=tenant.slug
        )
        job.source, job.version = source, created.version
        _progress(job, "bringing it into the catalog")
    _sync_in(job, registry)
    version = ModelVersion.objects.get(model__name=name, version=job.version)
    with transaction.atomic():
        _succeed(job)
        audit_record(
            actor=_actor(job),
            action="version.registered_from_portal",
            object_type="model_version",
            object_id=version.pk,
            tenant_id=tenant.pk,
            after={"model": name, "version": version.version, "source": job.source},
        )


def _assign(job: CatalogJob, registry: MlflowRegistry) -> None:
    _progress(job, "tagging it in MLflow")
    registry.set_model_tag(job.model_name, TENANT_TAG, job.tenant.slug)
    _progress(job, "bringing it into the catalog")
    _sync_in(job, registry)
    _succeed(job)


def _sync_in(job: CatalogJob, registry: MlflowRegistry) -> None:
    run = registry_sync(tenant=job.tenant, trigger=job.kind, only=job.model_name, registry=registry)
    if run is None:
        raise MlflowUnavailable("A sync of this unit is running; the job waits for it to end.")


def _succeed(job: CatalogJob) -> None:
    job.status, job.progress, job.finished_at = JobStatus.SUCCEEDED, "done", timezone.now()
    job.save(update_fields=["status", "progress", "finished_at", "source", "version"])
