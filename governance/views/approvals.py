"""The governance queue and one approval request, where reviewers decide.

The queue is a cross-tenant read filtered by what the person may see
(``governance.api.approvals.visible_approvals``); a request outside it is a 404, the same as a
missing one. Everything about one request is read and decided inside its tenant's scope.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from governance.api.approvals import approvals_listed, visible_approvals
from governance.audit import Actor
from governance.forms import ApprovalFilterForm, DecisionForm
from governance.models import ApprovalRequest, ApprovalState, CardStatus, Verdict
from governance.policy import APPROVER_ROLES
from governance.services.approvals import approval_counts, requirements_text, reviewer_roles
from governance.services.cards import card_summary
from portal.deployments.services import cost_estimate
from portal.deployments.workflow import approval_decide, approval_withdraw
from portal.errors import NotAllowed, PortalError
from portal.paging import paginate
from tenants.models import Membership, TenantRole
from tenants.scoping import tenant_scope
from tenants.selectors import tenants_visible_to

DONE = {
    Verdict.APPROVE: "Your approval is recorded.",
    Verdict.REJECT: "You rejected the request; the unit is told why.",
    Verdict.REQUEST_CHANGES: "You asked for changes; the unit is told what to change.",
}


@login_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    if "state" not in data:
        data["state"] = ApprovalState.PENDING
    form = ApprovalFilterForm(data, tenants=tenants_visible_to(request.user))
    approvals = approvals_listed(request.user)
    if form.is_valid():
        if text := form.cleaned_data["q"].strip():
            approvals = approvals.filter(
                Q(model_version__model__name__icontains=text)
                | Q(requested_by_label__icontains=text)
            )
        if state := form.cleaned_data["state"]:
            approvals = approvals.filter(state=state)
        if tier := form.cleaned_data["risk_tier"]:
            approvals = approvals.filter(risk_tier=tier)
        if slug := form.cleaned_data["tenant"]:
            approvals = approvals.filter(tenant__slug=slug)
    else:
        approvals = approvals.none()
    listing = paginate(request, approvals.order_by("risk_rank", "created_at", "id"), data=data)
    return render(
        request,
        "governance/approval_queue.html",
        {"form": form, **listing},
    )


def _visible_approval(request: HttpRequest, approval_id: int) -> ApprovalRequest:
    approval = visible_approvals(request.user).filter(pk=approval_id).first()
    if approval is None:
        raise Http404("No such approval request.")
    return approval


def _is_tenant_owner(user: Any) -> bool:
    """Whether ``user`` owns the tenant in scope."""
    return Membership.objects.filter(user_id=user.pk, role=TenantRole.OWNER).exists()


def _decide(request: HttpRequest, approval: ApprovalRequest, form: DecisionForm) -> str:
    """Record the person's verdict; returns the message to show once it is recorded."""
    verdict = form.cleaned_data["verdict"]
    approval = approval_decide(
        actor=Actor.user(request.user),
        reviewer=request.user,
        approval=approval,
        verdict=verdict,
        comment=form.cleaned_data["comment"].strip(),
    )
    if approval.state == ApprovalState.APPROVED:
        return "The request is approved: every approval it needs is in."
    return DONE[verdict]


def _withdraw(request: HttpRequest, approval: ApprovalRequest) -> str:
    if approval.requested_by_id != request.user.pk and not _is_tenant_owner(request.user):
        raise NotAllowed("Only the requester or an owner of the unit can withdraw it.")
    approval_withdraw(actor=Actor.user(request.user), approval=approval)
    return "The request is withdrawn and its deployment cancelled."


def _progress(approval: ApprovalRequest) -> list[dict[str, Any]]:
    counts = approval_counts(approval)
    return [
        {"role": APPROVER_ROLES.get(role, role), "have": counts.get(role, 0), "need": need}
        for role, need in approval.requirements.items()
    ]


def _page_context(request: HttpRequest, approval: ApprovalRequest) -> dict[str, Any]:
    user = request.user
    deployment, version = approval.deployment, approval.model_version
    decisions = list(approval.decisions.all())
    mine = next((d for d in decisions if d.reviewer_id == user.pk), None)
    is_requester = approval.requested_by_id is not None and approval.requested_by_id == user.pk
    can_decide = (
        approval.state == ApprovalState.PENDING
        and not is_requester
        and mine is None
        and bool(reviewer_roles(user, approval))
    )
    return {
        "approval": approval,
        "tenant": approval.tenant,
        "deployment": deployment,
        "version": version,
        "needs": requirements_text(approval.requirements),
        "progress": _progress(approval),
        "decisions": decisions,
        "my_decision": mine,
        "is_requester": is_requester,
        "can_decide": can_decide,
        "can_withdraw": approval.is_open and (is_requester or _is_tenant_owner(user)),
        "cost": cost_estimate(
            environment=deployment.environment,
            target=deployment.target,
            instance_type=deployment.instance_type,
            replicas=deployment.replicas,
            drift_monitor=deployment.drift_monitor,
            tenant=approval.tenant,
        ),
        "card": _card(version),
    }


def _card(version: Any) -> dict[str, Any]:
    summary = card_summary(version)
    status = summary["status"]
    summary["status_label"] = (
        CardStatus(status).label if status in CardStatus.values else "Not started"
    )
    return summary


@login_required
def approval_page(request: HttpRequest, approval_id: int) -> HttpResponse:
    """One request: what is asked, why the policy wants approval, the evidence, the decisions."""
    approval = _visible_approval(request, approval_id)
    withdrawing = request.method == "POST" and request.POST.get("action") == "withdraw"
    form = DecisionForm(request.POST if request.method == "POST" and not withdrawing else None)
    error, status = "", 200
    with tenant_scope(approval.tenant):
        if request.method == "POST":
            try:
                if withdrawing:
                    done = _withdraw(request, approval)
                elif form.is_valid():
                    done = _decide(request, approval, form)
                else:
                    done, status = "", 400
            except PortalError as problem:
                error, status = problem.detail, problem.status_code
            else:
                if done:
                    messages.success(request, done)
                    return redirect("approval-page", approval_id=approval.pk)
            # Re-read: a refused verdict may still have changed the request (superseded).
            approval = _visible_approval(request, approval_id)
        context = {**_page_context(request, approval), "form": form, "error": error}
        return render(request, "governance/approval.html", context, status=status)
