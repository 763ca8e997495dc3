from rest_framework.routers import SimpleRouter

from invites.views import ProfileInviteViewSet

router = SimpleRouter()
router.register("profile", ProfileInviteViewSet, basename="profile")

urlpatterns = router.urls
