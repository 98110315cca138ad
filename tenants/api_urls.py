from django.urls import path

from tenants.api import tenants

urlpatterns = [
    path("tenants/", tenants.TenantListView.as_view(), name="api-tenants"),
]

tenant_urlpatterns = [
    path("", tenants.TenantDetailView.as_view(), name="api-tenant"),
    path("members/", tenants.MemberListView.as_view(), name="api-members"),
    path("members/<int:pk>/", tenants.MemberDetailView.as_view(), name="api-member"),
    path("tokens/", tenants.TokenListView.as_view(), name="api-tokens"),
    path("tokens/<int:pk>/", tenants.TokenDetailView.as_view(), name="api-token"),
    path("webhooks/", tenants.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", tenants.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/deliveries/",
        tenants.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<uuid:delivery_id>/redeliver/",
        tenants.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
]
