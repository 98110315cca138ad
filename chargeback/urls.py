from django.urls import path

from chargeback import api, budget_api, statement_api

urlpatterns = [
    path("tenants/<slug:tenant>/estimates/", api.EstimateView.as_view(), name="api-estimates"),
    path("prices/", api.PriceListView.as_view(), name="api-prices"),
    path("price-sources/", api.PriceSourceListView.as_view(), name="api-price-sources"),
    path(
        "price-sources/refresh/", api.PriceRefreshView.as_view(), name="api-price-sources-refresh"
    ),
    path(
        "price-sources/<slug:name>/items/",
        api.PriceSourceItemsView.as_view(),
        name="api-price-source-items",
    ),
    path("tenants/<slug:tenant>/budget/", budget_api.BudgetView.as_view(), name="api-budget"),
    path("rate-cards/", api.RateCardListView.as_view(), name="api-rate-cards"),
    path("rate-cards/current/", api.RateCardCurrentView.as_view(), name="api-rate-card-current"),
    # Statements
    path("statements/", statement_api.StatementListView.as_view(), name="api-statements"),
    path(
        "statements/<int:statement_id>/",
        statement_api.StatementDetailView.as_view(),
        name="api-statement",
    ),
    path(
        "statements/<int:statement_id>/review/",
        statement_api.StatementReviewView.as_view(),
        name="api-statement-review",
    ),
    path(
        "statements/<int:statement_id>/finalize/",
        statement_api.StatementFinalizeView.as_view(),
        name="api-statement-finalize",
    ),
    path(
        "statements/<int:statement_id>/void/",
        statement_api.StatementVoidView.as_view(),
        name="api-statement-void",
    ),
    path(
        "statements/<int:statement_id>/credit/",
        statement_api.StatementCreditView.as_view(),
        name="api-statement-credit",
    ),
    path(
        "statements/<int:statement_id>/disputes/<int:dispute_id>/reject/",
        statement_api.DisputeRejectView.as_view(),
        name="api-statement-dispute-reject",
    ),
    path(
        "statements/<int:statement_id>/export/",
        statement_api.StatementExportView.as_view(),
        name="api-statement-export",
    ),
    path(
        "tenants/<slug:tenant>/statements/",
        statement_api.TenantStatementListView.as_view(),
        name="api-tenant-statements",
    ),
    path(
        "tenants/<slug:tenant>/statements/<int:statement_id>/",
        statement_api.TenantStatementDetailView.as_view(),
        name="api-tenant-statement",
    ),
    path(
        "tenants/<slug:tenant>/statements/<int:statement_id>/lines/<int:line_id>/disputes/",
        statement_api.LineDisputeView.as_view(),
        name="api-tenant-statement-line-disputes",
    ),
    path(
        "billing-periods/",
        statement_api.BillingPeriodListView.as_view(),
        name="api-billing-periods",
    ),
    path(
        "billing-periods/close/",
        statement_api.BillingPeriodCloseView.as_view(),
        name="api-billing-periods-close",
    ),
]
