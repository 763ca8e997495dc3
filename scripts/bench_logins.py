"""Sign-ups of several checkouts of this project side by side, round by round, on one database.

A code change to the login moves its `make bench` ratio by less than the machine's drift between
two runs, so this pairs the versions in the same minutes: each checkout's `make serve` is up at
once (on the same PostgreSQL and Redis), and every round visits them in turn: a `/healthz/`
slice, then a slice of sign-ups (POST /verify-code/ for distinct new phones, 16 connections, the
bench's own wrk script). It prints each round's ratio of the two rates, their median per
checkout, and the CPU each request of both slices cost the server's processes, PostgreSQL,
Redis and wrk (their /proc times over the slice, divided by its requests).

Run it with PostgreSQL and Redis up and their environment loaded (`make services`, then
`source <dir>/env`), the checkouts being clones at the commits to compare:

    uv run python scripts/bench_logins.py /tmp/before /tmp/after --rounds 6
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import bench  # noqa: E402 - beside this file
from bench import SERVER_ENV, VERIFY_LUA, ensure_wrk, start_server, stop_server, wrk  # noqa: E402

# Codes stored for each sign-up slice: more than the fastest slice signs up (about 800 a second).
CODES_PER_SLICE = 10_000


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) of every process on the machine, summed by program name, and
    of this script's finished children (wrk)."""
    totals: dict[str, float] = defaultdict(float)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")].split()[0]
        fields = stat[stat.rindex(")") + 2 :].split()
        totals[name] += (int(fields[11]) + int(fields[12])) / tick
    # wrk has exited by the time a slice is measured: its time is in the finished children's.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["wrk"] = children.ru_utime + children.ru_stime
    return totals


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> str:
    """The CPU milliseconds each request cost the server's processes, the databases and wrk
    (which runs on the same cores), and their sum: the machine's whole cost of one request."""
    costs = {
        name: (after.get(name, 0) - before.get(name, 0)) * 1000 / max(requests, 1)
        for name in ("gunicorn", "postgres", "redis-server", "wrk")
    }
    shown = ", ".join(f"{name} {cost:.2f}" for name, cost in costs.items())
    return f"{sum(costs.values()):.2f} ({shown})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=8, help="length of a sign-up slice")
    args = parser.parse_args()
    ensure_wrk()
    os.environ.update(SERVER_ENV, DJANGO_SETTINGS_MODULE="referral_api.settings")
    import django

    django.setup()
    from users import otp

    work = Path(tempfile.mkdtemp(prefix="bench-logins-"))
    script = work / "verify.lua"
    script.write_text(VERIFY_LUA)
    # New phones: +7990 and seven digits, a fresh block of them for every run.
    first_phone = int(time.time()) % 1000 * 10_000

    def codes_file(slice_number: int) -> Path:
        path = work / f"codes-{slice_number}.txt"
        lines = []
        for index in range(CODES_PER_SLICE):
            phone = f"+7990{(first_phone + slice_number * CODES_PER_SLICE + index) % 10**7:07d}"
            code = otp.generate_code()
            stored = otp.store_code(phone=phone, code=code, client_ip=f"bench-{slice_number}")
            if stored.status != "ok":
                raise RuntimeError(f"no code stored for {phone}: {stored.status}")
            lines.append(f"{phone},{code}\n")
        path.write_text("".join(lines))
        return path

    servers: list = []
    ratios: dict[Path, list[float]] = {checkout: [] for checkout in args.checkouts}
    try:
        bases = []
        for number, checkout in enumerate(args.checkouts):
            bench.PROJECT = checkout.resolve()
            bases.append(start_server(dict(os.environ), work / f"server-{number}.log", servers))
        slices = 0
        for round_number in range(args.rounds):
            for checkout, base in zip(args.checkouts, bases, strict=True):
                codes = codes_file(slices)
                slices += 1
                before = cpu_seconds()
                healthz = wrk("GET /healthz/", f"{base}/healthz/", seconds=4, connections=16)
                between = cpu_seconds()
                signups = wrk(
                    "sign-up",
                    f"{base}/",
                    seconds=args.seconds,
                    connections=16,
                    script=str(script),
                    env={**os.environ, "BENCH_CODES_FILE": str(codes)},
                )
                after = cpu_seconds()
                ratios[checkout].append(signups.rps / healthz.rps)
                print(
                    f"round {round_number + 1} {checkout}: /healthz/ {healthz.rps:.0f}/s, "
                    f"sign-ups {signups.rps:.0f}/s ({signups.errors} errors), "
                    f"{signups.rps / healthz.rps:.1%}; CPU ms a /healthz/ "
                    f"{cpu_per_request(before, between, healthz.requests)}, a sign-up "
                    f"{cpu_per_request(between, after, signups.requests)}",
                    flush=True,
                )
    finally:
        for server in servers:
            stop_server(server)
    for checkout, values in ratios.items():
        rounds = ", ".join(f"{value:.1%}" for value in values)
        print(f"{checkout}: median {statistics.median(values):.1%} (rounds: {rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
