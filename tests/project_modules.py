"""The project's own modules, read from source (nothing is imported): for tests about the code."""

from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# The project's packages; `rewards` and `web` join when they exist.
PACKAGES = ("referral_api", "users", "invites", "bench_tools", "rewards", "web")
# The packages that are Django apps (everything but the `referral_api` foundation).
APPS = frozenset({"users", "invites", "rewards", "web", "bench_tools"})


def module_files(base: Path = BASE_DIR) -> dict[str, Path]:
    """Dotted module name → file, for every non-migration module of PACKAGES."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        root = base / package
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules
