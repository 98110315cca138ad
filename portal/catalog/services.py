"""Changes people make to the catalog: metadata, registering a run's model, assigning a model."""

from __future__ import annotations

import re

from django.db import transaction

from governance.audit import Actor, apply_updates, audit_record
from portal.catalog.mlflow_adapter import TENANT_TAG, MlflowNotFound, MlflowRegistry
from portal.catalog.models import ModelVersion, RegisteredModel, UnassignedModel
from portal.catalog.sync import registry_sync, tenant_sync_model
from portal.errors import Conflict, InvalidRequest, NotFound
from tenants.models import Tenant

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


def model_register_from_run(
    *,
    actor: Actor,
    tenant: Tenant,
    name: str,
    run_id: str = "",
    artifact_path: str = "",
    logged_model_id: str = "",
    registry: MlflowRegistry | None = None,
) -> ModelVersion:
    """Register a run's model (or a logged model) as a new version under the tenant's tag."""
    if not MODEL_NAME.match(name or ""):
        raise InvalidRequest(
            "name must start with a letter or digit and use only letters, digits, '.', '_' and '-' "
            "(at most 200 characters)."
        )
    source = registration_source(
        run_id=run_id, artifact_path=artifact_path, logged_model_id=logged_model_id
    )
    registry = registry or MlflowRegistry()
    try:
        existing = registry.get_model(name)
    except MlflowNotFound:
        existing = None
    if existing is not None and existing.tags.get(TENANT_TAG) not in (None, tenant.slug):
        raise Conflict(f"The model name '{name}' is taken; choose another name.")
    if existing is not None and TENANT_TAG not in existing.tags:
        raise Conflict(
            f"'{name}' exists in MLflow but belongs to no unit; ask a platform admin to assign it."
        )
    try:
        if logged_model_id:
            run_id = registry.logged_model_run(logged_model_id)
        else:
            registry.run_artifact_root(run_id)
            # MLflow 3 logs a run's model as a logged model: register that, as MLflow does.
            logged = registry.logged_model_of_run(run_id, artifact_path or "model")
            if logged is not None:
                source = f"models:/{logged}"
    except MlflowNotFound:
        missing = f"logged model '{logged_model_id}'" if logged_model_id else f"run '{run_id}'"
        raise InvalidRequest(f"MLflow has no {missing}.") from None
    created = registry.create_version(
        name=name, source=source, run_id=run_id, tenant_slug=tenant.slug
    )
    registry_sync(tenant=tenant, trigger="api", only=name, registry=registry)
    version = ModelVersion.objects.select_related("model").get(
        model__name=name, version=created.version
    )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="version.registered_from_portal",
            object_type="model_version",
            object_id=version.pk,
            tenant_id=tenant.pk,
            after={"model": name, "version": version.version, "source": source},
        )
    return version


def model_assign(
    *, actor: Actor, name: str, tenant: Tenant, registry: MlflowRegistry | None = None
) -> None:
    """Give an unassigned MLflow model to a tenant: tag it in MLflow, then sync it in."""
    registry = registry or MlflowRegistry()
    if not UnassignedModel.objects.filter(name=name).exists():
        raise NotFound(f"'{name}' is not in the list of unassigned models.")
    registry.set_model_tag(name, TENANT_TAG, tenant.slug)
    with transaction.atomic():
        UnassignedModel.objects.filter(name=name).delete()
        audit_record(
            actor=actor,
            action="model.assigned",
            object_type="mlflow_model",
            object_id=name,
            tenant_id=tenant.pk,
            after={"name": name, "tenant": tenant.slug},
        )
    tenant_sync_model(name=name, trigger="assignment", registry=registry)
