"""OpenAPI description of our JWT authentication (drf-spectacular registers it on import)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class BearerTokenScheme(SimpleJWTScheme):
    target_class = "users.authentication.JWTAuthentication"
    name = "bearerAuth"
