"""Gunicorn settings shared by `make serve` and the Docker image.

Threaded workers: the simulated SMS gateway sleeps 1–2 s inside a request, and a sleeping thread
holds no CPU, so a few processes with many threads keep serving everything else meanwhile.
"""

import gc
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# All interfaces by default on purpose (bandit B104): inside the container Docker publishes the
# port; `make serve` and the tests pass HOST=127.0.0.1.
_host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104  # nosec
bind = f"{_host}:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
# Two processes a core: threads of one process share its GIL, and a thread back from I/O waits
# for it; a second process per core keeps a core busy meanwhile (measured: docs/performance.md).
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "128"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
# Off by default: the app logs every request itself, as JSON with its request id, route (not
# path), status and duration (docs/operations.md › Logs). `GUNICORN_ACCESS_LOG=-` turns gunicorn's
# on (or a file path), as JSON lines too.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "") or None
errorlog = "-"
# Request lines only: a query string never carries a code or token in this API, and no client
# address is logged (the abuse signals keep only HMACs of addresses: docs/security.md).
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms'


def _json_logging(access_log: str | None) -> dict[str, object]:
    """Gunicorn's own lines (start, workers, errors) in the app's JSON format, one a line."""
    stream = {"class": "logging.StreamHandler", "formatter": "json"}
    if access_log is None:
        access: dict[str, object] = {"class": "logging.NullHandler"}
    elif access_log == "-":
        access = {**stream, "stream": "ext://sys.stdout"}
    else:
        access = {"class": "logging.FileHandler", "formatter": "json", "filename": access_log}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "referral_api.log_format.JsonFormatter"}},
        "handlers": {
            "console": {**stream, "stream": "ext://sys.stderr"},
            "error_console": {**stream, "stream": "ext://sys.stderr"},
            "access": access,
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }


logconfig_dict = _json_logging(accesslog)


def post_worker_init(worker: object) -> None:
    # A thread back from I/O (a database answer, a socket write) waits for the GIL until the
    # running thread yields it: after 5 ms by default. 1 ms keeps short requests short.
    sys.setswitchinterval(float(os.environ.get("GUNICORN_SWITCH_INTERVAL", "0.001")))
    # Django imports the URLconf, and with it every view, at the first request: import it now,
    # then move everything loaded so far out of the garbage collector's sight. A full collection
    # walks every tracked object (about 110,000 after start-up) while holding the GIL, and under
    # load it stopped a worker's threads for 40-400 ms at a time (docs/performance.md).
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import is the point
    gc.collect()
    gc.freeze()


# Metrics (docs/operations.md › Metrics): each worker writes its values to files in one
# directory, which `/metrics` adds up. Set before any worker imports prometheus_client.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def _metrics_dir() -> str:
    """The multi-process directory, emptied: values of an earlier run must not be added in."""
    if _OWN_METRICS_DIR:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="referral-metrics-")
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return str(path)


_metrics_dir()


def child_exit(server: object, worker: Any) -> None:
    # A dead worker's counters stay (they are totals); its live gauges go.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: object) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
