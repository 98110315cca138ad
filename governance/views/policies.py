"""Approval policies: every policy and its recent versions.

One policy's page (a version's document and what changed, publishing a new version, trying a
version on a request) is ``portal.deployments.views.workflow``'s.
"""

from __future__ import annotations

from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.models import PolicyVersion
from governance.selectors import in_force_ids, policy_versions_visible_to
from governance.services.policies import (
    policy_load_from_repo,
)

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
