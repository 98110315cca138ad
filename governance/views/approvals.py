"""The governance queue: a cross-tenant read filtered by what the person may see
(``governance.selectors.visible_approvals``).

One request's page, where reviewers decide, is ``portal.deployments.views.workflow``'s.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.forms import ApprovalFilterForm
from governance.models import ApprovalState
from governance.selectors import approvals_listed
from portal.paging import paginate
from tenants.selectors import tenants_visible_to


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
