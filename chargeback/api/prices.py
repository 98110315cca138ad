"""API: the price catalog, price sources and the rate card.

Prices and the rate card in force are readable by everyone signed in; source health, refreshes
and publishing a rate card are for platform admins.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from chargeback import selectors, tasks
from chargeback.filters import PriceFilter
from chargeback.models import PriceItem, PriceSource, RateCard
from chargeback.serializers import (
    ManualPricesResultSerializer,
    ManualPricesSerializer,
    PriceItemSerializer,
    PriceSourceHealthSerializer,
    PriceSourceSerializer,
    RateCardPublishSerializer,
    RateCardSerializer,
)
from chargeback.services.manual_prices import manual_prices_change
from chargeback.services.prices import price_catalog_ensure, price_sources_ensure
from chargeback.services.rate_cards import rate_card_in_force, rate_card_publish
from portal.core.audit import Actor
from portal.core.errors import NotAllowed
from tenants.access import FINANCE_ROLES, platform_role_of
from tenants.models import PlatformRole

RATE_CARD_HISTORY_READERS = FINANCE_ROLES


def _is_platform_admin(request: Request) -> bool:
    return platform_role_of(request.user) == PlatformRole.PLATFORM_ADMIN


class PriceListView(generics.ListAPIView):
    """The price catalog in force: the newest snapshot of every enabled source, with filters."""

    serializer_class = PriceItemSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = PriceFilter

    def get_queryset(self) -> QuerySet[PriceItem]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return PriceItem.objects.none()
        price_catalog_ensure()
        return selectors.prices_in_force()


class PriceSourceListView(generics.ListAPIView):
    """Where prices come from and the snapshot in force; platform admins also see each source's
    health (URL, refresh status, last attempt, last success, last error)."""

    def get_queryset(self) -> QuerySet[PriceSource]:
        price_sources_ensure()
        return PriceSource.objects.select_related("current_snapshot").order_by("name")

    def get_serializer_class(self) -> type[BaseSerializer]:
        if getattr(self, "swagger_fake_view", False) or _is_platform_admin(self.request):
            return PriceSourceHealthSerializer
        return PriceSourceSerializer


class PriceRefreshView(generics.GenericAPIView):
    """Refresh every enabled price source now (platform admins); follow it on the source list."""

    serializer_class = PriceSourceHealthSerializer

    @extend_schema(request=None, responses={202: None})
    def post(self, request: Request) -> Response:
        if not _is_platform_admin(request):
            raise NotAllowed("Only platform admins refresh price sources.")
        tasks.refresh_prices.delay_on_commit()
        return Response(
            {
                "detail": "A refresh of every enabled price source is queued; follow it on GET "
                "/api/v1/price-sources/."
            },
            status=status.HTTP_202_ACCEPTED,
        )


class PriceSourceItemsView(generics.GenericAPIView):
    """Add or change prices of a manual source (platform admins); the source is created on its
    first change. Items are known by service, SKU and region: a known one is replaced, others
    are added; ``remove`` drops SKUs. The result is a new snapshot with its content hash (201),
    or the snapshot in force when nothing changed (200). Audited."""

    serializer_class = ManualPricesSerializer

    @extend_schema(
        request=ManualPricesSerializer,
        responses={201: ManualPricesResultSerializer, 200: ManualPricesResultSerializer},
    )
    def post(self, request: Request, name: str) -> Response:
        if not _is_platform_admin(request):
            raise NotAllowed("Only platform admins enter prices by hand.")
        data = ManualPricesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change = manual_prices_change(
            actor=Actor.from_request(request),
            name=name,
            items=data.validated_data["items"],
            remove=data.validated_data["remove"],
        )
        created = change.result.outcome == "loaded"
        return Response(
            ManualPricesResultSerializer(change).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RateCardListView(generics.ListAPIView):
    """Rate card versions, newest first: platform admins and finance see every version, others
    the one in force. POST publishes a new version (platform admins); fields left out keep their
    value from the version in force."""

    serializer_class = RateCardSerializer

    def get_queryset(self) -> QuerySet[RateCard] | list[RateCard]:  # type: ignore[override]
        self.in_force = rate_card_in_force()
        if self.in_force.pk is None:
            return [self.in_force]  # nothing published yet: the defaults, version 0
        cards = selectors.rate_cards()
        if platform_role_of(self.request.user) not in RATE_CARD_HISTORY_READERS:
            cards = cards.filter(pk=self.in_force.pk)
        return cards

    def get_serializer_context(self) -> dict[str, Any]:
        in_force = getattr(self, "in_force", None)
        return {
            **super().get_serializer_context(),
            "in_force_version": in_force.version if in_force else None,
        }

    @extend_schema(request=RateCardPublishSerializer, responses={201: RateCardSerializer})
    def post(self, request: Request) -> Response:
        if not _is_platform_admin(request):
            raise NotAllowed("Only platform admins publish rate cards.")
        data = RateCardPublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = rate_card_publish(
            actor=Actor.from_request(request), user=request.user, **data.validated_data
        )
        return Response(
            RateCardSerializer(card, context={"in_force_version": card.version}).data,
            status=status.HTTP_201_CREATED,
        )


class RateCardCurrentView(generics.GenericAPIView):
    """The rate card in force."""

    serializer_class = RateCardSerializer

    def get(self, request: Request) -> Response:
        card = rate_card_in_force()
        return Response(RateCardSerializer(card, context={"in_force_version": card.version}).data)
