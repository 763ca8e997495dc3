"""What one login and one referral cost Redis and PostgreSQL: the inputs of docs/scaling.md's
capacity model.

    uv run python scripts/capacity.py [--count 300]

Starts its own PostgreSQL and Redis (scripts/services.sh, stopped at the end, also on failure),
then drives the API in process (Django's test client) through each scenario `--count` times and
prints, per operation: Redis commands (top-level calls, and the commands the Lua scripts run
inside them), Redis network bytes in and out, Redis memory still held afterwards (the rolling
windows live for an hour or a day), PostgreSQL rows added per table and WAL bytes written.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

# Top-level commands the app sends; everything else in commandstats ran inside a Lua script.
TOP_LEVEL = {"evalsha", "eval", "wait", "zrem", "script|load", "zincrby", "expire", "del"}
TABLES = [
    "users_user",
    "users_session",
    "users_sighting",
    "token_blacklist_outstandingtoken",
    "invites_referralday",
    "rewards_rewardentry",
    "rewards_rewardbalance",
]


def measure(count: int) -> dict[str, Any]:
    """Runs inside Django, on the services' PostgreSQL (a test database) and Redis."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_api.settings")
    django.setup()
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from django_redis import get_redis_connection
    from rest_framework.test import APIClient

    from tests.login import bearer, request_code, sent_code, verify_code
    from users.sms import MemoryBackend

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    redis = get_redis_connection("default")
    redis.flushdb()
    outbox = MemoryBackend.outbox

    def snapshot() -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            (lsn,) = cursor.fetchone()
            rows = {}
            for table in TABLES:
                cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                rows[table] = cursor.fetchone()[0]
        stats = redis.info("stats")
        return {
            "lsn": lsn,
            "rows": rows,
            "commands": {
                name.removeprefix("cmdstat_"): value["calls"]
                for name, value in redis.info("commandstats").items()
            },
            "net_in": stats["total_net_input_bytes"],
            "net_out": stats["total_net_output_bytes"],
            "memory": redis.info("memory")["used_memory"],
        }

    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(%s, %s)", [after["lsn"], before["lsn"]])
            (wal,) = cursor.fetchone()
        commands = Counter(after["commands"])
        commands.subtract(before["commands"])
        top = {name: n / count for name, n in commands.items() if n and name in TOP_LEVEL}
        inner = {name: n / count for name, n in commands.items() if n and name not in TOP_LEVEL}
        return {
            "redis_top_level_per_op": top,
            "redis_inside_scripts_per_op": inner,
            "redis_top_level_total": sum(top.values()),
            "redis_net_in_bytes": (after["net_in"] - before["net_in"]) / count,
            "redis_net_out_bytes": (after["net_out"] - before["net_out"]) / count,
            "redis_memory_held_bytes": (after["memory"] - before["memory"]) / count,
            "pg_rows_per_op": {
                table: (after["rows"][table] - before["rows"][table]) / count
                for table in TABLES
                if after["rows"][table] != before["rows"][table]
            },
            "pg_wal_bytes": float(wal) / count,
        }

    def log_in(client: APIClient, phone: str, number: int, **fields: Any) -> dict[str, Any]:
        address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        assert request_code(client, phone, REMOTE_ADDR=address).status_code == 200
        response = verify_code(client, phone, sent_code(outbox, phone), **fields)
        assert response.status_code == 200, response.content
        return dict(response.json())

    results: dict[str, Any] = {}
    limits = {
        "SMS_BACKEND": "users.sms.MemoryBackend",
        "OTP_EXPOSE_CODE": False,
        "OTP_RESEND_COOLDOWN_SECONDS": 0,
        "OTP_SENDS_PER_IP_PER_HOUR": 10**6,
        "ALLOWED_HOSTS": ["testserver"],
    }
    try:
        with override_settings(**limits):
            client = APIClient()
            phones = [f"+7999{number:07d}" for number in range(count)]
            before = snapshot()
            users = [log_in(client, phone, number) for number, phone in enumerate(phones)]
            results["sign-up (request-code + verify-code, a new phone)"] = delta(before, snapshot())

            before = snapshot()
            for number, phone in enumerate(phones):
                log_in(client, phone, count + number)
            results["sign-in (request-code + verify-code, a known phone)"] = delta(
                before, snapshot()
            )

            owners = [body["user"]["invite_code"] for body in users[:10]]
            before = snapshot()
            for number in range(count):
                phone = f"+7998{number:07d}"
                log_in(client, phone, 2 * count + number, invite_code=owners[number % 10])
            results["referral (sign-up with an invite code)"] = delta(before, snapshot())

            client.credentials(**bearer(users[0]["access"]))
            reads = {
                "GET /profile/": reverse("invites:profile-detail"),
                "GET /profile/referrals/": reverse("invites:profile-referrals"),
                "GET /leaderboard/": reverse("invites:leaderboard-list"),
            }
            for name, url in reads.items():
                before = snapshot()
                for _ in range(count):
                    assert client.get(url).status_code == 200
                results[name] = delta(before, snapshot())
    finally:
        redis.flushdb()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return results


def print_table(results: dict[str, Any], count: int) -> None:
    print(f"per operation, mean of {count} (scripts/capacity.py --count {count})")
    for name, result in results.items():
        print(f"\n{name}")
        top = ", ".join(f"{n:g} {c}" for c, n in sorted(result["redis_top_level_per_op"].items()))
        inner = sum(result["redis_inside_scripts_per_op"].values())
        print(f"  Redis round-trip commands: {result['redis_top_level_total']:g} ({top or '-'})")
        print(f"  Redis commands inside scripts: {inner:g}")
        print(
            f"  Redis network: {result['redis_net_in_bytes']:.0f} B in, "
            f"{result['redis_net_out_bytes']:.0f} B out"
        )
        print(f"  Redis memory held afterwards: {result['redis_memory_held_bytes']:.0f} B")
        rows = ", ".join(f"{n:g} {t}" for t, n in result["pg_rows_per_op"].items())
        print(f"  PostgreSQL rows added: {rows or '-'}")
        print(f"  PostgreSQL WAL: {result['pg_wal_bytes']:.0f} B")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="operations per scenario")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", default="", help="also write the figures as JSON here")
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(measure(args.count)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="referral-capacity-"))
    services = work / "services"
    try:
        subprocess.run(
            ["bash", str(PROJECT / "scripts/services.sh"), "start", str(services)],
            check=True,
            capture_output=True,
        )
        env = dict(os.environ, DJANGO_DEBUG="false", DJANGO_LOG_LEVEL="WARNING")
        for line in (services / "env").read_text().splitlines()[1:]:
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        inside = subprocess.run(
            [sys.executable, __file__, "--inside", "--count", str(args.count)],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT,
        )
        if inside.returncode != 0:
            print(inside.stderr, file=sys.stderr)
            return 1
        results = json.loads(inside.stdout.splitlines()[-1])
    finally:
        subprocess.run(
            ["bash", str(PROJECT / "scripts/services.sh"), "stop", str(services)],
            check=False,
            capture_output=True,
        )
        subprocess.run(["rm", "-rf", "--", str(work)], check=False)
    print_table(results, args.count)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
