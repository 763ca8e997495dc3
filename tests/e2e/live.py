"""Live `make serve` servers on real PostgreSQL and Redis, for tests that speak HTTP to them."""

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Servers under test keep their Redis keys apart from the unit tests' database, which each unit
# test flushes.
LIVE_REDIS_DB = 1


def free_port() -> int:
    """A free TCP port below 32768 (the range above is the kernel's for client connections)."""
    for _ in range(100):
        port = random.randint(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


def live_redis_url() -> str:
    base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    return f"{base}/{LIVE_REDIS_DB}"


@dataclass
class LiveServer:
    """One `make serve` process group; `stop()` ends it whatever state it is in."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def server_env(**overrides: str) -> dict[str, str]:
    """A production-like environment (DEBUG off) with codes exposed so that clients can log in."""
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        REDIS_URL=live_redis_url(),
        OTP_EXPOSE_CODE="true",
        SMS_DELAY_MIN_SECONDS="0.05",
        SMS_DELAY_MAX_SECONDS="0.1",
        OTP_SENDS_PER_IP_PER_HOUR="10000",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="16",
        GUNICORN_ACCESS_LOG="",
    )
    env.update(overrides)
    return env


_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def migrate_once(env: dict[str, str]) -> None:
    """Migrate each database once, before any server of it starts.

    `make serve` migrates too, but servers started side by side on a fresh database would race
    to create the same tables; afterwards their migrate has nothing to do.
    """
    with _migrate_lock:
        if env["DATABASE_URL"] in _migrated:
            return
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
            capture_output=True,
        )
        _migrated.add(env["DATABASE_URL"])


def start_server(*, timeout: float = 120, **overrides: str) -> LiveServer:
    """Run `make serve` on a free port and wait until `/healthz/` answers."""
    port = free_port()
    env = server_env(PORT=str(port), HOST="127.0.0.1", **overrides)
    migrate_once(env)
    log_path = Path(tempfile.mkstemp(prefix="referral-serve-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"make serve exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz/", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"make serve did not answer within {timeout} s:\n{server.log()}")
