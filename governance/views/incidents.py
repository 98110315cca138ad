"""A unit's incidents: the list with a form to open one, and one incident with its timeline."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.filters import IncidentFilter
from governance.forms import (
    IncidentChangeForm,
    IncidentNoteForm,
    IncidentOpenForm,
)
from governance.models import Incident
from governance.services.incidents import incident_change, incident_note, incident_open
from portal.core.audit import Actor
from portal.core.errors import PortalError
from portal.core.paging import paginate
from tenants.routing import TenantRequest, tenant_page

# Governance leads take part in incidents as much as the unit's engineers.
WRITERS = {"write", "govern"}


def _writer_only(request: TenantRequest) -> None:
    if not WRITERS & request.capabilities:
        raise PermissionDenied("Your role in this unit cannot change incidents.")


@tenant_page("read")
def incident_list(request: TenantRequest) -> HttpResponse:
    can_write = bool(WRITERS & request.capabilities)
    opening = IncidentOpenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        _writer_only(request)
        if opening.is_valid():
            given = opening.cleaned_data
            try:
                incident = incident_open(
                    actor=Actor.user(request.user),
                    tenant_id=request.tenant.pk,
                    title=given["title"],
                    severity=given["severity"],
                    description=given["description"],
                    model=given["model"],
                )
            except PortalError as problem:
                opening.add_error(None, problem.detail)
            else:
                messages.success(request, f"Incident {incident.pk} is open.")
                return redirect(
                    "incident-detail", tenant=request.tenant.slug, incident_id=incident.pk
                )
    filters = IncidentFilter(
        request.GET or None,
        queryset=Incident.objects.select_related("model").order_by("-opened_at", "-id"),
    )
    listing = paginate(request, filters.listed())
    return render(
        request,
        "governance/incident_list.html",
        {
            "tenant": request.tenant,
            "filters": filters.form,
            **listing,
            "form": opening,
            "can_write": can_write,
        },
        status=400 if request.method == "POST" else 200,
    )


@tenant_page("read")
def incident_detail(request: TenantRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("model"), pk=incident_id)
    action = request.POST.get("action") if request.method == "POST" else None
    note = IncidentNoteForm(request.POST if action == "note" else None)
    change = IncidentChangeForm(
        request.POST if action == "change" else None,
        initial={"status": incident.status, "severity": incident.severity},
    )
    error, status = "", 200
    if action is not None:
        status = 400
        _writer_only(request)
        actor = Actor.user(request.user)
        try:
            if action == "note" and note.is_valid():
                incident_note(actor=actor, incident=incident, text=note.cleaned_data["text"])
                messages.success(request, "Added to the timeline.")
                return redirect(request.path)
            if action == "change" and change.is_valid():
                incident = incident_change(actor=actor, incident=incident, **change.cleaned_data)
                messages.success(request, "Incident updated.")
                return redirect(request.path)
        except PortalError as problem:
            error, status = problem.detail, problem.status_code
    return render(
        request,
        "governance/incident_detail.html",
        {
            "tenant": request.tenant,
            "incident": incident,
            "entries": incident.entries.all(),
            "note_form": note,
            "change_form": change,
            "can_write": bool(WRITERS & request.capabilities),
            "error": error,
        },
        status=status,
    )
