"""API: a unit's monthly budget, its spend so far and the month-end forecast.

``GET /api/v1/tenants/{tenant}/budget/`` is open to every member of the unit and to finance;
``PUT`` sets the budget, for the unit's owners, finance and platform admins (a viewer or an
engineer gets a 403, another unit's member the same 404 as a missing unit).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from chargeback.serializers import BudgetSetSerializer, BudgetStatusSerializer
from chargeback.services.budgets import budget_set, budget_status
from portal.core.audit import Actor
from tenants.access import person_of
from tenants.routing import TenantScopedAPIView

READERS = ("read", "billing")
SETTERS = ("manage", "billing")


class BudgetView(TenantScopedAPIView, generics.GenericAPIView):
    """The unit's monthly budget with month to date, forecast, and the alerts sent this month.

    Month to date is the open month's usage rated now with the prices the close will use; the
    forecast is corrections + (month to date - corrections) x month length / time elapsed.
    ``amount`` is null while no budget is set.
    """

    serializer_class = BudgetStatusSerializer
    required_capabilities = {"GET": READERS, "HEAD": READERS, "PUT": SETTERS, "OPTIONS": None}

    def get(self, request: Request, tenant: str) -> Response:
        return Response(BudgetStatusSerializer(budget_status(tenant=self.tenant)).data)

    @extend_schema(request=BudgetSetSerializer, responses=BudgetStatusSerializer)
    def put(self, request: Request, tenant: str) -> Response:
        data = BudgetSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budget_set(
            actor=Actor.from_request(request),
            tenant=self.tenant,
            user=person_of(request),
            **data.validated_data,
        )
        return Response(BudgetStatusSerializer(budget_status(tenant=self.tenant)).data)
