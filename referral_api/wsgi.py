"""WSGI entry point for gunicorn (`make serve`, the Docker image)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_api.settings")

application = get_wsgi_application()
