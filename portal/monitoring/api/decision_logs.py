"""API: a deployment's decision log over a time range, as Parquet or CSV, and its manifest.

``GET .../deployments/{id}/decision-log/?from=&to=&format=parquet|csv|manifest`` streams the
download (audited) or answers the manifest (``export=parquet|csv`` names the download it
describes, default parquet).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, renderers
from rest_framework.request import Request
from rest_framework.response import Response

from portal.core.api.renderers import CsvRenderer, FileRenderer, FileViewMixin
from portal.core.audit import Actor
from portal.core.downloads import streamed_download
from portal.core.errors import InvalidRequest
from portal.deployments.models import Deployment
from portal.monitoring import services
from portal.monitoring.decision_logs import (
    EXPORT_FORMATS,
    decision_log_format,
    decision_log_range,
)
from portal.monitoring.selectors import decision_log_download, decision_log_manifest
from tenants.routing import TenantScopedAPIView

FORMATS = (*EXPORT_FORMATS, "manifest")


class ParquetRenderer(FileRenderer):
    media_type = "application/vnd.apache.parquet"
    format = "parquet"


class ManifestRenderer(renderers.JSONRenderer):
    format = "manifest"


class DecisionLogView(FileViewMixin, TenantScopedAPIView, generics.GenericAPIView):
    """The deployment's decision log (its compacted captured traffic) from ``from`` to ``to``
    (ISO dates or date-times, ``to`` exclusive; a date as ``to`` means the end of that day)."""

    renderer_classes = [ParquetRenderer, CsvRenderer, ManifestRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except (Http404, exceptions.NotFound):
            raise InvalidRequest(f"format must be one of: {', '.join(FORMATS)}.") from None

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, required=True, description="ISO date or date-time."),
            OpenApiParameter("to", str, required=True, description="ISO date or date-time."),
            OpenApiParameter("format", str, enum=FORMATS, description="Default: parquet."),
            OpenApiParameter(
                "export", str, enum=EXPORT_FORMATS, description="With format=manifest."
            ),
        ],
        responses={
            (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT),
        },
    )
    def get(self, request: Request, tenant: str, deployment_id: int) -> HttpResponseBase:
        deployment = get_object_or_404(
            Deployment.objects.select_related("model_version__model"), pk=deployment_id
        )
        start, end = decision_log_range(request.query_params)
        chosen = request.accepted_renderer.format
        if chosen == "manifest":
            fmt = decision_log_format(request.query_params.get("export"))
            download = decision_log_download(deployment=deployment, start=start, end=end, fmt=fmt)
            return Response(decision_log_manifest(download))
        download = services.decision_log_export(
            actor=Actor.from_request(request),
            deployment=deployment,
            start=start,
            end=end,
            fmt=chosen,
        )
        return streamed_download(
            download.chunks(),
            filename=download.filename,
            content_type=download.content_type,
            headers=download.headers,
        )
