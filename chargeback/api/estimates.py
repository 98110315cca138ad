"""API: cost estimates for a tenant, for any member who may read it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from chargeback.serializers import EstimatePlanSerializer, EstimateSerializer
from chargeback.services.estimates import estimate
from portal.core.errors import NotFound
from portal.deployments.models import Deployment
from tenants.routing import TenantScopedAPIView


class EstimateView(TenantScopedAPIView, generics.GenericAPIView):
    """The hourly and monthly (730 h) cost of a planned deployment, before it is requested.

    Instance price x replicas from the price catalog, plus the rate card's markup, plus the
    monitoring fee when drift monitoring is on. Name one of the tenant's deployments to see what
    its current configuration costs and the difference.
    """

    serializer_class = EstimateSerializer
    required_capabilities = {"POST": "read", "OPTIONS": None}

    @extend_schema(request=EstimatePlanSerializer, responses=EstimateSerializer)
    def post(self, request: Request, tenant: str) -> Response:
        data = EstimatePlanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data)
        current = None
        if deployment_id := given.pop("deployment", None):
            # Through the tenant's scope: another tenant's deployment is the same 404 as none.
            deployment = Deployment.objects.filter(pk=deployment_id).first()
            if deployment is None:
                raise NotFound("Not found.")
            current = {
                "deployment": deployment.pk,
                "target": deployment.target,
                "instance_type": deployment.instance_type,
                "replicas": deployment.replicas,
                "drift_monitor": deployment.drift_monitor,
            }
        found = estimate(tenant=self.tenant, current=current, **given)
        return Response(EstimateSerializer(found).data)
