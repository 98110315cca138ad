from django.urls import path

from tenants import api

urlpatterns = [
    path("tenants/", api.TenantListView.as_view(), name="api-tenants"),
    path("tenants/<slug:tenant>/", api.TenantDetailView.as_view(), name="api-tenant"),
    path("tenants/<slug:tenant>/members/", api.MemberListView.as_view(), name="api-members"),
    path(
        "tenants/<slug:tenant>/members/<int:pk>/", api.MemberDetailView.as_view(), name="api-member"
    ),
    path("tenants/<slug:tenant>/tokens/", api.TokenListView.as_view(), name="api-tokens"),
    path("tenants/<slug:tenant>/tokens/<int:pk>/", api.TokenDetailView.as_view(), name="api-token"),
    path("tenants/<slug:tenant>/webhooks/", api.WebhookListView.as_view(), name="api-webhooks"),
    path(
        "tenants/<slug:tenant>/webhooks/<int:pk>/",
        api.WebhookDetailView.as_view(),
        name="api-webhook",
    ),
    path(
        "tenants/<slug:tenant>/webhooks/<int:pk>/deliveries/",
        api.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "tenants/<slug:tenant>/webhooks/<int:pk>/deliveries/<uuid:delivery_id>/redeliver/",
        api.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
]
