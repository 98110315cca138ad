"""API: the tenant's model catalog, its sync, its queued jobs, and unassigned and conflicting
models for platform admins."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.catalog import selectors, services, tasks
from portal.catalog.filters import CatalogFilter, UnassignedFilter
from portal.catalog.models import (
    CatalogJob,
    ModelOwnership,
    ModelVersion,
    RegisteredModel,
    SyncRun,
    UnassignedModel,
)
from portal.catalog.ownership import ownership_conflicts
from portal.catalog.serializers import (
    AssignSerializer,
    CatalogJobSerializer,
    JobQueuedSerializer,
    ModelDetailSerializer,
    ModelSummarySerializer,
    ModelUpdateSerializer,
    OwnershipConflictSerializer,
    RegisterFromRunSerializer,
    SyncRunSerializer,
    UnassignedModelSerializer,
    VersionDetailSerializer,
    VersionSummarySerializer,
)
from portal.core.api.schema import ERRORS
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest, NotAllowed
from tenants.access import platform_role_of
from tenants.models import PlatformRole, Tenant
from tenants.routing import TenantScopedAPIView


class ModelListView(TenantScopedAPIView, generics.ListAPIView):
    """The tenant's registered models, with search, filters and ordering. POST registers a run's model."""

    serializer_class = ModelSummarySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CatalogFilter

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request, no tenant
            return RegisteredModel._base_manager.none()
        return selectors.models_search()

    @extend_schema(
        request=RegisterFromRunSerializer,
        responses={202: JobQueuedSerializer, 503: ERRORS[503]},
        description=(
            "Checks the name and that the run (or logged model) is in one of the unit's "
            "experiments, then queues the registration: follow it at `job.url`."
        ),
    )
    def post(self, request: Request, tenant: str) -> Response:
        data = RegisterFromRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.model_register_from_run(
            actor=Actor.from_request(request), tenant=self.tenant, **data.validated_data
        )
        return _queued(f"The registration of '{job.model_name}' is queued", job)


def _queued(what: str, job: CatalogJob) -> Response:
    body = {"detail": f"{what}; follow it at job.url.", "job": CatalogJobSerializer(job).data}
    return Response(body, status=status.HTTP_202_ACCEPTED)


def _model(name: str) -> RegisteredModel:
    versions = Prefetch("versions", queryset=ModelVersion.objects.order_by("-version"))
    return get_object_or_404(selectors.models_search().prefetch_related(versions), name=name)


class ModelDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One registered model with its versions. PATCH edits the catalog metadata (engineers, owners)."""

    serializer_class = ModelDetailSerializer

    def get(self, request: Request, tenant: str, name: str) -> Response:
        return Response(ModelDetailSerializer(_model(name)).data)

    @extend_schema(request=ModelUpdateSerializer, responses=ModelDetailSerializer)
    def patch(self, request: Request, tenant: str, name: str) -> Response:
        data = ModelUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        model = services.model_update_metadata(
            actor=Actor.from_request(request), model=_model(name), **data.validated_data
        )
        return Response(ModelDetailSerializer(model).data)


class VersionListView(TenantScopedAPIView, generics.ListAPIView):
    serializer_class = VersionSummarySerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        model = get_object_or_404(RegisteredModel.objects.all(), name=self.kwargs["name"])
        return ModelVersion.objects.filter(model=model).order_by("-version")


class VersionDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One version: run metrics and params, dataset lineage, signature, artifact size and digest."""

    serializer_class = VersionDetailSerializer

    def get(self, request: Request, tenant: str, name: str, version: int) -> Response:
        found = get_object_or_404(
            ModelVersion.objects.select_related("model"), model__name=name, version=version
        )
        return Response(VersionDetailSerializer(found).data)


class SyncView(TenantScopedAPIView, generics.ListAPIView):
    """The tenant's sync runs, newest first. POST asks for a sync now (202)."""

    serializer_class = SyncRunSerializer

    def get_queryset(self) -> QuerySet[SyncRun]:
        return SyncRun.objects.order_by("-started_at")

    @extend_schema(request=None, responses={202: None})
    def post(self, request: Request, tenant: str) -> Response:
        tasks.sync_tenant.delay_on_commit(tenant_id=self.tenant.pk, trigger="api", deep=True)
        return Response(
            {"detail": "A sync of this tenant is queued; follow it with GET on this URL."},
            status=status.HTTP_202_ACCEPTED,
        )


def _require_platform_admin(request: Request) -> None:
    if platform_role_of(request.user) != PlatformRole.PLATFORM_ADMIN:
        raise NotAllowed("Only platform admins see unassigned and conflicting models.")


class UnassignedModelListView(generics.ListAPIView):
    """Registered models in MLflow that match no tenant (platform admins)."""

    serializer_class = UnassignedModelSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = UnassignedFilter

    def get_queryset(self) -> QuerySet[UnassignedModel]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return UnassignedModel.objects.none()
        _require_platform_admin(self.request)
        return UnassignedModel.objects.order_by("name")


class UnassignedModelAssignView(generics.GenericAPIView):
    """Assign an unassigned model to a tenant: the portal records the owner at once; a worker tags
    the model in MLflow and syncs it in (follow it at ``job.url``)."""

    serializer_class = AssignSerializer

    @extend_schema(request=AssignSerializer, responses={202: JobQueuedSerializer})
    def post(self, request: Request, name: str) -> Response:
        _require_platform_admin(request)
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = Tenant.objects.filter(slug=data.validated_data["tenant"], active=True).first()
        if tenant is None:
            raise InvalidRequest(f"There is no active tenant '{data.validated_data['tenant']}'.")
        job = services.model_assign(actor=Actor.from_request(request), name=name, tenant=tenant)
        return _queued(f"'{name}' now belongs to {tenant.name}; bringing it in is queued", job)


class OwnershipConflictListView(generics.ListAPIView):
    """Models whose MLflow tag names another unit than the one the portal recorded as their owner
    (platform admins). The model stays with its owner; fix the tag in MLflow to clear it."""

    serializer_class = OwnershipConflictSerializer

    def get_queryset(self) -> QuerySet[ModelOwnership]:
        _require_platform_admin(self.request)
        return ownership_conflicts()


class CatalogJobView(TenantScopedAPIView, generics.GenericAPIView):
    """A queued registration or assignment of the tenant: its status, progress and outcome."""

    serializer_class = CatalogJobSerializer

    def get(self, request: Request, tenant: str, job_id: int) -> Response:
        job = get_object_or_404(CatalogJob.objects.select_related("tenant"), pk=job_id)
        return Response(CatalogJobSerializer(job).data)
