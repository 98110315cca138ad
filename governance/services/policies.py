"""Publishing policy versions, choosing the one in force, and deciding deployment requests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from governance import policy_limits
from governance.models import PolicyVersion
from governance.policy import Decision, ParsedPolicy, PolicyInvalid, policy_evaluate, policy_parse
from governance.services.cards import card_summary
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest, NotFound
from tenants.models import Tenant, User

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
NO_MONITOR: dict[str, Any] = {
    "endpoint": "",
    "exists": False,
    "enabled": False,
    "last_run_at": "",
    "last_verdict": "",
}


@lru_cache(maxsize=64)
def _parsed(document_hash: str, document: str) -> ParsedPolicy:
    return policy_parse(document, strict=False)


def policy_parsed(version: PolicyVersion) -> ParsedPolicy:
    """The compiled rules of a stored version (cached by content hash); it was checked in full
    when it was published, and the evaluation budget bounds it on every request."""
    return _parsed(version.content_hash, version.document)


def _check_tenant_overlap(parsed: ParsedPolicy) -> None:
    """Each tenant is covered by at most one policy of its own, and one policy covers the rest."""
    others = (
        PolicyVersion.objects.exclude(name=parsed.name)
        .values("name")
        .annotate(newest=Max("version"))
    )
    for row in others:
        other = PolicyVersion.objects.get(name=row["name"], version=row["newest"])
        if not parsed.tenants and not other.tenants:
            raise Conflict(
                f"The policy '{other.name}' already applies to every tenant; publish a new "
                f"version of it, or list the tenants this policy is for."
            )
        shared = set(parsed.tenants) & set(other.tenants)
        if shared:
            raise Conflict(
                f"The policy '{other.name}' already covers {', '.join(sorted(shared))}; a tenant "
                "can have only one policy of its own."
            )


@transaction.atomic
def policy_publish(
    *, actor: Actor, document: str, source: str = "api", note: str = "", user: User | None = None
) -> PolicyVersion:
    """Store a new version of a policy after it parses and compiles; refuse it otherwise.

    The version in force does not change when the document is refused.
    """
    parsed = policy_parse(document)
    _check_tenant_overlap(parsed)
    versions = PolicyVersion.objects.select_for_update().filter(name=parsed.name)
    newest = versions.order_by("-version").first()
    if newest is not None and newest.content_hash == parsed.content_hash:
        raise Conflict(f"This document is already version {newest.version} of '{parsed.name}'.")
    try:
        with transaction.atomic():
            version = PolicyVersion.objects.create(
                name=parsed.name,
                version=(newest.version + 1) if newest else 1,
                document=document,
                content_hash=parsed.content_hash,
                tenants=list(parsed.tenants),
                description=parsed.description,
                source=source,
                note=note[:500],
                published_by=user,
                published_by_label=actor.label,
            )
    except IntegrityError:
        raise Conflict(
            f"Another version of '{parsed.name}' was published at the same moment; look at the "
            "newest version and publish again."
        ) from None
    audit_record(
        actor=actor,
        action="policy.published",
        object_type="policy_version",
        object_id=version.pk,
        tenant_id=None,
        before={"version": newest.version, "content_hash": newest.content_hash} if newest else None,
        after={
            "name": version.name,
            "version": version.version,
            "content_hash": version.content_hash,
            "source": source,
            "tenants": version.tenants,
        },
    )
    return version


def policy_load_from_repo(*, actor: Actor | None = None) -> list[PolicyVersion]:
    """Load ``governance/policies/*.yaml``: a file whose content is not a stored version yet
    becomes the newest version of its policy. Returns the versions created."""
    actor = actor or Actor.system("policy loader")
    created = []
    for path in sorted(POLICY_DIR.glob("*.yaml")):
        document = path.read_text()
        parsed = policy_parse(document, strict=False)  # publishing checks it in full
        if PolicyVersion.objects.filter(
            name=parsed.name, content_hash=parsed.content_hash
        ).exists():
            continue
        try:
            created.append(
                policy_publish(
                    actor=actor, document=document, source=f"repo:governance/policies/{path.name}"
                )
            )
        except Conflict:
            continue  # loaded by a concurrent first use
    return created


def policy_in_force(tenant: Tenant) -> PolicyVersion:
    """The newest version of the tenant's own policy, else of the policy for every tenant."""
    newest = PolicyVersion.objects.values("name").annotate(newest=Max("version"))
    if not newest:
        policy_load_from_repo()
        newest = PolicyVersion.objects.values("name").annotate(newest=Max("version"))
    current = [PolicyVersion.objects.get(name=row["name"], version=row["newest"]) for row in newest]
    own = [v for v in current if tenant.slug in v.tenants]
    general = [v for v in current if not v.tenants]
    chosen = own or general
    if not chosen:
        raise NotFound(
            "No approval policy applies to this tenant; a governance lead must publish one."
        )
    return chosen[0]


def policy_decide(*, tenant: Tenant, context: dict[str, Any]) -> tuple[PolicyVersion, Decision]:
    version = policy_in_force(tenant)
    return version, policy_evaluate(policy_parsed(version), context)


def policy_dry_run(
    *, context: dict[str, Any], document: str | None = None, tenant: Tenant | None = None
) -> tuple[PolicyVersion | None, Decision]:
    """Evaluate a hypothetical request, given as a whole context, against a draft document or the
    policy in force; a context over the caps of ``governance.policy_limits`` is refused."""
    try:
        policy_limits.context_check(context)
    except policy_limits.TooLarge as error:
        raise InvalidRequest(policy_limits.context_problem(error)) from None
    return policy_dry_run_trusted(context=context, document=document, tenant=tenant)


def policy_dry_run_trusted(
    *, context: dict[str, Any], document: str | None, tenant: Tenant | None
) -> tuple[PolicyVersion | None, Decision]:
    """``policy_dry_run`` of a context the portal built itself, which stays within the caps."""
    if document:
        return None, policy_evaluate(policy_parse(document), context)
    if tenant is None:
        raise PolicyInvalid("Give a tenant (to use its policy in force) or a policy document.")
    return policy_decide(tenant=tenant, context=context)


def policy_context(
    *,
    tenant: Tenant,
    version: ModelVersion,
    environment: str,
    target: str,
    instance_type: str,
    replicas: int,
    drift_monitor: bool,
    monitor: dict[str, Any] | None = None,
    cost: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The request context a policy sees (documented in ``governance.policy.CONTEXT_FIELDS``);
    ``monitor`` is what the deployments app knows of the endpoint's drift monitor (governance
    does not read monitoring), ``cost`` the planned deployment's estimate, None when no source
    prices it."""
    metrics = {
        str(k): float(v)
        for k, v in (version.metrics or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return {
        "tenant": tenant.slug,
        "model": version.model.name,
        "version": version.version,
        "tier": version.model.risk_tier,
        "environment": environment,
        "target": target,
        "instance_type": instance_type,
        "replicas": replicas,
        "metrics": metrics,
        "tags": {str(k): str(v) for k, v in (version.mlflow_tags or {}).items()},
        "model_card": card_summary(version),
        "drift_monitor": drift_monitor,
        "monitor": {**NO_MONITOR, **(monitor or {}), "requested": drift_monitor},
        "cost": cost or {"known": False, "hourly": 0.0, "monthly": 0.0, "currency": ""},
    }
