"""A unit's overview: its members, its service tokens and, for those who manage, govern or
administer it, the latest events of its audit trail. The page sits with governance, which owns the
trail; tenants' pages (tokens) link back to it by name."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from governance.models import AuditEvent
from tenants.forms import TokenCreateForm
from tenants.models import Membership, ServiceToken
from tenants.routing import TenantRequest, tenant_page


def _overview_context(request: TenantRequest) -> dict:
    can_see_activity = {"manage", "govern", "administer"} & request.capabilities
    return {
        "tenant": request.tenant,
        "can_manage": "manage" in request.capabilities,
        "members": Membership.objects.select_related("user").order_by("user__username"),
        "tokens": ServiceToken.objects.select_related("created_by").order_by("-created_at")[:50],
        "activity": AuditEvent.objects.order_by("-sequence")[:15] if can_see_activity else None,
        "token_form": TokenCreateForm(),
    }


@tenant_page(None)
def tenant_overview(request: TenantRequest) -> HttpResponse:
    return render(request, "tenants/overview.html", _overview_context(request))
