"""API: approval policies. Everyone signed in reads them; governance leads publish new versions."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.db.models import Max, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.audit import Actor
from governance.models import PolicyVersion
from governance.selectors import POLICY_PUBLISHERS, policy_versions_visible_to
from governance.serializers import (
    DecisionSerializer,
    DryRunSerializer,
    PolicyPublishSerializer,
    PolicyVersionSerializer,
)
from governance.services.policies import policy_dry_run, policy_publish
from portal.api.schema import ERRORS
from portal.catalog.models import ModelVersion
from portal.deployments.workflow import policy_dry_run_version
from portal.errors import InvalidRequest, NotAllowed, NotFound
from tenants.access import platform_role_of, tenant_capabilities
from tenants.models import Tenant
from tenants.scoping import tenant_scope

PUBLISHERS = POLICY_PUBLISHERS


def in_force_ids() -> set[int]:
    newest = PolicyVersion.objects.values("name").annotate(newest=Max("version"))
    return {
        pk
        for row in newest
        for pk in PolicyVersion.objects.filter(name=row["name"], version=row["newest"]).values_list(
            "pk", flat=True
        )
    }


class PolicyListView(generics.ListAPIView):
    """Every version of every policy, newest first. POST publishes a new version (governance)."""

    serializer_class = PolicyVersionSerializer

    def get_queryset(self) -> QuerySet[PolicyVersion]:
        return policy_versions_visible_to(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "in_force_ids": in_force_ids()}

    @extend_schema(request=PolicyPublishSerializer, responses={201: PolicyVersionSerializer})
    def post(self, request: Request) -> Response:
        if platform_role_of(request.user) not in PUBLISHERS:
            raise NotAllowed("Only governance leads publish policies.")
        data = PolicyPublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = policy_publish(
            actor=Actor.from_request(request),
            document=data.validated_data["document"],
            note=data.validated_data.get("note", ""),
            user=request.user,
        )
        return Response(
            PolicyVersionSerializer(version, context={"in_force_ids": in_force_ids()}).data,
            status=status.HTTP_201_CREATED,
        )


class PolicyDryRunView(generics.GenericAPIView):
    """Which rules fire for a hypothetical request, and the decision the policy would make.

    Name a tenant's model version (the context is built exactly as for a real request), or pass
    a whole ``context``; pass ``document`` to try a draft policy instead of the one in force.
    """

    serializer_class = DryRunSerializer

    @extend_schema(request=DryRunSerializer, responses={200: DecisionSerializer, 404: ERRORS[404]})
    def post(self, request: Request) -> Response:
        data = DryRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        tenant = None
        if given.get("tenant"):
            tenant = Tenant.objects.filter(slug=given["tenant"]).first()
            if tenant is None:
                raise NotFound("Not found.")
        with tenant_scope(tenant) if tenant else nullcontext():
            if tenant is not None and "read" not in tenant_capabilities(request.user, tenant):
                raise NotFound("Not found.")
            if given.get("document") and platform_role_of(request.user) not in PUBLISHERS:
                raise NotAllowed("Only governance leads try draft policies.")
            context = given.get("context")
            if context is None:
                if tenant is None or not given.get("model") or not given.get("version"):
                    raise InvalidRequest(
                        "Give tenant, model, version and environment, or a whole context."
                    )
                version = (
                    ModelVersion.objects.select_related("model")
                    .filter(model__name=given["model"], version=given["version"])
                    .first()
                )
                if version is None:
                    raise NotFound("Not found.")
                policy, decision, context = policy_dry_run_version(
                    tenant=tenant,
                    version=version,
                    environment=given.get("environment") or "staging",
                    target=given["target"],
                    instance_type=given["instance_type"],
                    replicas=given["replicas"],
                    drift_monitor=given["drift_monitor"],
                    document=given.get("document"),
                )
            else:
                policy, decision = policy_dry_run(
                    context=context, document=given.get("document"), tenant=tenant
                )
        body = {
            **decision.as_dict(),
            "policy": {"name": policy.name, "version": policy.version} if policy else None,
            "context": context,
        }
        return Response(body)
