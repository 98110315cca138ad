"""Which unit a registered model belongs to: the portal's record, never MLflow's word.

MLflow has no access control of its own over tags, so its ``portal.tenant`` tag (and a name under
a unit's prefix) is a *claim*. The first claim the portal accepts is recorded in
``ModelOwnership`` (by the sync for a tag or prefix, by a platform admin's assignment, by a
registration from the portal) and decides from then on:

- a model whose tag later names another unit stays with its owner; the disagreement is kept on the
  record as a conflict for platform admins and audited on the owner's chain, once when it appears
  and once when MLflow agrees again;
- a model already recorded for one unit is never brought into another, whatever its tags say.

What this cannot stop: a model *created* in MLflow with a unit's tag before anyone else claimed it
is taken in by that unit, because a first tag is how units register models in MLflow today. The
portal's own registration refuses runs from other units' experiments; MLflow's authentication
(see the README) is what keeps people from writing into models and experiments not theirs.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.catalog.mlflow_adapter import TENANT_TAG, MlflowExperiment, MlflowModel
from portal.catalog.models import ClaimedVia, ModelOwnership
from portal.core.audit import Actor, audit_record
from tenants.models import Tenant

OWNERSHIP_ACTOR = Actor.system("mlflow sync")


def claimed_unit(
    model: MlflowModel | MlflowExperiment, *, tenants: Iterable[Tenant]
) -> Tenant | None:
    """The unit MLflow says a model (or an experiment) belongs to: its ``portal.tenant`` tag
    first, else the longest name prefix."""
    tenants = list(tenants)
    tagged = model.tags.get(TENANT_TAG)
    if tagged:
        return next((t for t in tenants if t.slug == tagged), None)
    prefixed = [
        t for t in tenants if t.mlflow_name_prefix and model.name.startswith(t.mlflow_name_prefix)
    ]
    return max(prefixed, key=lambda t: len(t.mlflow_name_prefix), default=None)


def ownership_of(name: str) -> ModelOwnership | None:
    return ModelOwnership.objects.select_related("tenant").filter(name=name).first()


def model_owner(model: MlflowModel, *, tenants: Iterable[Tenant]) -> Tenant | None:
    """The unit that has (or would get, on its next sync) the model: the record, else the claim."""
    record = ownership_of(model.name)
    if record is not None:
        return record.tenant
    return claimed_unit(model, tenants=tenants)


def ownership_claim(*, name: str, tenant: Tenant, via: str, actor: Actor) -> ModelOwnership:
    """Record ``tenant`` as the owner of ``name`` unless a unit already is; returns the record."""
    try:
        with transaction.atomic():
            record = ModelOwnership.objects.create(name=name, tenant=tenant, claimed_via=via)
            audit_record(
                actor=actor,
                action="model.claimed",
                object_type="mlflow_model",
                object_id=name,
                tenant_id=tenant.pk,
                after={"name": name, "owner": tenant.slug, "via": via},
            )
            return record
    except IntegrityError:  # claimed first by someone else
        return ModelOwnership.objects.select_related("tenant").get(name=name)


def ownership_records(names: Iterable[str]) -> dict[str, ModelOwnership]:
    """The records of ``names`` that exist, by name, in one query."""
    found = ModelOwnership.objects.select_related("tenant").filter(name__in=list(names))
    return {record.name: record for record in found}


def ownership_settle(
    model: MlflowModel, *, tenant: Tenant, records: dict[str, ModelOwnership] | None = None
) -> bool:
    """Whether the sync of ``tenant`` takes ``model`` in: the portal's record decides.

    A model nobody owns yet is recorded for ``tenant`` when its tag or prefix claims it for
    ``tenant``. Whatever the answer, a tag that contradicts the record is flagged on it.
    ``records`` are the records already read for a batch of models (``ownership_records``); a
    name missing from them has none.
    """
    record = records.get(model.name) if records is not None else ownership_of(model.name)
    if record is None:
        if claimed_unit(model, tenants=[tenant]) != tenant:
            return False
        via = ClaimedVia.TAG if model.tags.get(TENANT_TAG) else ClaimedVia.PREFIX
        record = ownership_claim(name=model.name, tenant=tenant, via=via, actor=OWNERSHIP_ACTOR)
    _flag_conflict(record, model)
    return record.tenant_id == tenant.pk


def _flag_conflict(record: ModelOwnership, model: MlflowModel) -> None:
    tagged = model.tags.get(TENANT_TAG, "")
    conflicting = tagged if tagged and tagged != record.tenant.slug else ""
    if conflicting == record.conflicting_tag:
        return
    with transaction.atomic():
        before = {"owner": record.tenant.slug, "claimed_by_tag": record.conflicting_tag}
        record.conflicting_tag = conflicting
        record.conflict_since = timezone.now() if conflicting else None
        record.save(update_fields=["conflicting_tag", "conflict_since"])
        audit_record(
            actor=OWNERSHIP_ACTOR,
            action="model.ownership_conflict"
            if conflicting
            else "model.ownership_conflict_resolved",
            object_type="mlflow_model",
            object_id=record.name,
            tenant_id=record.tenant_id,
            before=before,
            after={"owner": record.tenant.slug, "claimed_by_tag": conflicting},
        )


def ownership_conflicts() -> QuerySet[ModelOwnership]:
    """Models whose MLflow tag names another unit than the portal's record (platform admins)."""
    return (
        ModelOwnership.objects.filter(conflict_since__isnull=False)
        .select_related("tenant")
        .order_by("-conflict_since", "name")
    )


def owned_names() -> set[str]:
    return set(ModelOwnership.objects.values_list("name", flat=True))
