"""Gunicorn settings shared by `make serve` and the Docker image.

Threaded workers: the simulated SMS gateway sleeps 1–2 s inside a request, and a sleeping thread
holds no CPU, so a few processes with many threads keep serving everything else meanwhile.
"""

import gc
import multiprocessing
import os
import sys

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
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# Request lines only: a query string never carries a code or token in this API, and no client
# address is logged (the abuse signals keep only HMACs of addresses: docs/security.md).
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms'


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
