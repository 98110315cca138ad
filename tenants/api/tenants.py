"""API: tenants, members, service tokens and webhook endpoints."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.core.api.throttling import ScopedThrottle
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest, NotAllowed
from tenants import notifications, selectors, services
from tenants.access import platform_role_of
from tenants.models import (
    Membership,
    PlatformRole,
    ServiceToken,
    Tenant,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.routing import TenantScopedAPIView
from tenants.serializers import (
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    ServiceTokenCreatedSerializer,
    ServiceTokenCreateSerializer,
    ServiceTokenSerializer,
    TenantCreateSerializer,
    TenantSerializer,
    TenantUpdateSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)


class TenantListView(generics.ListAPIView):
    """Tenants you can open (platform roles: all). Platform admins create tenants here."""

    serializer_class = TenantSerializer

    def get_queryset(self) -> QuerySet[Tenant]:
        return selectors.tenants_visible_to(self.request.user).order_by("slug")

    @extend_schema(request=TenantCreateSerializer, responses={201: TenantSerializer})
    def post(self, request: Request) -> Response:
        if platform_role_of(request.user) != PlatformRole.PLATFORM_ADMIN:
            raise NotAllowed("Only platform admins create tenants.")
        data = TenantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_create(actor=Actor.from_request(request), **data.validated_data)
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)


class TenantDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One tenant. Anyone with access reads it; platform admins change or deactivate it."""

    serializer_class = TenantSerializer
    required_capabilities = {"GET": None, "HEAD": None, "OPTIONS": None, "PATCH": "administer"}

    def get(self, request: Request, tenant: str) -> Response:
        return Response(TenantSerializer(self.tenant).data)

    @extend_schema(request=TenantUpdateSerializer, responses=TenantSerializer)
    def patch(self, request: Request, tenant: str) -> Response:
        data = TenantUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        updated = services.tenant_update(
            actor=Actor.from_request(request), tenant=self.tenant, **data.validated_data
        )
        return Response(TenantSerializer(updated).data)


class MemberListView(TenantScopedAPIView, generics.ListAPIView):
    """The tenant's members and their roles; owners add people."""

    serializer_class = MembershipSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": "manage"}

    def get_queryset(self) -> QuerySet[Membership]:
        return Membership.objects.select_related("user").order_by("user__username")

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    def post(self, request: Request, tenant: str) -> Response:
        data = MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.filter(username=data.validated_data["username"], is_active=True).first()
        if user is None:
            raise InvalidRequest(f"There is no active user '{data.validated_data['username']}'.")
        membership = services.membership_add(
            actor=Actor.from_request(request),
            tenant=self.tenant,
            user=user,
            role=data.validated_data["role"],
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One membership; owners change the role or remove it (a tenant always keeps an owner)."""

    serializer_class = MembershipSerializer
    required_capabilities = {
        **TenantScopedAPIView.required_capabilities,
        "PATCH": "manage",
        "DELETE": "manage",
    }

    def get_object(self) -> Membership:
        return get_object_or_404(Membership.objects.select_related("user"), pk=self.kwargs["pk"])

    def get(self, request: Request, tenant: str, pk: int) -> Response:
        return Response(MembershipSerializer(self.get_object()).data)

    @extend_schema(request=MembershipUpdateSerializer, responses=MembershipSerializer)
    def patch(self, request: Request, tenant: str, pk: int) -> Response:
        membership = self.get_object()
        data = MembershipUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            actor=Actor.from_request(request),
            membership=membership,
            role=data.validated_data["role"],
        )
        return Response(MembershipSerializer(membership).data)

    def delete(self, request: Request, tenant: str, pk: int) -> Response:
        services.membership_remove(actor=Actor.from_request(request), membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(TenantScopedAPIView, generics.ListAPIView):
    """Service tokens of the tenant. Owners create them; the secret is in the 201 response only."""

    serializer_class = ServiceTokenSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": "manage"}
    throttle_classes = [ScopedThrottle]
    throttle_scope = "token_create"
    # The secret is kept nowhere: a repeat under the same Idempotency-Key is refused, not replayed.
    answer_shown_once = True

    def get_queryset(self) -> QuerySet[ServiceToken]:
        return ServiceToken.objects.select_related("created_by").order_by("-created_at")

    @extend_schema(
        request=ServiceTokenCreateSerializer, responses={201: ServiceTokenCreatedSerializer}
    )
    def post(self, request: Request, tenant: str) -> Response:
        data = ServiceTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scopes = sorted(data.validated_data["scopes"])
        services.token_role_allows(actor_capabilities=self.capabilities, scopes=scopes)
        token, secret = services.token_create(
            actor=Actor.from_request(request),
            tenant=self.tenant,
            name=data.validated_data["name"],
            scopes=scopes,
            expires_at=data.validated_expiry(),
            created_by=request.user if isinstance(request.user, User) else None,
        )
        token.token = secret  # type: ignore[attr-defined]
        return Response(ServiceTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One token. ``DELETE`` revokes it; the record stays, marked revoked."""

    serializer_class = ServiceTokenSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "DELETE": "manage"}

    def get_object(self) -> ServiceToken:
        return get_object_or_404(
            ServiceToken.objects.select_related("created_by"), pk=self.kwargs["pk"]
        )

    def get(self, request: Request, tenant: str, pk: int) -> Response:
        return Response(ServiceTokenSerializer(self.get_object()).data)

    def delete(self, request: Request, tenant: str, pk: int) -> Response:
        services.token_revoke(actor=Actor.from_request(request), token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Webhook URLs and delivery logs (payloads, receivers' error text) are the owners' to read too: a
# URL can carry a receiver's credentials, and a log quotes what the receiver answered.
OWNERS_ONLY = {
    **TenantScopedAPIView.required_capabilities,
    "GET": "manage",
    "HEAD": "manage",
    "POST": "manage",
    "PATCH": "manage",
    "DELETE": "manage",
}


class WebhookListView(TenantScopedAPIView, generics.ListAPIView):
    """The tenant's webhook endpoints, for owners; the secret is in the 201 response only."""

    serializer_class = WebhookEndpointSerializer
    required_capabilities = OWNERS_ONLY

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.select_related("created_by").order_by("-created_at", "-id")

    @extend_schema(
        request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer}
    )
    def post(self, request: Request, tenant: str) -> Response:
        data = WebhookEndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = notifications.webhook_endpoint_create(
            actor=Actor.from_request(request),
            tenant=self.tenant,
            created_by=request.user if isinstance(request.user, User) else None,
            **data.validated_data,
        )
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One webhook endpoint; owners read it, change its events, description and activity, or
    delete it."""

    serializer_class = WebhookEndpointSerializer
    required_capabilities = OWNERS_ONLY

    def get_object(self) -> WebhookEndpoint:
        return get_object_or_404(
            WebhookEndpoint.objects.select_related("created_by"), pk=self.kwargs["pk"]
        )

    def get(self, request: Request, tenant: str, pk: int) -> Response:
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def patch(self, request: Request, tenant: str, pk: int) -> Response:
        endpoint = self.get_object()
        data = WebhookEndpointUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = notifications.webhook_endpoint_update(
            actor=Actor.from_request(request), endpoint=endpoint, **data.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    def delete(self, request: Request, tenant: str, pk: int) -> Response:
        notifications.webhook_endpoint_delete(
            actor=Actor.from_request(request), endpoint=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(TenantScopedAPIView, generics.ListAPIView):
    """The endpoint's delivery log, newest first, with the outcome of each one's last attempt;
    for owners, as it holds the payloads and the receivers' answers."""

    serializer_class = WebhookDeliverySerializer
    required_capabilities = OWNERS_ONLY

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        endpoint = get_object_or_404(WebhookEndpoint.objects.all(), pk=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


class WebhookRedeliverView(TenantScopedAPIView, generics.GenericAPIView):
    """Queue a failed delivery again, for a fresh round of attempts."""

    serializer_class = WebhookDeliverySerializer
    required_capabilities = OWNERS_ONLY

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    def post(self, request: Request, tenant: str, pk: int, delivery_id: str) -> Response:
        delivery = get_object_or_404(
            WebhookDelivery.objects.all(), endpoint_id=pk, delivery_id=delivery_id
        )
        delivery = notifications.webhook_delivery_redeliver(delivery=delivery)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
