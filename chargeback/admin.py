from django import forms
from django.conf import settings
from django.contrib import admin

from chargeback.models import BillingPeriod, PriceSnapshot, PriceSource, RateCard, Statement
from portal.core.errors import InvalidRequest
from portal.core.urls_safety import check_outgoing_url
from tenants.admin import AcrossTenantsAdmin, ReadOnlyAdmin


class PriceSourceForm(forms.ModelForm):
    class Meta:
        model = PriceSource
        fields = ["name", "kind", "url", "region", "enabled"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url:
            return url
        try:
            return check_outgoing_url(
                url,
                allow_private=settings.PRICE_ALLOW_PRIVATE_HOSTS,
                setting="PRICE_ALLOW_PRIVATE_HOSTS",
                what="source URL",
            )
        except InvalidRequest as refused:
            raise forms.ValidationError(refused.detail) from None


@admin.register(PriceSource)
class PriceSourceAdmin(admin.ModelAdmin):
    """Platform admins point sources at other URLs or regions and switch them on or off."""

    form = PriceSourceForm

    list_display = ["name", "kind", "region", "enabled", "status", "last_success_at"]
    fields = [
        "name",
        "kind",
        "url",
        "region",
        "enabled",
        "status",
        "current_snapshot",
        "last_attempt_at",
        "last_success_at",
        "last_error",
    ]
    readonly_fields = [
        "status",
        "current_snapshot",
        "last_attempt_at",
        "last_success_at",
        "last_error",
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # snapshots and estimates refer to sources; disable one instead


@admin.register(PriceSnapshot)
class PriceSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["source", "fetched_at", "published_at", "item_count", "content_hash"]
    list_filter = ["source"]


@admin.register(RateCard)
class RateCardAdmin(ReadOnlyAdmin):
    """Read only: a new version is published through the API, which audits it."""

    list_display = ["version", "markup_percent", "monitoring_fee_per_model_month", "created_at"]


@admin.register(BillingPeriod)
class BillingPeriodAdmin(ReadOnlyAdmin):
    """Read only: months are closed by `manage.py close_billing_period` or the beat task."""

    list_display = ["month", "state", "processed", "total", "closed_at"]


@admin.register(Statement)
class StatementAdmin(AcrossTenantsAdmin):
    """Read only: finance reviews statements through the API, which audits every change."""

    list_display = ["id", "number", "tenant", "period", "state", "total"]
    list_filter = ["state", "period"]
