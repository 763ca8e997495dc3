"""The profile resource: `profile/` and its actions (activate-invite, referrals)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from invites.views import ProfileViewSet

app_name = "invites"

router = SimpleRouter()
router.register("profile", ProfileViewSet, basename="profile")

urlpatterns = [
    path("profile/", ProfileViewSet.as_view({"get": "read"}), name="profile-detail"),
    *router.urls,
]
