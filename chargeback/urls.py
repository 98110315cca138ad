from django.urls import path

from chargeback import api

urlpatterns = [
    path("tenants/<slug:tenant>/estimates/", api.EstimateView.as_view(), name="api-estimates"),
    path("prices/", api.PriceListView.as_view(), name="api-prices"),
    path("price-sources/", api.PriceSourceListView.as_view(), name="api-price-sources"),
    path(
        "price-sources/refresh/", api.PriceRefreshView.as_view(), name="api-price-sources-refresh"
    ),
    path("rate-cards/", api.RateCardListView.as_view(), name="api-rate-cards"),
    path("rate-cards/current/", api.RateCardCurrentView.as_view(), name="api-rate-card-current"),
]
