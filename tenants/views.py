"""Tenant pages: the overview of a unit, and its service tokens."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from governance.models import AuditEvent
from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants import services
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


@tenant_page("manage")
def token_create_page(request: TenantRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.token_create(
                actor=Actor.user(request.user),
                tenant=request.tenant,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=timezone.now() + timedelta(days=form.cleaned_data["expires_in_days"]),
                created_by=request.user,
            )
        except PortalError as error:
            form.add_error(None, error.detail)
        else:
            # Rendered, not redirected: the secret must never sit in a session or a URL.
            return render(
                request,
                "tenants/token_created.html",
                {"tenant": request.tenant, "token": token, "secret": secret},
            )
    return render(
        request,
        "tenants/token_form.html",
        {"tenant": request.tenant, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@tenant_page("manage")
def token_revoke_page(request: TenantRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ServiceToken.objects.all(), pk=pk)
    services.token_revoke(actor=Actor.user(request.user), token=token)
    messages.success(request, f"Token {token.name} ({token.prefix}) is revoked.")
    return redirect("tenant-overview", tenant=request.tenant.slug)
