"""`make bench-chains`: an activation at the bottom of referral chains 1,000 to 100,000 deep.

Starts its own PostgreSQL and Redis on loopback (scripts/services.sh), migrates, runs
`manage.py bench_chains` (chains loaded by COPY, activations timed in interleaved rounds; see
bench_tools/management/commands/bench_chains.py), prints its table and stops what it started,
also on failure. Arguments after the script's own go to bench_chains, e.g.
`uv run python scripts/chain_bench.py --depths 1 1000 10000 100000 --rounds 30`.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
UV = os.environ.get("UV", "uv").split()
SERVICES = ["bash", str(PROJECT / "scripts/services.sh")]


def services_env(services: Path) -> dict[str, str]:
    """This environment with the variables services.sh wrote to DIR/env."""
    env = dict(os.environ)
    for line in (services / "env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    return env


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="referral-chain-bench-"))
    services = work / "services"
    try:
        subprocess.run([*SERVICES, "start", str(services)], check=True, stdout=subprocess.DEVNULL)
        env = services_env(services)
        env.update(BENCH_TOOLS="true", DJANGO_DEBUG="false")
        manage = [*UV, "run", "python", "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True)
        return subprocess.run(
            [*manage, "bench_chains", *sys.argv[1:]], cwd=PROJECT, env=env, check=False
        ).returncode
    finally:
        subprocess.run([*SERVICES, "stop", str(services)], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())
