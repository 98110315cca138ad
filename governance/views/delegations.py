"""Governance leads' delegations: every delegation, a form to name a delegate, and ending one.

Open to governance leads and platform admins; only a lead names a delegate (for themselves).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.forms import DelegationForm
from governance.selectors import delegations_visible_to
from governance.services.delegations import delegation_create, delegation_end
from portal.core.audit import Actor
from portal.core.errors import NotAllowed, PortalError
from portal.core.paging import paginate
from tenants.access import GOVERNANCE_ROLES
from tenants.models import PlatformRole
from tenants.routing import platform_page

governance_only = platform_page(
    GOVERNANCE_ROLES, "Delegations are open to governance leads and platform admins."
)


@login_required
@governance_only
def delegation_list(request: HttpRequest) -> HttpResponse:
    is_lead = request.user.platform_role == PlatformRole.GOVERNANCE_LEAD  # type: ignore[union-attr]
    form = DelegationForm(request.POST or None, lead=request.user)
    status = 200
    if request.method == "POST":
        if not is_lead:
            raise PermissionDenied("Only governance leads name a delegate.")
        status = 400
        if form.is_valid():
            given = form.cleaned_data
            try:
                delegation = delegation_create(
                    actor=Actor.user(request.user),
                    lead=request.user,  # type: ignore[arg-type]
                    delegate=given["delegate"],
                    starts_at=given["starts_at"],
                    ends_at=given["ends_at"],
                    note=given["note"],
                )
            except PortalError as problem:
                form.add_error(None, problem.detail)
                status = problem.status_code
            else:
                messages.success(
                    request,
                    f"{delegation.delegate.get_username()} receives your approval reminders "
                    f"from {delegation.starts_at:%Y-%m-%d %H:%M} until "
                    f"{delegation.ends_at:%Y-%m-%d %H:%M} UTC.",
                )
                return redirect("approval-delegations")
    listing = paginate(request, delegations_visible_to(request.user))
    return render(
        request,
        "governance/delegations.html",
        {"form": form, "is_lead": is_lead, **listing},
        status=status,
    )


@require_POST
@login_required
@governance_only
def delegation_end_now(request: HttpRequest, delegation_id: int) -> HttpResponse:
    delegation = delegations_visible_to(request.user).filter(pk=delegation_id).first()
    if delegation is None:
        raise Http404("No such delegation.")
    try:
        delegation_end(
            actor=Actor.user(request.user),
            delegation=delegation,
            by=request.user,  # type: ignore[arg-type]
        )
    except NotAllowed as problem:
        raise PermissionDenied(problem.detail) from None
    except PortalError as problem:
        messages.error(request, problem.detail)
    else:
        messages.success(
            request, f"The delegation to {delegation.delegate.get_username()} has ended."
        )
    return redirect("approval-delegations")
