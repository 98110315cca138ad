"""The price catalog and the health of its sources, with the rate card in force.

Everyone signed in reads prices (engineers plan deployments with them); finance and platform
admins also see each source's health (status, last attempt, last success, last error), and
platform admins can queue a refresh.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chargeback import selectors, tasks
from chargeback.filters import PRICE_PAGE_FILTERS, PriceFilter
from chargeback.models import PriceSource
from chargeback.services.prices import price_catalog_ensure
from chargeback.services.rate_cards import rate_card_in_force
from portal.core.paging import paginate
from tenants.access import FINANCE_ROLES, platform_role_of
from tenants.models import PlatformRole

PAGE_SIZE = 50
HEALTH_READERS = FINANCE_ROLES


@login_required
def price_catalog(request: HttpRequest) -> HttpResponse:
    role = platform_role_of(request.user)
    if request.method == "POST":
        if role != PlatformRole.PLATFORM_ADMIN:
            raise PermissionDenied("Only platform admins refresh price sources.")
        tasks.refresh_prices.delay_on_commit()
        messages.success(
            request, "A refresh of every enabled source is queued; reload to follow it."
        )
        return redirect("price-catalog")
    price_catalog_ensure()
    sources = list(PriceSource.objects.select_related("current_snapshot").order_by("name"))
    filters = PriceFilter(
        request.GET or None,
        queryset=selectors.prices_in_force(),
        sources=[s.name for s in sources],
        only=PRICE_PAGE_FILTERS,
    )
    listing = paginate(request, filters.listed(), per_page=PAGE_SIZE)
    return render(
        request,
        "chargeback/prices.html",
        {
            "sources": sources,
            "show_health": role in HEALTH_READERS,
            "can_refresh": role == PlatformRole.PLATFORM_ADMIN,
            "form": filters.form,
            **listing,
            "card": rate_card_in_force(),
        },
    )
