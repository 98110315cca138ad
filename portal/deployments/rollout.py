"""Rolling revisions out, moving traffic between them, and rolling back.

An approved deployment is rolled out by ``rollout_start`` (a Celery task calls it after the
commit that approved it, with the ids of the tenant and the deployment): the target is asked to serve the revision, and ``rollout_advance``
(called by the target's watcher, or polled by a task) makes it live once the target reports it
ready, or failed. Going live moves the endpoint's traffic: a plain revision takes all of it and
the revisions it replaces stay warm (serving, without traffic) for ``ROLLBACK_GRACE_SECONDS``;
a canary takes its ``canary_weight`` and leaves the rest where it was; a shadow takes none and
gets a copy. It also sends ``signals.revision_live``, on which monitoring gives a revision whose
request asked for drift monitoring its monitor.

A suspended revision (``portal.deployments.workflow.suspending``) is stopped on its target like a
retired one (``revision_stop``); resuming it asks the target to serve it again
(``revision_serve_again``) and, on a cluster target, follows it until its server is ready.

``deployment_rollback`` gives the traffic back to the previous healthy revision, which is a
change of weights because that revision is still warm. A revision that fails its health checks
is rolled back on its own, and an incident is opened.

A target (KServe's API, SageMaker's, the local runtime) is an outside peer: it is never called
inside a transaction or while a revision's row is locked. A rollout moves the revision to
deploying in one transaction, asks the target with none open, and records the answer in another;
a look at a deploying revision asks first and locks after; a revision is stopped on its target
once the transaction that took it out of service has committed.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.services.incidents import incident_open
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict
from portal.core.outbox import enqueue_on_commit
from portal.deployments.models import Deployment, DeploymentState, Target
from portal.deployments.selectors import approval_in_force
from portal.deployments.services import deployment_transition
from portal.deployments.signals import revision_live
from portal.deployments.targets import (
    TargetError,
    TargetState,
    get_target,
    revision_target_name,
)
from tenants.scoping import tenant_scope

log = logging.getLogger(__name__)

SYSTEM = Actor.system("rollout")


def target_name(deployment: Deployment) -> str:
    return revision_target_name(
        tenant=deployment.tenant.slug, name=deployment.name, revision=deployment.revision
    )


def _locked(deployment_id: int) -> Deployment:
    return (
        Deployment.objects.select_for_update()
        .select_related("model_version__model", "tenant")
        .get(pk=deployment_id)
    )


def _endpoint(deployment: Deployment) -> list[Deployment]:
    """The endpoint's revisions, locked, newest first."""
    return list(
        Deployment.objects.select_for_update()
        .filter(name=deployment.name)
        .select_related("model_version__model", "tenant")
        .order_by("-revision")
    )


def _taking_traffic(deployment: Deployment) -> list[Deployment]:
    """The endpoint's live revisions that take a share of its traffic (shadows take a copy),
    locked, newest first."""
    return [
        r
        for r in _endpoint(deployment)
        if r.state == DeploymentState.LIVE and not r.shadow and r.traffic_weight
    ]


def _record_traffic(revisions: list[Deployment], why: str) -> None:
    for revision in revisions:
        revision.save(update_fields=["traffic_weight", "warm_until", "live_until"])
    first = revisions[0]
    audit_record(
        actor=SYSTEM,
        action="deployment.traffic",
        object_type="endpoint",
        object_id=first.name,
        tenant_id=first.tenant_id,
        after={
            "why": why,
            "weights": {
                f"r{r.revision}": r.traffic_weight
                for r in revisions
                if r.state == DeploymentState.LIVE
            },
        },
    )


def rollout_refusal(deployment: Deployment) -> str:
    """Why an approved deployment may not roll out now, or "" when it may."""
    outcome = (deployment.decision or {}).get("outcome")
    if deployment.model_version.tampered:
        return "The version's artifact files changed in MLflow after the portal recorded them."
    if outcome == "deny":
        return "The policy denied this deployment."
    if outcome != "allow" and approval_in_force(deployment) is None:
        return (
            "No approval covers this exact version and artifact any more; "
            "request the deployment again."
        )
    return ""


def _create_on_target(deployment: Deployment, name: str) -> dict[str, Any]:
    """Ask the revision's target to serve it as ``name``; raises ``TargetError``."""
    return get_target(deployment.target).create_deployment(
        name,
        deployment.model_version.source,
        flavor="python_function",
        config=_target_config(deployment),
    )


def rollout_start(*, tenant_id: int, deployment_id: int) -> str:
    """Ask the target to serve an approved revision; returns the deployment's state."""
    with tenant_scope(tenant_id):
        with transaction.atomic():
            deployment = _locked(deployment_id)
            if deployment.state != DeploymentState.APPROVED:
                return str(deployment.state)  # already rolled out, or no longer wanted
            refusal = rollout_refusal(deployment)
            if refusal:
                deployment_transition(
                    actor=SYSTEM, deployment=deployment, to="cancelled", reason=refusal
                )
                return str(deployment.state)
            name = target_name(deployment)
            deployment_transition(
                actor=SYSTEM,
                deployment=deployment,
                to="deploying",
                reason=f"Rolling out on {deployment.get_target_display()} as '{name}'.",
            )
        refused = ""
        try:
            reply = _create_on_target(deployment, name)
        except TargetError as error:
            reply, refused = {}, error.detail
        with transaction.atomic():
            deployment = _locked(deployment_id)
            if deployment.state != DeploymentState.DEPLOYING:
                if not refused:  # no longer wanted by the time the target answered
                    _stop_on_target(deployment)
                return str(deployment.state)
            if refused:
                _fail(deployment, f"The target refused the rollout: {refused}")
                return str(deployment.state)
            deployment.serving = {**deployment.serving, **reply, "target_name": name}
            deployment.save(update_fields=["serving"])
            return str(deployment.state)


def _target_config(deployment: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": deployment.pk,
        "tenant": deployment.tenant.slug,
        "revision": deployment.revision,
        "environment": deployment.environment,
        "instance_type": deployment.instance_type,
        "replicas": deployment.replicas,
    }


def rollout_advance(*, tenant_id: int, deployment_id: int) -> str:
    """Look at a deploying revision's target: live when ready, failed when it failed or timed out."""
    with tenant_scope(tenant_id):
        deployment = Deployment.objects.select_related("tenant").get(pk=deployment_id)
        if deployment.state != DeploymentState.DEPLOYING:
            return str(deployment.state)
        name = deployment.serving.get("target_name") or target_name(deployment)
        try:  # asked before anything is locked
            reply = get_target(deployment.target).get_deployment(name)
        except TargetError as error:
            reply = {"state": TargetState.PENDING, "message": error.detail}
        with transaction.atomic():
            return _advance(_locked(deployment_id), reply)


def _advance(deployment: Deployment, reply: dict[str, Any]) -> str:
    """Record what the target said about a deploying revision (its row locked)."""
    if deployment.state != DeploymentState.DEPLOYING:
        return str(deployment.state)  # decided by another look while the target answered
    deployment.serving = {**deployment.serving, **reply}
    deployment.save(update_fields=["serving"])
    waited = (timezone.now() - deployment.state_changed_at).total_seconds()
    if reply["state"] == TargetState.READY:
        _go_live(deployment)
    elif reply["state"] == TargetState.FAILED:
        _fail(deployment, reply.get("message") or "The target reported the revision failed.")
    elif waited > settings.SERVING_START_TIMEOUT_SECONDS:
        _fail(
            deployment,
            f"The revision did not become healthy within "
            f"{settings.SERVING_START_TIMEOUT_SECONDS} s: {reply.get('message', '')}",
        )
    return str(deployment.state)


def _go_live(deployment: Deployment) -> None:
    now = timezone.now()
    revisions = _endpoint(deployment)
    this = next(r for r in revisions if r.pk == deployment.pk)
    serving = [
        r for r in revisions if r.state == DeploymentState.LIVE and not r.shadow and r.pk != this.pk
    ]
    deployment_transition(actor=SYSTEM, deployment=this, to="live", reason="Healthy on its target.")
    this.live_from = now
    this.save(update_fields=["live_from"])
    if this.shadow:
        this.traffic_weight, why = 0, f"r{this.revision} receives a copy of the traffic (shadow)"
    elif this.canary_weight and any(r.traffic_weight for r in serving):
        # The canary takes its share from the revisions that have traffic, in proportion.
        this.traffic_weight = this.canary_weight
        _rescale([r for r in serving if r.traffic_weight], 100 - this.canary_weight)
        why = f"canary r{this.revision} takes {this.canary_weight}% of the traffic"
    else:
        this.traffic_weight, why = 100, f"r{this.revision} takes all the traffic"
        for replaced in serving:
            if replaced.traffic_weight:
                replaced.traffic_weight = 0
                replaced.warm_until = now + timedelta(seconds=settings.ROLLBACK_GRACE_SECONDS)
    deployment.state, deployment.traffic_weight = this.state, this.traffic_weight
    _record_traffic(revisions, why)
    revision_live.send(sender=Deployment, deployment=this, actor=SYSTEM)


def _rescale(revisions: list[Deployment], total: int) -> None:
    if not revisions:
        return
    weights = [r.traffic_weight for r in revisions]
    whole = sum(weights) or 1
    shares = [w * total // whole for w in weights]
    shares[0] += total - sum(shares)
    for revision, share in zip(revisions, shares, strict=True):
        revision.traffic_weight = share


def _fail(deployment: Deployment, message: str) -> None:
    """A rollout that failed: the revision never gets traffic, the target stops it, an incident."""
    deployment_transition(actor=SYSTEM, deployment=deployment, to="failed", reason=message)
    deployment.traffic_weight = 0
    deployment.serving = {**deployment.serving, "state": TargetState.FAILED, "message": message}
    deployment.save(update_fields=["traffic_weight", "serving"])
    _stop_on_target(deployment)
    _open_incident(
        deployment,
        f"Revision {deployment.revision} of '{deployment.name}' failed "
        "its health checks and was not rolled out",
        message,
    )


def _open_incident(deployment: Deployment, title: str, message: str) -> None:
    incident_open(
        actor=SYSTEM,
        tenant_id=deployment.tenant_id,
        title=title,
        severity="sev2" if deployment.environment == "production" else "sev3",
        description=message,
        source="rollout",
        model=deployment.model_version.model,
        deployment_id=deployment.pk,
    )


def _stop_on_target(deployment: Deployment) -> None:
    """Stop the revision on its target once the caller's transaction commits (the target is not
    called while rows are locked; a rolled-back change stops nothing)."""
    name = deployment.serving.get("target_name") or target_name(deployment)
    transaction.on_commit(functools.partial(_stop_now, deployment.target, name), robust=True)


def revision_stop(deployment: Deployment) -> None:
    """Stop a revision taken out of service (suspended) on its target, after the commit."""
    _stop_on_target(deployment)


def revision_serve_again(deployment: Deployment) -> None:
    """Ask the target to serve a resumed revision again once the caller's transaction commits;
    the gateway routes to it as soon as its server answers."""
    transaction.on_commit(
        functools.partial(_serve_again, deployment.tenant_id, deployment.pk), robust=True
    )


def _serve_again(tenant_id: int, deployment_id: int) -> None:
    with tenant_scope(tenant_id):
        deployment = Deployment.objects.select_related("model_version", "tenant").get(
            pk=deployment_id
        )
        if deployment.state != DeploymentState.LIVE:
            return  # suspended or retired again meanwhile
        name = deployment.serving.get("target_name") or target_name(deployment)
        try:
            reply = _create_on_target(deployment, name)
        except TargetError as error:
            reply = {"state": TargetState.FAILED, "message": f"Not served again: {error.detail}"}
        if deployment.target == Target.LOCAL and reply.get("state") != TargetState.FAILED:
            return  # the local target recorded it; the runtime reports from here on
        with transaction.atomic():
            deployment = _locked(deployment_id)
            if deployment.state == DeploymentState.LIVE:
                deployment.serving = {**deployment.serving, **reply, "target_name": name}
                deployment.save(update_fields=["serving"])
                if reply.get("state") == TargetState.PENDING:
                    # By the task's name, as a rollout is: the task module imports this one.
                    enqueue_on_commit(
                        "deployments.serving_check",
                        tenant_id=tenant_id,
                        deployment_id=deployment_id,
                    )


def revision_serving_refresh(*, tenant_id: int, deployment_id: int) -> str:
    """Ask the target how a resumed revision's server is doing and record it, while the revision
    is live; returns what the target said (pending, ready, failed), or "" when it is not live."""
    with tenant_scope(tenant_id):
        deployment = Deployment.objects.select_related("tenant").get(pk=deployment_id)
        if deployment.state != DeploymentState.LIVE:
            return ""
        name = deployment.serving.get("target_name") or target_name(deployment)
        try:  # asked before anything is locked
            reply = get_target(deployment.target).get_deployment(name)
        except TargetError as error:
            reply = {"state": TargetState.PENDING, "message": error.detail}
        with transaction.atomic():
            deployment = _locked(deployment_id)
            if deployment.state != DeploymentState.LIVE:
                return ""
            deployment.serving = {**deployment.serving, **reply}
            deployment.save(update_fields=["serving"])
        return str(reply["state"])


def _stop_now(kind: str, name: str) -> None:
    try:
        get_target(kind).delete_deployment(name)
    except TargetError as error:  # the revision is already out of the traffic; say so and go on
        log.warning("Could not stop %s on %s: %s", name, kind, error.detail)


def revision_unhealthy(*, tenant_id: int, deployment_id: int, message: str) -> None:
    """A live revision's server failed for good: roll the endpoint back if it had traffic."""
    with tenant_scope(tenant_id), transaction.atomic():
        deployment = _locked(deployment_id)
        if deployment.state == DeploymentState.DEPLOYING:
            _fail(deployment, message)
            return
        if deployment.state != DeploymentState.LIVE:
            return
        serving = _taking_traffic(deployment)
        if serving and serving[0].pk == deployment.pk:
            try:
                _rollback(deployment, actor=SYSTEM, reason=message, automatic=True)
            except Conflict as error:
                message = f"{message} It could not be rolled back: {error.detail}"
        elif deployment.traffic_weight:
            others = [r for r in serving if r.pk != deployment.pk]
            _rescale(others, 100)
            deployment.traffic_weight = 0
            _record_traffic([*others, deployment], f"r{deployment.revision} failed")
        deployment.refresh_from_db()
        if deployment.state == DeploymentState.LIVE:
            deployment_transition(actor=SYSTEM, deployment=deployment, to="failed", reason=message)
            deployment.traffic_weight, deployment.live_until = 0, timezone.now()
            deployment.save(update_fields=["traffic_weight", "live_until"])
        _open_incident(
            deployment,
            f"Revision {deployment.revision} of '{deployment.name}' failed its health checks",
            message,
        )


@transaction.atomic
def deployment_rollback(*, actor: Actor, deployment: Deployment, reason: str = "") -> Deployment:
    """Give the endpoint's traffic back to its previous healthy revision; returns that revision."""
    with tenant_scope(deployment.tenant_id):
        return _rollback(deployment, actor=actor, reason=reason, automatic=False)


def _rollback(deployment: Deployment, *, actor: Actor, reason: str, automatic: bool) -> Deployment:
    now = timezone.now()
    revisions = _endpoint(deployment)
    live = [r for r in revisions if r.state == DeploymentState.LIVE and not r.shadow]
    serving = [r for r in live if r.traffic_weight]
    if not serving:
        raise Conflict(f"Nothing serves traffic on '{deployment.name}', so nothing rolls back.")
    newest = serving[0]
    older = [
        r
        for r in live
        if r.revision < newest.revision
        and r.serving.get("state") == TargetState.READY
        and (r.traffic_weight or r.warm_until is None or r.warm_until > now)
    ]
    if not older:
        raise Conflict(
            f"No earlier revision of '{deployment.name}' is still warm (a replaced revision stays "
            f"warm for {settings.ROLLBACK_GRACE_SECONDS // 60} minutes); request a deployment "
            "of the version you want to return to."
        )
    back_to = older[0]
    deployment_transition(
        actor=actor,
        deployment=newest,
        to="rolled_back",
        reason=reason or f"Rolled back to revision {back_to.revision}.",
        extra={"to_revision": back_to.revision, "automatic": automatic},
    )
    for revision in live:
        revision.traffic_weight = 0
    newest.live_until = now
    back_to.traffic_weight, back_to.warm_until = 100, None
    _record_traffic(revisions, f"rolled back from r{newest.revision} to r{back_to.revision}")
    _stop_on_target(newest)
    return back_to


def retire_warm_revisions(now: datetime | None = None) -> int:
    """Retire replaced revisions whose grace period is over; returns how many."""
    now = now or timezone.now()
    due = list(
        Deployment.objects.dangerously_across_tenants()
        .filter(state=DeploymentState.LIVE, traffic_weight=0, shadow=False, warm_until__lt=now)
        .values_list("pk", "tenant_id")
    )
    for deployment_id, tenant_id in due:
        with tenant_scope(tenant_id), transaction.atomic():
            deployment = _locked(deployment_id)
            if deployment.state != DeploymentState.LIVE or deployment.traffic_weight:
                continue
            deployment_transition(
                actor=SYSTEM,
                deployment=deployment,
                to="retired",
                reason="Replaced, and its rollback grace period is over.",
            )
            deployment.live_until = now
            deployment.save(update_fields=["live_until"])
            _stop_on_target(deployment)
    return len(due)


def revision_withdraw(*, actor: Actor, deployment: Deployment, reason: str) -> None:
    """Take a live revision out of service (reviewers rejected it): the traffic goes back to the
    previous warm revision when there is one, else the revision is retired and stops. A
    suspended revision is retired (its server is already stopped)."""
    with tenant_scope(deployment.tenant_id):
        deployment = _locked(deployment.pk)
        if deployment.state == DeploymentState.SUSPENDED:
            _retire_suspended(deployment, actor=actor, reason=reason)
            return
        if deployment.state != DeploymentState.LIVE:
            return
        serving = _taking_traffic(deployment)
        if serving and serving[0].pk == deployment.pk:
            try:
                _rollback(deployment, actor=actor, reason=reason, automatic=False)
                return
            except Conflict:
                pass  # nothing warm to go back to: the endpoint stops serving
        elif deployment.traffic_weight:
            _rescale([r for r in serving if r.pk != deployment.pk], 100)
        deployment.refresh_from_db()
        deployment_transition(actor=actor, deployment=deployment, to="retired", reason=reason)
        deployment.traffic_weight, deployment.live_until = 0, timezone.now()
        deployment.save(update_fields=["traffic_weight", "live_until"])
        for other in serving:
            if other.pk != deployment.pk:
                other.save(update_fields=["traffic_weight"])
        _stop_on_target(deployment)


def _retire_suspended(deployment: Deployment, *, actor: Actor, reason: str) -> None:
    now = timezone.now()
    deployment.suspensions.filter(ended_at__isnull=True).update(ended_at=now)
    deployment_transition(actor=actor, deployment=deployment, to="retired", reason=reason)
    deployment.live_until = now
    deployment.save(update_fields=["live_until"])
