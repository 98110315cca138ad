"""API: a tenant's maturity checklist and assessments, its ROI estimate, and platform KPIs.

``/api/v1/tenants/{tenant}/maturity/`` and ``.../roi/`` are read by the unit's members and
governance leads; saving (POST, PUT) is for the unit's owners (``manage``). ``/api/v1/kpis/`` is
platform-wide, for governance leads and platform admins; ``.../tenants/{tenant}/kpis/`` is the
unit's own. Another unit's member gets the same 404 as for a missing unit.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core.audit import Actor
from portal.insights import maturity, roi
from portal.insights.kpis import KPI_READERS, KpiReport, kpi_report
from portal.insights.serializers import (
    AssessmentSerializer,
    KpiFilterSerializer,
    KpiReportSerializer,
    MaturityAnswersSerializer,
    MaturitySerializer,
    RoiInputsSerializer,
    RoiSerializer,
)
from tenants.access import person_of
from tenants.models import Tenant
from tenants.routing import PlatformWideAPIView, TenantScopedAPIView

OWNERS = "manage"


def maturity_payload(tenant: Tenant) -> dict[str, Any]:
    checklist = maturity.maturity_checklist(tenant)
    return {
        "tenant": tenant.slug,
        "questions": checklist.items,
        "current": {
            "yes_count": checklist.yes_count,
            "level": checklist.band.level,
            "level_label": checklist.band.label,
            "complete": checklist.complete,
        },
        "latest_assessment": checklist.latest,
        "history": maturity.assessment_history(),
    }


def roi_payload(tenant: Tenant) -> dict[str, Any]:
    estimate, inputs, measurements = roi.tenant_roi(tenant)
    return {
        "tenant": tenant.slug,
        "currency": inputs.currency,
        "estimate": estimate,
        "measurements": measurements,
        "formula": roi.roi_formula(estimate),
    }


class MaturityView(TenantScopedAPIView, APIView):
    """The unit's maturity checklist: the portal's answers with their evidence, the owner's
    answers of the latest assessment, the level now and the assessments over time.

    POST saves an assessment with the owner's answers to the questions the portal leaves to them.
    """

    required_capabilities = {"GET": "read", "HEAD": "read", "OPTIONS": None, "POST": OWNERS}

    @extend_schema(responses=MaturitySerializer)
    def get(self, request: Request, tenant: str) -> Response:
        return Response(MaturitySerializer(maturity_payload(self.tenant)).data)

    @extend_schema(request=MaturityAnswersSerializer, responses={201: AssessmentSerializer})
    def post(self, request: Request, tenant: str) -> Response:
        data = MaturityAnswersSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assessment = maturity.maturity_assess(
            actor=Actor.from_request(request),
            tenant=self.tenant,
            user=person_of(request),
            answers=data.validated_data["answers"],
        )
        return Response(AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)


class RoiView(TenantScopedAPIView, APIView):
    """The unit's 12-month ROI estimate (the seeds' formula) with measured platform-side inputs.

    PUT saves the owner's inputs (any subset); measured inputs replace the entered ones whenever
    the portal has a measurement.
    """

    required_capabilities = {"GET": "read", "HEAD": "read", "OPTIONS": None, "PUT": OWNERS}

    @extend_schema(responses=RoiSerializer)
    def get(self, request: Request, tenant: str) -> Response:
        return Response(RoiSerializer(roi_payload(self.tenant)).data)

    @extend_schema(request=RoiInputsSerializer, responses=RoiSerializer)
    def put(self, request: Request, tenant: str) -> Response:
        data = RoiInputsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        roi.roi_inputs_save(
            actor=Actor.from_request(request), tenant=self.tenant, values=data.validated_data
        )
        return Response(RoiSerializer(roi_payload(self.tenant)).data)


def _filters(request: Request) -> dict[str, Any]:
    given = KpiFilterSerializer(data=request.query_params)
    given.is_valid(raise_exception=True)
    environment = given.validated_data["environment"]
    return {
        "months": given.validated_data["months"],
        "environment": "" if environment == "all" else environment,
    }


def _report_data(report: KpiReport) -> dict[str, Any]:
    data = dict(KpiReportSerializer(report).data)
    data["environment"] = report.environment or "all"
    return data


class TenantKpiView(TenantScopedAPIView, APIView):
    """The unit's KPIs by month: deployment frequency, lead time, change failure rate, time to
    resolve incidents and models."""

    @extend_schema(parameters=[KpiFilterSerializer], responses=KpiReportSerializer)
    def get(self, request: Request, tenant: str) -> Response:
        report = kpi_report(tenants=[self.tenant], across=False, **_filters(request))
        return Response(_report_data(report))


class PlatformKpiView(PlatformWideAPIView, APIView):
    """KPIs by month for the whole platform and for every unit (governance leads and platform
    admins)."""

    platform_roles = KPI_READERS
    platform_denied = "Platform KPIs are open to governance leads and platform admins."

    @extend_schema(parameters=[KpiFilterSerializer], responses=KpiReportSerializer)
    def get(self, request: Request) -> Response:
        tenants = list(Tenant.objects.order_by("name"))
        report = kpi_report(tenants=tenants, across=True, **_filters(request))
        return Response(_report_data(report))
