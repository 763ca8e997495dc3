"""The profile and its referrals (`profile/…`), and the leaderboards (`leaderboard/`, staff's)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from invites.views import LeaderboardViewSet, ProfileViewSet, StaffLeaderboardViewSet

app_name = "invites"

router = SimpleRouter()
router.register("profile", ProfileViewSet, basename="profile")

# One object each, not lists: routed by hand so that the schema does not read them as lists.
urlpatterns = [
    path("profile/", ProfileViewSet.as_view({"get": "read"}), name="profile-detail"),
    *router.urls,
    path("leaderboard/", LeaderboardViewSet.as_view({"get": "read"}), name="leaderboard-list"),
    path(
        "staff/leaderboard/",
        StaffLeaderboardViewSet.as_view({"get": "read"}),
        name="staff-leaderboard-list",
    ),
]
