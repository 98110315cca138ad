"""Approval policies: their versions, one version's document and what changed, publishing a new
version (governance leads) and trying a version on a request before it decides real ones."""

from __future__ import annotations

import difflib
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from governance.api.policies import PUBLISHERS, in_force_ids
from governance.audit import Actor
from governance.forms import PolicyDryRunForm, PolicyPublishForm
from governance.models import PolicyVersion
from governance.selectors import policy_versions_visible_to
from governance.services.policies import policy_in_force, policy_load_from_repo, policy_publish
from portal.catalog.models import ModelVersion
from portal.deployments.workflow import policy_dry_run_version
from portal.errors import PortalError
from tenants.access import platform_role_of
from tenants.models import PlatformRole
from tenants.scoping import tenant_scope
from tenants.selectors import member_tenant_ids, tenants_visible_to

VERSIONS_LISTED = 10


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    if not PolicyVersion.objects.exists():
        policy_load_from_repo()  # the repository's policies are in force from the first use
    versions = policy_versions_visible_to(request.user).defer("document")
    policies = []
    for name, group in groupby(versions, key=lambda v: v.name):
        rows = list(group)
        policies.append({"name": name, "newest": rows[0], "versions": rows[:VERSIONS_LISTED]})
    return render(
        request,
        "governance/policy_list.html",
        {"policies": policies, "in_force": in_force_ids()},
    )


def _selected_version(request: HttpRequest, name: str) -> tuple[PolicyVersion, PolicyVersion]:
    """The version asked for by ``?version=`` (default: the newest) and the newest version."""
    versions = policy_versions_visible_to(request.user).filter(name=name)
    newest = versions.first()
    if newest is None:
        raise Http404("No such policy.")
    wanted = request.GET.get("version")
    if not wanted:
        return newest, newest
    selected = (
        versions.filter(version=wanted).first() if wanted.isdecimal() and len(wanted) < 9 else None
    )
    if selected is None:
        raise Http404("No such policy version.")
    return selected, newest


def _diff(selected: PolicyVersion) -> tuple[PolicyVersion | None, list[tuple[str, str]]]:
    """The previous version and the unified diff from it, as (kind, line) pairs."""
    previous = (
        PolicyVersion.objects.filter(name=selected.name, version__lt=selected.version)
        .order_by("-version")
        .first()
    )
    if previous is None:
        return None, []
    lines = difflib.unified_diff(
        previous.document.splitlines(),
        selected.document.splitlines(),
        fromfile=f"{selected.name} v{previous.version}",
        tofile=f"{selected.name} v{selected.version}",
        lineterm="",
    )
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return previous, [
        ("file" if line[:3] in ("---", "+++") else kinds.get(line[:1], "same"), line)
        for line in lines
    ]


def _readable_tenants(user: Any) -> Any:
    """Tenants whose catalog the person may read (finance sees bills, not models)."""
    tenants = tenants_visible_to(user)
    if platform_role_of(user) == PlatformRole.FINANCE:
        tenants = tenants.filter(pk__in=member_tenant_ids(user))
    return tenants


def _dry_run(
    request: HttpRequest, selected: PolicyVersion
) -> tuple[PolicyDryRunForm, dict[str, Any] | None]:
    """Try the selected version on a request for a real model version (``try-`` parameters)."""
    bound = any(key.startswith("try-") for key in request.GET)
    form = PolicyDryRunForm(
        request.GET if bound else None, prefix="try", tenants=_readable_tenants(request.user)
    )
    if not bound or not form.is_valid():
        return form, None
    given = form.cleaned_data
    tenant = given["tenant"]
    with tenant_scope(tenant):
        version = (
            ModelVersion.objects.select_related("model")
            .filter(model__name=given["model"], version=given["version"])
            .first()
        )
        if version is None:
            form.add_error(
                "model", f"{tenant.name} has no version {given['version']} of '{given['model']}'."
            )
            return form, None
        try:
            _, decision, context = policy_dry_run_version(
                tenant=tenant,
                version=version,
                environment=given["environment"],
                document=selected.document,
            )
        except PortalError as problem:
            form.add_error(None, problem.detail)
            return form, None
        try:
            in_force: PolicyVersion | None = policy_in_force(tenant)
        except PortalError:
            in_force = None
    return form, {
        "tenant": tenant,
        "decision": decision,
        "context": context,
        "in_force": in_force,
        "is_in_force": in_force is not None and in_force.pk == selected.pk,
    }


@login_required
def policy_detail(request: HttpRequest, name: str) -> HttpResponse:
    selected, newest = _selected_version(request, name)
    can_publish = platform_role_of(request.user) in PUBLISHERS
    publish = PolicyPublishForm(initial={"document": newest.document})
    status = 200
    if request.method == "POST":
        if not can_publish:
            raise PermissionDenied("Only governance leads publish policies.")
        publish = PolicyPublishForm(request.POST)
        if publish.is_valid():
            try:
                created = policy_publish(
                    actor=Actor.user(request.user),
                    document=publish.cleaned_data["document"],
                    note=publish.cleaned_data["note"],
                    source="page",
                    user=request.user,
                )
            except PortalError as problem:
                publish.add_error("document", problem.detail)
                status = problem.status_code
            else:
                messages.success(
                    request, f"Version {created.version} of '{created.name}' is now in force."
                )
                return redirect("policy-detail", name=created.name)
        else:
            status = 400
    previous, diff = _diff(selected)
    dry_run_form, dry_run = _dry_run(request, selected)
    return render(
        request,
        "governance/policy_detail.html",
        {
            "policy": selected,
            "newest": newest,
            "versions": PolicyVersion.objects.filter(name=name)
            .defer("document")
            .order_by("-version"),
            "in_force": in_force_ids(),
            "previous": previous,
            "diff": diff,
            "can_publish": can_publish,
            "publish_form": publish,
            "dry_run_form": dry_run_form,
            "dry_run": dry_run,
        },
        status=status,
    )
