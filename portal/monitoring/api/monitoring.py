"""API: a deployment's drift reports, monitors of endpoints, and baselines of model versions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from governance.audit import Actor
from portal.catalog.models import ModelVersion
from portal.deployments.models import Deployment
from portal.errors import InvalidRequest
from portal.monitoring import services, tasks
from portal.monitoring.models import Baseline, BaselineSource, DriftRun, Monitor
from portal.monitoring.serializers import (
    BaselineRequestSerializer,
    BaselineSerializer,
    DriftRunSerializer,
    MonitorSerializer,
)
from tenants.routing import TenantScopedAPIView


class DriftRunListView(TenantScopedAPIView, generics.ListAPIView):
    """The deployment's drift reports, newest first. POST queues a run now (202)."""

    serializer_class = DriftRunSerializer

    def get_queryset(self) -> QuerySet[DriftRun]:
        deployment = get_object_or_404(Deployment.objects.all(), pk=self.kwargs["deployment_id"])
        return DriftRun.objects.filter(deployment=deployment).order_by("-created_at", "-id")

    @extend_schema(request=None, responses={202: DriftRunSerializer})
    def post(self, request: Request, tenant: str, deployment_id: int) -> Response:
        deployment = get_object_or_404(Deployment.objects.all(), pk=deployment_id)
        monitor = Monitor.objects.filter(endpoint=deployment.name).first()
        run = services.drift_run_request(deployment=deployment, monitor=monitor, trigger="api")
        return Response(DriftRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class MonitorListView(TenantScopedAPIView, generics.ListCreateAPIView):
    """The tenant's drift monitors, one per endpoint. POST creates one."""

    serializer_class = MonitorSerializer

    def get_queryset(self) -> QuerySet[Monitor]:
        return Monitor.objects.order_by("endpoint")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = MonitorSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        monitor = services.monitor_create(
            actor=Actor.from_request(request), tenant_id=self.tenant.pk, **given.validated_data
        )
        return Response(MonitorSerializer(monitor).data, status=status.HTTP_201_CREATED)


class MonitorDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One monitor; PATCH changes its schedule, window, thresholds or actions."""

    serializer_class = MonitorSerializer

    def get(self, request: Request, tenant: str, monitor_id: int) -> Response:
        return Response(
            MonitorSerializer(get_object_or_404(Monitor.objects.all(), pk=monitor_id)).data
        )

    def patch(self, request: Request, tenant: str, monitor_id: int) -> Response:
        monitor = get_object_or_404(Monitor.objects.all(), pk=monitor_id)
        given = MonitorSerializer(monitor, data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        monitor = services.monitor_update(
            actor=Actor.from_request(request), monitor=monitor, **given.validated_data
        )
        return Response(MonitorSerializer(monitor).data)


def _version(name: str, version: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("model"), model__name=name, version=version
    )


class BaselineView(TenantScopedAPIView, generics.GenericAPIView):
    """The version's baseline. POST builds it: from an uploaded CSV or Parquet file (multipart,
    ``file``), or in the background from the run's logged dataset or a deployment's first
    captured rows (202)."""

    serializer_class = BaselineSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get(self, request: Request, tenant: str, name: str, version: int) -> Response:
        found = _version(name, version)
        baseline = get_object_or_404(
            Baseline.objects.select_related("model_version__model"), model_version=found
        )
        return Response(BaselineSerializer(baseline).data)

    @extend_schema(
        request={"multipart/form-data": BaselineRequestSerializer},
        responses={201: BaselineSerializer, 202: None},
    )
    def post(self, request: Request, tenant: str, name: str, version: int) -> Response:
        found = _version(name, version)
        given = BaselineRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        actor = Actor.from_request(request)
        if data["source"] == BaselineSource.UPLOAD:
            upload = data.get("file")
            if upload is None:
                raise InvalidRequest("Attach the training data as a CSV or Parquet file (file).")
            limit = settings.BASELINE_UPLOAD_MAX_BYTES
            if upload.size > limit:
                raise InvalidRequest(
                    f"The file is {upload.size} bytes; a baseline file may be at most {limit} "
                    "bytes (sample the training data)."
                )
            baseline = services.baseline_from_upload(
                version=found,
                content=upload.read(),
                filename=upload.name or "",
                prediction_column=data["prediction_column"],
                actor=actor,
            )
            return Response(BaselineSerializer(baseline).data, status=status.HTTP_201_CREATED)
        deployment_id = None
        if data["source"] == BaselineSource.CAPTURE:
            deployment = Deployment.objects.filter(
                pk=data.get("deployment"), model_version=found
            ).first()
            if deployment is None:
                raise InvalidRequest(
                    "Name a deployment of this version (deployment) whose traffic to use."
                )
            deployment_id = deployment.pk
        else:
            services.check_logged_dataset(version=found)
        tasks.build_baseline.delay_on_commit(
            tenant_id=self.tenant.pk,
            source=data["source"],
            version_id=found.pk,
            deployment_id=deployment_id,
            actor_label=actor.label,
            prediction_column=data["prediction_column"],
        )
        return Response(
            {"detail": "The baseline is being built; GET this URL to see when it is ready."},
            status=status.HTTP_202_ACCEPTED,
        )
