"""API: the inventory across units, ``GET /api/v1/inventory/`` (``portal.insights.inventory``).

Governance leads and platform admins see every unit's registered models, riskiest first, filtered
and sorted by the query parameters of ``InventoryFilter`` and paginated as every list; anyone
else signed in gets a 403, as from the other platform-wide lists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from portal.catalog.models import RegisteredModel
from portal.insights.filters import InventoryFilter
from portal.insights.inventory import (
    INVENTORY_DENIED,
    INVENTORY_READERS,
    inventory_ids,
    inventory_listed,
    inventory_rows,
)
from portal.insights.serializers import InventoryRowSerializer
from tenants.routing import PlatformWideAPIView


class InventoryView(PlatformWideAPIView, generics.ListAPIView):
    """Every registered model of every unit: risk tier and who set it, deployments by state,
    live endpoints by environment, approvals, certification, card, drift and incidents."""

    platform_roles = INVENTORY_READERS
    platform_denied = INVENTORY_DENIED
    serializer_class = InventoryRowSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InventoryFilter

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return RegisteredModel._base_manager.none()
        return inventory_listed(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ids = self.paginate_queryset(inventory_ids(self.filter_queryset(self.get_queryset())))
        rows = inventory_rows(ids or [])
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)
