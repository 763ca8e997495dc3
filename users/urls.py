"""Phone login and tokens: `auth/request-code/`, `verify-code/`, `refresh/`, `logout/`."""

from rest_framework.routers import SimpleRouter

from users.views import AuthViewSet

app_name = "users"

router = SimpleRouter()
router.register("auth", AuthViewSet, basename="auth")

urlpatterns = router.urls
