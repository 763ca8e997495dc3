"""The deployment files: docker-compose.yml, Dockerfile, .env.example and the entry point.

There is no Docker engine here, so the image is never built. What can be checked without one is:
the compose file through a real Compose implementation (`config` parses, validates against the
Compose schema, interpolates and resolves without an engine), the Dockerfile through hadolint,
and the entry point's commands against the PostgreSQL and Redis that the tests run on.
"""

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

PROJECT_DIR = Path(__file__).resolve().parents[2]
ENTRYPOINT = PROJECT_DIR / "referral_api" / "entrypoint.sh"
# Variables that would leak from the test run into compose's interpolation.
COMPOSE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "JWT_SIGNING_KEY")


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The Compose command: the v2 plugin if present, else Debian's docker-compose (installed)."""
    found = subprocess.run(
        ["bash", "scripts/install-tools.sh", "compose"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert found.returncode == 0, f"no Compose implementation could be installed:\n{found.stderr}"
    return found.stdout.split()


def compose_config(compose: list[str], folder: Path, dotenv: str) -> subprocess.CompletedProcess:
    """`compose config` on a copy of the project's compose file with `dotenv` as its .env."""
    shutil.copy(PROJECT_DIR / "docker-compose.yml", folder / "docker-compose.yml")
    shutil.copy(PROJECT_DIR / "Dockerfile", folder / "Dockerfile")
    (folder / ".env").write_text(dotenv)
    env = {name: value for name, value in os.environ.items() if name not in COMPOSE_VARIABLES}
    return subprocess.run(
        [*compose, "config"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_dotenv() -> str:
    """.env.example as shipped, with the two keys that it asks the operator to set."""
    example = (PROJECT_DIR / ".env.example").read_text()
    return (
        f"{example}\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"JWT_SIGNING_KEY={secrets.token_urlsafe(32)}\n"
    )


def test_compose_file_is_valid_and_wires_web_to_healthy_db_and_redis(
    compose: list[str], tmp_path: Path
) -> None:
    result = compose_config(compose, tmp_path, production_dotenv())

    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"web", "db", "redis"}
    web, db, redis = services["web"], services["db"], services["redis"]
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert [(str(p["published"]), p["target"]) for p in web["ports"]] == [("8000", 8000)]
    assert web["environment"]["DATABASE_URL"] == "postgres://referral:referral@db:5432/referral"
    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert "/healthz/" in " ".join(web["healthcheck"]["test"])
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["volumes"][0].startswith("postgres-data:/var/lib/postgresql/data") or db["volumes"][
        0
    ] == {"type": "volume", "source": "postgres-data", "target": "/var/lib/postgresql/data"}
    assert redis["image"] == "redis:7"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "postgres-data" in config["volumes"]


def test_compose_file_takes_configuration_from_dotenv() -> None:
    raw = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())

    web = raw["services"]["web"]

    assert web["build"] == "."
    assert web["env_file"] == ".env"


def test_compose_refuses_to_start_without_the_keys(compose: list[str], tmp_path: Path) -> None:
    example = (PROJECT_DIR / ".env.example").read_text()

    result = compose_config(compose, tmp_path, example)

    assert result.returncode != 0
    assert "set DJANGO_SECRET_KEY in .env" in result.stderr


def test_env_example_lists_every_variable_the_code_reads() -> None:
    settings_source = (PROJECT_DIR / "referral_api" / "settings.py").read_text()
    gunicorn_source = (PROJECT_DIR / "referral_api" / "gunicorn_conf.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    read |= set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", gunicorn_source))
    example = (PROJECT_DIR / ".env.example").read_text()
    readme = (PROJECT_DIR / "README.md").read_text()

    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))

    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "GUNICORN_WORKERS", "PORT"} <= read
    assert read - listed == set()
    assert {name for name in read if f"`{name}`" not in readme} == set()


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(PROJECT_DIR / ".venv" / "bin" / "hadolint")

    result = subprocess.run(
        [hadolint, "Dockerfile"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (PROJECT_DIR / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_dockerfile_runs_locked_dependencies_as_non_root_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()

    def arguments(name: str) -> list[str]:
        return [args for instruction, args in instructions if instruction == name]

    # The base, then the build stage and the image, both from it.
    assert arguments("FROM") == ["python:3.11-slim-bookworm AS base", "base AS build", "base"]
    # The locked dependencies, without the dev and local groups.
    assert any(
        "uv sync --frozen" in run and "--no-default-groups" in run for run in arguments("RUN")
    )
    assert any("collectstatic" in run for run in arguments("RUN"))
    user = arguments("USER")[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert any("/healthz/" in healthcheck for healthcheck in arguments("HEALTHCHECK"))
    assert arguments("EXPOSE") == ["8000"]
    assert "referral_api/entrypoint.sh" in arguments("ENTRYPOINT")[-1]
    assert "referral_api/gunicorn_conf.py" in arguments("CMD")[-1]
    ignored = (PROJECT_DIR / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "db.sqlite3"} <= set(ignored)


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production start, on the PostgreSQL and Redis of the test run."""
    env = dict(os.environ)
    env.update(
        PATH=f"{PROJECT_DIR / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(45),
        JWT_SIGNING_KEY=secrets.token_hex(20),
        OTP_EXPOSE_CODE="false",
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
    )
    env.update(overrides)
    return env


def run_entrypoint(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ENTRYPOINT), "python", "-c", "print('ok')"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_entrypoint_checks_migrates_then_runs_the_command() -> None:
    env = production_env()
    assert len(env["DJANGO_SECRET_KEY"]) == 60
    assert len(env["JWT_SIGNING_KEY"]) == 40

    result = run_entrypoint(env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "ok"


def test_entrypoint_refuses_exposed_codes() -> None:
    result = run_entrypoint(production_env(OTP_EXPOSE_CODE="true"))

    assert result.returncode != 0
    assert "users.E002" in result.stderr
    assert "ok" not in result.stdout.splitlines()
