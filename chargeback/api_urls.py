from django.urls import path

from chargeback.api import budgets, estimates, prices, statements

urlpatterns = [
    path("prices/", prices.PriceListView.as_view(), name="api-prices"),
    path("price-sources/", prices.PriceSourceListView.as_view(), name="api-price-sources"),
    path(
        "price-sources/refresh/",
        prices.PriceRefreshView.as_view(),
        name="api-price-sources-refresh",
    ),
    path(
        "price-sources/<slug:name>/items/",
        prices.PriceSourceItemsView.as_view(),
        name="api-price-source-items",
    ),
    path("rate-cards/", prices.RateCardListView.as_view(), name="api-rate-cards"),
    path("rate-cards/current/", prices.RateCardCurrentView.as_view(), name="api-rate-card-current"),
    # Statements
    path("statements/", statements.StatementListView.as_view(), name="api-statements"),
    path(
        "statements/<int:statement_id>/",
        statements.StatementDetailView.as_view(),
        name="api-statement",
    ),
    path(
        "statements/<int:statement_id>/review/",
        statements.StatementReviewView.as_view(),
        name="api-statement-review",
    ),
    path(
        "statements/<int:statement_id>/finalize/",
        statements.StatementFinalizeView.as_view(),
        name="api-statement-finalize",
    ),
    path(
        "statements/<int:statement_id>/void/",
        statements.StatementVoidView.as_view(),
        name="api-statement-void",
    ),
    path(
        "statements/<int:statement_id>/credit/",
        statements.StatementCreditView.as_view(),
        name="api-statement-credit",
    ),
    path(
        "statements/<int:statement_id>/disputes/<int:dispute_id>/reject/",
        statements.DisputeRejectView.as_view(),
        name="api-statement-dispute-reject",
    ),
    path(
        "statements/<int:statement_id>/export/",
        statements.StatementExportView.as_view(),
        name="api-statement-export",
    ),
    path(
        "billing-periods/",
        statements.BillingPeriodListView.as_view(),
        name="api-billing-periods",
    ),
    path(
        "billing-periods/close/",
        statements.BillingPeriodCloseView.as_view(),
        name="api-billing-periods-close",
    ),
]

tenant_urlpatterns = [
    path("estimates/", estimates.EstimateView.as_view(), name="api-estimates"),
    path("budget/", budgets.BudgetView.as_view(), name="api-budget"),
    path(
        "statements/",
        statements.TenantStatementListView.as_view(),
        name="api-tenant-statements",
    ),
    path(
        "statements/<int:statement_id>/",
        statements.TenantStatementDetailView.as_view(),
        name="api-tenant-statement",
    ),
    path(
        "statements/<int:statement_id>/lines/<int:line_id>/disputes/",
        statements.LineDisputeView.as_view(),
        name="api-tenant-statement-line-disputes",
    ),
]
