from django.urls import path

from chargeback.views import costs, finance, prices, statements

urlpatterns = [
    path("finance/statements/", finance.finance_statements, name="finance-statements"),
    path("finance/close/", finance.finance_close, name="finance-close"),
    path("prices/", prices.price_catalog, name="price-catalog"),
]

tenant_urlpatterns = [
    path("costs/", costs.tenant_costs, name="tenant-costs"),
    path("statements/<int:statement_id>/", statements.tenant_statement, name="tenant-statement"),
]
