"""The slow-gateway section of `make bench`, for several server setups side by side.

Each setup is `make serve` with some environment overrides, e.g. `GUNICORN_THREADS=64` or
`GUNICORN_CMD_ARGS=--worker-class=gevent` (gunicorn applies that variable over
`referral_api/gunicorn_conf.py`). All of them are up at once on one database; the rounds visit
them in turn, the order rotating from round to round, so every setup meets the same machine
within a minute of the others. A round is the bench's own: the profile read at a steady pace
alone, then the same reads while request-code runs on 220 connections with the simulated
1–2 s gateway delay. The first setup is always `make serve` as it is (the baseline).

Run it with PostgreSQL and Redis up and their environment loaded (`make services`, then
`source <dir>/env`):

    uv run python scripts/bench_gateway.py --candidate threads64:GUNICORN_THREADS=64

Three keys are the harness's, not the server's: `BENCH_NICE=N` starts that server under
`nice -n N`; `BENCH_FLOOD_TO=NAME` sends the setup's flood to setup NAME's server instead of its
own (two process groups, one for request-code: what a path-routed bulkhead gives, without the
proxy's own cost); `BENCH_FLOOD_ONLY=1` starts a setup only to take another's flood;
`BENCH_ROUTE=NAME` puts an HAProxy (the Debian package, installed when missing) in front of the
setup, sending request-code to setup NAME's server and everything else to the setup's own: the
bulkhead with the proxy's cost.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench import (  # noqa: E402
    PACED_LUA,
    REQUEST_CODE_LUA,
    SERVER_ENV,
    UV,
    Result,
    ensure_wrk,
    run,
    wait_for,
    wrk,
)

from tests.e2e.live import free_port  # noqa: E402

FLOOD = "request-code"


HARNESS_KEYS = ("BENCH_NICE", "BENCH_FLOOD_TO", "BENCH_FLOOD_ONLY", "BENCH_ROUTE")

HAPROXY_CONFIG = """
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend api
    bind 127.0.0.1:{port}
    use_backend gateway if {{ path_beg /api/v1/auth/request-code/ }}
    default_backend reads
backend reads
    server reads {reads}
backend gateway
    server gateway {gateway}
"""


def start_proxy(
    work: Path, name: str, reads: str, gateway: str
) -> tuple[subprocess.Popen[bytes], str]:
    """An HAProxy on a free port routing request-code to `gateway`, the rest to `reads`."""
    if not shutil.which("haproxy"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "haproxy"], check=True)
    port = free_port()
    config = work / f"{name}.haproxy.cfg"
    config.write_text(
        HAPROXY_CONFIG.format(
            port=port, reads=reads.removeprefix("http://"), gateway=gateway.removeprefix("http://")
        )
    )
    process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def parse_setup(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    overrides = dict(item.split("=", 1) for item in assignments.split(",") if item)
    return name, overrides


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        help="NAME:KEY=VALUE,KEY=VALUE — a setup to pair with the baseline (repeatable)",
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=8, help="length of a paced slice")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--output", default="")
    args = parser.parse_args()

    ensure_wrk()
    env = {**os.environ, **SERVER_ENV}
    manage = [*UV, "run", "python", "manage.py"]
    run([*manage, "migrate", "--noinput"], cwd=PROJECT, env=env)
    run([*manage, "flush", "--noinput"], cwd=PROJECT, env=env)
    run([*manage, "seed_users", str(args.users), "--referrals", "1000"], cwd=PROJECT, env=env)
    fixtures = json.loads(run([*manage, "bench_fixtures"], cwd=PROJECT, env=env).stdout)
    work = Path(tempfile.mkdtemp(prefix="referral-bench-gateway-"))
    request_lua, paced_lua = work / "request.lua", work / "paced.lua"
    request_lua.write_text(REQUEST_CODE_LUA)
    paced_lua.write_text(PACED_LUA)
    profile_auth = [f"Authorization: Bearer {fixtures['profile_token']}"]

    setups: list[tuple[str, dict[str, str]]] = [("baseline", {})] + [
        parse_setup(text) for text in args.candidate
    ]
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        harness = {
            name: {k: overrides.pop(k) for k in HARNESS_KEYS if k in overrides}
            for name, overrides in setups
        }
        for name, overrides in setups:
            port = free_port()
            log = work / f"{name}.log"
            nice = harness[name].get("BENCH_NICE")
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        *(["nice", "-n", nice] if nice else []),
                        "make",
                        "--no-print-directory",
                        "serve",
                    ],
                    cwd=PROJECT,
                    env={**env, **overrides, "PORT": str(port), "HOST": "127.0.0.1"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            servers[name] = (process, f"http://127.0.0.1:{port}")
            wait_for(f"{servers[name][1]}/healthz/", process, log)
        # The URL each setup is measured through: its server, or the proxy in front of it.
        entry = {name: base for name, (_, base) in servers.items()}
        for name in list(servers):
            if "BENCH_ROUTE" in harness[name]:
                gateway = servers[harness[name]["BENCH_ROUTE"]][1]
                proxy, entry[name] = start_proxy(work, name, servers[name][1], gateway)
                servers[f"{name} proxy"] = (proxy, entry[name])
                harness[f"{name} proxy"] = {"BENCH_FLOOD_ONLY": "1"}
                wait_for(f"{entry[name]}/healthz/", proxy, work / f"{name}.log")

        def paced(base: str) -> Result:
            return wrk(
                "paced",
                f"{base}/api/v1/profile/",
                seconds=args.seconds,
                connections=4,
                script=str(paced_lua),
                headers=profile_auth,
            )

        def flood(base: str, seconds: int) -> Result:
            return wrk(FLOOD, f"{base}/", seconds=seconds, connections=220, script=str(request_lua))

        def flood_base(name: str) -> str:
            return entry[harness[name].get("BENCH_FLOOD_TO", name)]

        for _, base in servers.values():
            flood(base, 4)  # the bench's warm-up: thread pools grown once
        names = [name for name in servers if not harness[name].get("BENCH_FLOOD_ONLY")]
        results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for index in range(args.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            for name in order:
                base = entry[name]
                alone = paced(base)
                flooded: list[Result] = []
                flood_url = flood_base(name)
                flooding = threading.Thread(
                    target=lambda out=flooded, url=flood_url: out.append(
                        flood(url, args.seconds + 3)
                    )
                )
                flooding.start()
                time.sleep(2)  # every flood connection is waiting on the gateway by then
                during = paced(base)
                flooding.join()
                row = {
                    "alone_p99": alone.p99_ms,
                    "during_p99": during.p99_ms,
                    "ratio": during.p99_ms / alone.p99_ms,
                    "alone_rps": alone.rps,
                    "during_rps": during.rps,
                    "flood_rps": flooded[0].rps,
                    "flood_errors": flooded[0].errors,
                }
                results[name].append(row)
                print(
                    f"round {index + 1} {name:16} p99 alone {alone.p99_ms:6.1f} ms, during "
                    f"{during.p99_ms:6.1f} ms ({row['ratio']:.1f}x); paced {alone.rps:.0f} → "
                    f"{during.rps:.0f}/s; request-code {flooded[0].rps:.1f}/s, "
                    f"{flooded[0].errors} errors",
                    flush=True,
                )
        print()
        print(f"{'setup':16} {'p99 ratio':>10} {'rounds':32} {'request-code/s':>15}")
        for name, rows in results.items():
            ratios = [row["ratio"] for row in rows]
            print(
                f"{name:16} {statistics.median(ratios):9.1f}x "
                f"{', '.join(f'{r:.1f}x' for r in ratios):32} "
                f"{statistics.median(row['flood_rps'] for row in rows):15.1f}"
            )
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=2))
        return 0
    finally:
        for process, _ in servers.values():
            if process.poll() is None:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
