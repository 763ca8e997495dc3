"""The profile and its referrals (`profile/…`), and the leaderboards (`leaderboard/`, staff's)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from invites.views import LeaderboardViewSet, ProfileViewSet, StaffLeaderboardViewSet

app_name = "invites"

router = SimpleRouter()
router.register("profile", ProfileViewSet, basename="profile")
router.register("leaderboard", LeaderboardViewSet, basename="leaderboard")
router.register("staff/leaderboard", StaffLeaderboardViewSet, basename="staff-leaderboard")

urlpatterns = [
    path("profile/", ProfileViewSet.as_view({"get": "read"}), name="profile-detail"),
    *router.urls,
]
