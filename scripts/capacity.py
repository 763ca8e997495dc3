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
import functools
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

# Top-level commands the app sends; everything else in commandstats ran inside a Lua script
# (commandstats counts both; the scripts use PEXPIRE, the leaderboard's pipeline EXPIRE).
TOP_LEVEL = {"evalsha", "eval", "wait", "zrem", "script|load", "zincrby", "expire"}
# This script's own commands.
MEASURING = {"info", "scan", "memory|usage", "flushdb"}
# Redis keys grouped by kind, for their count and size (MEMORY USAGE).
KEY_KINDS = {
    "referral:otp:{phone}:sends": re.compile(r"^referral:otp:\{[^}]+\}:sends$"),
    "referral:otp:{phone}:code": re.compile(r"^referral:otp:\{[^}]+\}:code$"),
    "referral:otp:{phone}:fails": re.compile(r"^referral:otp:\{[^}]+\}:fails$"),
    "referral:otp:ip:<ip>": re.compile(r"^referral:otp:ip:"),
    "referral:abuse:owner:<id>": re.compile(r"^referral:abuse:owner:"),
    "referral:abuse:ip:<digest>": re.compile(r"^referral:abuse:ip:"),
    "referral:leaderboard:*": re.compile(r"^referral:leaderboard:"),
    "{referral:leaderboard:*}:phones": re.compile(r"^\{referral:leaderboard:[^}]+\}:phones$"),
}
TABLES = [
    "users_user",
    "users_session",
    "users_sighting",
    "token_blacklist_outstandingtoken",
    "invites_referralday",
    "rewards_rewardentry",
    "rewards_rewardbalance",
]


SEED_START = 1_000_000
USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"


def measure(count: int, seed: int) -> dict[str, Any]:
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

    from rewards.services import reward_rule_create
    from tests.login import bearer, request_code, sent_code, verify_code
    from users.sms import MemoryBackend

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    redis = get_redis_connection("default")
    redis.flushdb()
    outbox = MemoryBackend.outbox

    def key_sizes() -> dict[str, list[int]]:
        keys: dict[str, list[int]] = {kind: [0, 0] for kind in KEY_KINDS}
        for key in redis.scan_iter(count=1000):
            name = key.decode()
            kind = next((kind for kind, shape in KEY_KINDS.items() if shape.match(name)), name)
            held = keys.setdefault(kind, [0, 0])
            held[0] += 1
            held[1] += redis.memory_usage(key) or 0
        return keys

    def snapshot(*, before: bool) -> dict[str, Any]:
        # The key scan is outside the measured interval: before the counters at the start,
        # after them at the end.
        keys = key_sizes() if before else {}
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            (lsn,) = cursor.fetchone()
            rows = {}
            for table in TABLES:
                cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                rows[table] = cursor.fetchone()[0]
        stats = redis.info("stats")
        commandstats = redis.info("commandstats")
        taken = {
            "lsn": lsn,
            "rows": rows,
            "commands": {
                name.removeprefix("cmdstat_"): value["calls"]
                for name, value in commandstats.items()
            },
            # Redis CPU of the top-level commands (a script's includes what it runs).
            "usec": sum(
                value["usec"]
                for name, value in commandstats.items()
                if name.removeprefix("cmdstat_") in TOP_LEVEL
            ),
            "net_in": stats["total_net_input_bytes"],
            "net_out": stats["total_net_output_bytes"],
            "memory": redis.info("memory")["used_memory"],
        }
        taken["keys"] = keys or key_sizes()
        return taken

    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(%s, %s)", [after["lsn"], before["lsn"]])
            (wal,) = cursor.fetchone()
        commands = Counter(after["commands"])
        commands.subtract(before["commands"])
        for name in MEASURING:
            commands.pop(name, None)
        top = {name: n / count for name, n in commands.items() if n and name in TOP_LEVEL}
        inner = {name: n / count for name, n in commands.items() if n and name not in TOP_LEVEL}
        return {
            "redis_top_level_per_op": top,
            "redis_inside_scripts_per_op": inner,
            "redis_top_level_total": sum(top.values()),
            "redis_cpu_us": (after["usec"] - before["usec"]) / count,
            "redis_net_in_bytes": (after["net_in"] - before["net_in"]) / count,
            "redis_net_out_bytes": (after["net_out"] - before["net_out"]) / count,
            "redis_memory_held_bytes": (after["memory"] - before["memory"]) / count,
            "redis_keys_added_per_op": {
                kind: (held[0] - before["keys"].get(kind, [0, 0])[0]) / count
                for kind, held in after["keys"].items()
                if held[0] != before["keys"].get(kind, [0, 0])[0]
            },
            "redis_bytes_per_key": {
                kind: held[1] / held[0] for kind, held in after["keys"].items() if held[0]
            },
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

            def read_many(client: APIClient, url: str, times: int) -> None:
                for _ in range(times):
                    assert client.get(url).status_code == 200

            def measured(name: str, work: Callable[[], Any]) -> Any:
                before = snapshot(before=True)
                done = work()
                results[name] = delta(before, snapshot(before=False))
                return done

            phones = [f"+7999{number:07d}" for number in range(count)]
            users = measured(
                "sign-up (request-code + verify-code, a new phone)",
                lambda: [log_in(client, phone, number) for number, phone in enumerate(phones)],
            )
            measured(
                "sign-in (request-code + verify-code, a known phone)",
                lambda: [log_in(client, phone, count + n) for n, phone in enumerate(phones)],
            )
            owners = [body["user"]["invite_code"] for body in users[:10]]
            # A referral program runs: each referral also writes its reward entries.
            reward_rule_create(staff=None, referrer_amount=100, referee_amount=50)
            measured(
                "referral (sign-up with an invite code)",
                lambda: [
                    log_in(client, f"+7998{n:07d}", 2 * count + n, invite_code=owners[n % 10])
                    for n in range(count)
                ],
            )
            client.credentials(**bearer(users[0]["access"]))
            reads = {
                "GET /profile/": reverse("invites:profile-detail"),
                "GET /profile/referrals/": reverse("invites:profile-referrals"),
                "GET /leaderboard/": reverse("invites:leaderboard-list"),
            }
            for name, url in reads.items():
                measured(name, functools.partial(read_many, client, url, count))
        results["bytes per row"] = row_sizes(seed)
        results["bytes per row"]["leaderboards, per referrer (3 sorted sets)"] = leaderboard_bytes(
            seed
        )
    finally:
        redis.flushdb()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return results


def leaderboard_bytes(owners: int) -> float:
    """Redis bytes per referrer in the three leaderboards (all time, month, week)."""
    from django.utils import timezone
    from django_redis import get_redis_connection

    from invites import leaderboard

    redis, now = get_redis_connection("default"), timezone.now()
    redis.flushdb()
    for owner_id in range(1, owners + 1):
        leaderboard.record_referral(owner_id=owner_id, phone=f"+7999{owner_id:07d}", at=now)
    held = sum(redis.memory_usage(key) or 0 for key in redis.scan_iter("*referral:leaderboard:*"))
    return held / owners


def row_sizes(seed: int) -> dict[str, float]:
    """PostgreSQL bytes per row, indexes included, of the tables that grow with users and logins:
    `seed` users loaded with COPY (bench_tools' seed_users), a session and a sighting each."""
    from django.core.management import call_command
    from django.db import connection

    call_command("seed_users", str(seed), "--start", str(SEED_START), stdout=io.StringIO())
    first = f"+7999{SEED_START:07d}"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users_session (id, user_id, created_at, last_used_at, user_agent)"
            " SELECT gen_random_uuid(), id, now(), now(), %s FROM users_user WHERE phone >= %s",
            [USER_AGENT, first],
        )
        cursor.execute(
            "INSERT INTO users_sighting (user_id, kind, digest, last_seen_at)"
            " SELECT id, 'ip', encode(sha256(phone::bytea), 'hex'), now()"
            " FROM users_user WHERE phone >= %s",
            [first],
        )
        sizes = {}
        for table in ("users_user", "users_session", "users_sighting"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
            cursor.execute(f"SELECT pg_total_relation_size('{table}'), count(*) FROM {table}")  # noqa: S608
            total, rows = cursor.fetchone()
            sizes[table] = total / rows
    return sizes


def print_table(results: dict[str, Any], count: int, seed: int) -> None:
    print(f"per operation, mean of {count} (scripts/capacity.py --count {count} --seed {seed})")
    row_bytes = results.pop("bytes per row")
    for name, result in results.items():
        print(f"\n{name}")
        top = ", ".join(f"{n:g} {c}" for c, n in sorted(result["redis_top_level_per_op"].items()))
        inner = sum(result["redis_inside_scripts_per_op"].values())
        print(f"  Redis commands sent: {result['redis_top_level_total']:g} ({top or '-'})")
        print(f"  Redis commands inside scripts: {inner:g}")
        print(f"  Redis CPU (commandstats usec): {result['redis_cpu_us']:.0f} µs")
        print(
            f"  Redis network: {result['redis_net_in_bytes']:.0f} B in, "
            f"{result['redis_net_out_bytes']:.0f} B out"
        )
        print(f"  Redis memory held afterwards: {result['redis_memory_held_bytes']:.0f} B")
        added = ", ".join(f"{n:g} {k}" for k, n in result["redis_keys_added_per_op"].items())
        print(f"  Redis keys added: {added or '-'}")
        sizes = ", ".join(f"{k} {n:.0f} B" for k, n in result["redis_bytes_per_key"].items())
        print(f"  Redis key sizes afterwards (MEMORY USAGE, mean): {sizes or '-'}")
        rows = ", ".join(f"{n:g} {t}" for t, n in result["pg_rows_per_op"].items())
        print(f"  PostgreSQL rows added: {rows or '-'}")
        print(f"  PostgreSQL WAL: {result['pg_wal_bytes']:.0f} B")
    print(f"\nBytes per row (PostgreSQL: with its indexes), {seed:,} rows each:")
    for table, size in row_bytes.items():
        print(f"  {table}: {size:.0f} B")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="operations per scenario")
    parser.add_argument("--seed", type=int, default=100_000, help="users loaded for row sizes")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", default="", help="also write the figures as JSON here")
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(measure(args.count, args.seed)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="referral-capacity-"))
    services = work / "services"
    try:
        subprocess.run(
            ["bash", str(PROJECT / "scripts/services.sh"), "start", str(services)],
            check=True,
            capture_output=True,
        )
        env = dict(os.environ, DJANGO_DEBUG="false", DJANGO_LOG_LEVEL="WARNING", BENCH_TOOLS="true")
        for line in (services / "env").read_text().splitlines()[1:]:
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        inside = subprocess.run(
            [
                sys.executable,
                __file__,
                "--inside",
                *("--count", str(args.count)),
                "--seed",
                str(args.seed),
            ],
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
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=2))
    finally:
        subprocess.run(
            ["bash", str(PROJECT / "scripts/services.sh"), "stop", str(services)],
            check=False,
            capture_output=True,
        )
        subprocess.run(["rm", "-rf", "--", str(work)], check=False)
    print_table(results, args.count, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
