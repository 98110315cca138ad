"""The audit trail across tenants, for governance leads and platform admins, with the latest
verification of its sealed chains and a way to verify them now."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.audit import audit_verification_run
from governance.filters import AUDIT_PAGE_FILTERS, AuditFilter
from governance.models import AuditVerification
from governance.selectors import AUDIT_READERS, audit_events_across_tenants
from portal.core.paging import paginate
from tenants.models import Tenant
from tenants.routing import platform_page

PAGE_SIZE = 50


audit_readers_only = platform_page(
    AUDIT_READERS, "The audit trail is open to governance leads and platform admins."
)


@login_required
@audit_readers_only
def audit_trail(request: HttpRequest) -> HttpResponse:
    filters = AuditFilter(
        request.GET or None,
        queryset=audit_events_across_tenants(),
        units=Tenant.objects.all(),
        only=AUDIT_PAGE_FILTERS,
    )
    listing = paginate(request, filters.listed(), per_page=PAGE_SIZE)
    return render(
        request,
        "governance/audit.html",
        {
            "form": filters.form,
            **listing,
            "verification": AuditVerification.objects.order_by("-started_at").first(),
        },
    )


@require_POST
@login_required
@audit_readers_only
def audit_verify_now(request: HttpRequest) -> HttpResponse:
    run = audit_verification_run()
    if run.ok:
        messages.success(
            request,
            f"The audit trail is intact: {run.events_checked} events in "
            f"{run.chains_checked} chains verified.",
        )
    else:
        messages.error(
            request, f"{len(run.failures)} chain(s) are broken; see the verification below."
        )
    return redirect("audit-trail")
