from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from referral_api.api_docs import RedocView, SchemaView
from referral_api.health import HealthView, ReadinessView
from referral_api.metrics_view import metrics_view

api_v1 = [
    path("", include("users.urls", namespace="users")),
    path("", include("invites.urls", namespace="invites")),
    path("", include("rewards.urls", namespace="rewards")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("healthz/", HealthView.as_view(), name="healthz"),
    path("readyz/", ReadinessView.as_view(), name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    # The web interface: /, /i/<code>/, sign-in, the profile and /.well-known/ (docs/web.md).
    path("", include("web.urls", namespace="web")),
]

handler400 = "referral_api.errors.bad_request"
handler403 = "referral_api.errors.permission_denied"
handler404 = "referral_api.errors.page_not_found"
handler500 = "referral_api.errors.server_error"
