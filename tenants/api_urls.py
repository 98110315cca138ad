from django.urls import path

from tenants.api import tenants

urlpatterns = [
    path("tenants/", tenants.TenantListView.as_view(), name="api-tenants"),
    path("tenants/<slug:tenant>/", tenants.TenantDetailView.as_view(), name="api-tenant"),
    path("tenants/<slug:tenant>/members/", tenants.MemberListView.as_view(), name="api-members"),
    path(
        "tenants/<slug:tenant>/members/<int:pk>/",
        tenants.MemberDetailView.as_view(),
        name="api-member",
    ),
    path("tenants/<slug:tenant>/tokens/", tenants.TokenListView.as_view(), name="api-tokens"),
    path(
        "tenants/<slug:tenant>/tokens/<int:pk>/",
        tenants.TokenDetailView.as_view(),
        name="api-token",
    ),
    path("tenants/<slug:tenant>/webhooks/", tenants.WebhookListView.as_view(), name="api-webhooks"),
    path(
        "tenants/<slug:tenant>/webhooks/<int:pk>/",
        tenants.WebhookDetailView.as_view(),
        name="api-webhook",
    ),
    path(
        "tenants/<slug:tenant>/webhooks/<int:pk>/deliveries/",
        tenants.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "tenants/<slug:tenant>/webhooks/<int:pk>/deliveries/<uuid:delivery_id>/redeliver/",
        tenants.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
]
