"""Tenant pages: a unit's service tokens (its overview is governance's, ``tenant-overview``)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants import services
from tenants.forms import TokenCreateForm
from tenants.models import ServiceToken
from tenants.routing import TenantRequest, tenant_page


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
