# syntax=docker/dockerfile:1
# The production image: gunicorn as `make serve` runs it, on PostgreSQL and Redis named by
# DATABASE_URL and REDIS_URL. See docs/operations.md.
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    PORT=8000

WORKDIR /app

# The build stage installs, compiles, collects and trims; the image below copies only its result,
# so what a step deletes here takes no room in any layer of the image.
FROM base AS build

# Dependencies first, from the lock file only, so code changes reuse this layer.
# uv from PyPI (the same version the project is developed with) is used only to install: it
# lives in /tmp for this one step.
# pip and uv trust the system's CA bundle: a host that reaches PyPI through its own CA mounts its
# bundle over that file for the build only (scripts/image.sh), so it never enters a layer.
# --no-default-groups: neither the development tools (dev) nor fakeredis (local, for `make run`
# without a Redis server). --no-install-package: aiohttp and the packages only it needs are
# installed with twilio for its asyncio client (twilio.http.async_http_client), which the
# project does not use: users/sms_providers.py sends through the synchronous TwilioHttpClient.
COPY pyproject.toml uv.lock ./
RUN PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        pip install --no-cache-dir --target /tmp/uv uv==0.13.8 \
    && SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
        /tmp/uv/bin/uv sync --frozen --no-default-groups --no-install-project --no-cache \
        --no-install-package aiohttp --no-install-package aiohttp-retry \
        --no-install-package aiohappyeyeballs --no-install-package aiosignal \
        --no-install-package frozenlist --no-install-package multidict \
        --no-install-package propcache --no-install-package yarl \
    && rm -rf /tmp/uv

# Debian's gettext, for compilemessages below (the image never gets it).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

COPY manage.py ./
COPY referral_api ./referral_api
COPY users ./users
COPY invites ./invites
COPY rewards ./rewards
COPY web ./web
COPY locale ./locale

# Translation catalogs: .po → .mo (compiled files are never committed).
# Static files (admin, Swagger UI, ReDoc, the web pages') are collected; whitenoise serves them.
# Source maps (*.map, 8 MB with their compressed copies) are left out: only a browser's developer
# tools ask for them. The key is a throwaway for these commands: settings need none to collect
# files.
# Bytecode is compiled for what the server imports (the project, and the libraries that `check`,
# which loads every app and the URLconf, and gunicorn import), not for every module installed:
# the unused parts of large libraries (Twilio's REST resources) would double their size in the
# image for nothing.
RUN export DJANGO_SECRET_KEY=collectstatic-only-build-time-key \
    && python manage.py compilemessages --ignore .venv \
    && python manage.py collectstatic --noinput --ignore '*.map' \
    && PYTHONDONTWRITEBYTECODE='' python manage.py check \
    && PYTHONDONTWRITEBYTECODE='' python -c "import referral_api.wsgi, gunicorn.app.wsgiapp, gunicorn.workers.gthread, gunicorn.glogging" \
    && python -m compileall -q manage.py referral_api users invites rewards web

# What the server never reads, out of the installed libraries (about 45 MB):
# - translation sources (*.po): Django reads only the compiled .mo files next to them;
# - catalogs and date/number formats of languages other than the project's (LANGUAGES: en, ru);
# - the libraries' static/ folders: collectstatic has copied them to staticfiles/, the only
#   place whitenoise serves from.
RUN site=.venv/lib/python3.11/site-packages \
    && find "$site" -name '*.po' -delete \
    && find "$site" -type d -path '*/locale/*' ! -path '*/locale/*/*' \
        ! -name en ! -name ru ! -name __pycache__ -prune -exec rm -rf {} + \
    && find "$site" -type d -name static -prune -exec rm -rf {} +

# The image: the base and the build's result, nothing else (no gettext, no uv, no apt lists).
FROM base

COPY --from=build /app/.venv ./.venv
COPY --from=build /app/manage.py ./
COPY --from=build /app/referral_api ./referral_api
COPY --from=build /app/users ./users
COPY --from=build /app/invites ./invites
COPY --from=build /app/rewards ./rewards
COPY --from=build /app/web ./web
COPY --from=build /app/locale ./locale
COPY --from=build /app/staticfiles ./staticfiles

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app app

# Numeric, so that runtimes that enforce "run as non-root" can verify it.
USER 10001:10001

EXPOSE 8000

# Liveness: /healthz/ touches no dependency. The Host header is the first allowed host, so the
# probe passes whatever DJANGO_ALLOWED_HOSTS says.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); host = 'localhost' if host in ('', '*') else host; req = urllib.request.Request('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz/', headers={'Host': host}); urllib.request.urlopen(req, timeout=4)"]

# check --deploy and migrate, then the command.
ENTRYPOINT ["/bin/sh", "/app/referral_api/entrypoint.sh"]
CMD ["gunicorn", "-c", "referral_api/gunicorn_conf.py", "referral_api.wsgi:application"]
