#!/bin/sh
# Container entry point (also usable on a host): refuse an unsafe configuration, bring the
# database schema up to date, then run the command given (gunicorn in the image).
#
#   referral_api/entrypoint.sh gunicorn -c referral_api/gunicorn_conf.py referral_api.wsgi:application
#
# `check --deploy` fails on codes kept in process memory (no REDIS_URL), exposed codes,
# development or derived keys and DEBUG (users/checks.py, users.E001-E005).
set -eu

cd "$(dirname "$0")/.."

python manage.py check --deploy
python manage.py migrate --noinput

exec "$@"
