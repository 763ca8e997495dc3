from django.urls import path
from rest_framework.routers import SimpleRouter

from users.views import AuthViewSet, ProfileViewSet, SessionViewSet

# Two routers because a basename is unique per router: logout needs a signed-in caller, the
# other auth actions must not even look at an Authorization header.
public_router = SimpleRouter()
public_router.register("auth", AuthViewSet, basename="auth")
session_router = SimpleRouter()
session_router.register("auth", SessionViewSet, basename="auth")

urlpatterns = [
    *public_router.urls,
    *session_router.urls,
    path("profile/", ProfileViewSet.as_view({"get": "retrieve"}), name="profile-detail"),
]
