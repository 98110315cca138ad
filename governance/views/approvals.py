"""The governance queue: a cross-tenant read filtered by what the person may see
(``governance.selectors.visible_approvals``).

One request's page, where reviewers decide, is ``portal.deployments.views.workflow``'s.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.filters import APPROVAL_PAGE_FILTERS, ApprovalFilter
from governance.models import ApprovalState
from governance.selectors import approvals_listed
from portal.core.paging import paginate
from tenants.selectors import tenants_visible_to


@login_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    if "state" not in data:
        data["state"] = ApprovalState.PENDING
    filters = ApprovalFilter(
        data,
        queryset=approvals_listed(request.user).order_by("risk_rank", "created_at", "id"),
        units=tenants_visible_to(request.user),
        only=APPROVAL_PAGE_FILTERS,
    )
    listing = paginate(request, filters.listed(), data=data)
    return render(
        request,
        "governance/approval_queue.html",
        {"form": filters.form, **listing},
    )
