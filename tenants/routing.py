"""The base of every tenant view: the tenant comes from the URL and access is checked once.

``/api/v1/tenants/{tenant}/...`` and ``/t/{tenant}/...`` resolve the tenant by slug, serve the
request inside ``tenant_scope``, and answer 404, identical to a missing tenant, to anyone with no
access to it. Object lookups then go through the scoped managers, so another tenant's object is
the same 404 as a missing one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import wraps
from typing import Any, ClassVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions

from portal.core.errors import NotAllowed
from tenants.access import platform_role_of, tenant_capabilities
from tenants.models import Tenant, User
from tenants.scoping import tenant_scope


class TenantRequest(HttpRequest):
    """What a ``tenant_page`` view receives: a signed-in person, their tenant and capabilities."""

    user: User  # type: ignore[assignment]
    tenant: Tenant
    capabilities: frozenset[str]


def _tenant_from_slug(slug: str | None) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first() if slug else None


class TenantScopedAPIView:
    """Mixin for DRF views under ``/api/v1/tenants/{tenant}/``.

    ``required_capabilities`` maps an HTTP method to the capability it needs, or a tuple of
    capabilities any one of which is enough (see ``tenants.access``); ``None`` means any access
    to the tenant is enough.
    """

    required_capabilities: ClassVar[dict[str, str | tuple[str, ...] | None]] = {
        "GET": "read",
        "HEAD": "read",
        "OPTIONS": None,
        "POST": "write",
        "PUT": "write",
        "PATCH": "write",
        "DELETE": "write",
    }
    tenant: Tenant
    capabilities: frozenset[str]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        tenant = _tenant_from_slug(kwargs.get("tenant"))
        if tenant is None:
            # Authentication still runs first, so an anonymous caller gets 401, not 404.
            self.tenant = None  # type: ignore[assignment]
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        self.tenant = tenant
        with tenant_scope(tenant):
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.capabilities = (
            tenant_capabilities(request.user, self.tenant) if self.tenant else frozenset()
        )
        if not self.capabilities:
            raise exceptions.NotFound()
        needed = self.required_capabilities.get(request.method)
        options = (needed,) if isinstance(needed, str) else needed or ()
        if options and not set(options) & self.capabilities:
            wanted = "' or '".join(options)
            raise exceptions.PermissionDenied(
                f"Your role in {self.tenant.name} does not allow this (it needs '{wanted}')."
            )

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()  # type: ignore[misc]
        context["tenant"] = self.tenant
        return context


class PlatformWideAPIView:
    """Mixin for DRF views of platform-wide lists and acts (the audit trail, platform KPIs,
    statements and month closes across units).

    Only the platform roles in ``platform_roles`` reach the view's handlers; anyone else signed
    in is answered 403 with ``platform_denied``. The check runs after authentication and
    throttling; OPTIONS and methods the view does not handle are answered as by any view.
    """

    platform_roles: ClassVar[Collection[str]]
    platform_denied: ClassVar[str]

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        handled = request.method != "OPTIONS" and hasattr(self, request.method.lower())
        if handled and platform_role_of(request.user) not in self.platform_roles:
            raise NotAllowed(self.platform_denied)


def platform_page(roles: Collection[str], denied: str) -> Callable:
    """Decorator for platform-wide page views (the audit trail, finance's queue, platform KPIs),
    under ``login_required``: only the platform roles in ``roles`` see the page; anyone else
    signed in gets a 403 saying ``denied``."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if platform_role_of(request.user) not in roles:
                raise PermissionDenied(denied)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def tenant_page(capability: str | None = "read") -> Callable:
    """Decorator for page views under ``/t/<tenant>/``: login, access check, tenant scope.

    The view receives ``request.tenant`` and ``request.capabilities`` and renders inside the scope.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, tenant: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            found = _tenant_from_slug(tenant)
            if found is None:
                raise Http404("No such tenant.")
            with tenant_scope(found):
                capabilities = tenant_capabilities(request.user, found)
                if not capabilities:
                    raise Http404("No such tenant.")
                if capability and capability not in capabilities:
                    raise PermissionDenied("Your role in this tenant does not allow this page.")
                request.tenant = found  # type: ignore[attr-defined]
                request.capabilities = capabilities  # type: ignore[attr-defined]
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
                return response

        return wrapper

    return decorate
