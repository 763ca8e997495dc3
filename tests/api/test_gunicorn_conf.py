"""What every gunicorn worker does before its first request (referral_api/gunicorn_conf.py)."""

import os
import subprocess
import sys

from tests.e2e.live import PROJECT_DIR

WORKER_START = """
import gc, sys
import django
django.setup()
from referral_api import gunicorn_conf
gunicorn_conf.post_worker_init(None)
print(gc.get_freeze_count(), "users.views" in sys.modules, sys.getswitchinterval())
"""


def test_worker_start_loads_the_views_and_hides_them_from_the_collector() -> None:
    # A process of its own: freezing the heap of the test process would change its collector.
    result = subprocess.run(
        [sys.executable, "-c", WORKER_START],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "referral_api.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    frozen, views_loaded, switch_interval = result.stdout.split()
    # Django, DRF and the project's views: the objects a full collection no longer walks.
    assert int(frozen) > 50_000
    assert views_loaded == "True"
    assert float(switch_interval) == 0.001
