"""`make bench`: load data, serve with `make serve`, drive it with wrk, print one table.

Everything runs on this machine: PostgreSQL and Redis on loopback (scripts/services.sh), the
server under test (gunicorn, as `make serve` runs it) and wrk. Each endpoint is reported as a
ratio to `GET /healthz/` measured in the same run, because absolute numbers move with the
machine and its load. `--quick` checks that the harness works (CI); it proves no numbers.
A full run also draws the table (scripts/bench_charts.py) into docs/bench-rates.svg and
docs/bench-latency.svg.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_charts import write_charts  # noqa: E402 - beside this file

from tests.e2e.live import free_port  # noqa: E402 - after the path is set

UV = os.environ.get("UV", "uv").split()
# Login codes stored for each kind of login slice, per second of the slice: about three times
# the fastest rate seen on this machine (1,100 a second), so that no slice runs out of codes. A
# slice that did would reuse spent codes, and its 400s would count as throughput.
LOGIN_CODES_PER_SECOND = 3000
# New users ready to activate an invite code, per second of an activation slice: several times the
# fastest rate seen (66 a second; an activation is a transaction of about a dozen statements).
ACTIVATIONS_PER_SECOND = 500
# The referral program's reads, each measured for the user with 100,000 referrals and for one
# with 10 (DESIGN.md: at least half the profile's rate, the same cost for both within 20 %).
PROGRAM_READS = {
    "GET /rewards/balance/": "/api/v1/rewards/balance/",
    "GET /profile/stats/": "/api/v1/profile/stats/",
    "GET /leaderboard/?period=all": "/api/v1/leaderboard/?period=all",
    "GET /leaderboard/?period=month": "/api/v1/leaderboard/?period=month",
    "GET /leaderboard/?period=week": "/api/v1/leaderboard/?period=week",
}
BIG, SMALL = "(100k referrals)", "(10 referrals)"
# DESIGN.md: an activation with a reward rule and the abuse checks on, against one with neither,
# served by a second server whose only difference is REFERRAL_ABUSE_CHECKS=false.
ACTIVATE_OFF = "POST /activate-invite/ (no rule, no checks)"
ACTIVATE_ON = "POST /activate-invite/ (rule + abuse checks)"
NAME_WIDTH = 48
# The server's settings in every benchmark (also scripts/bench_gateway.py, bench_logins.py).
SERVER_ENV = {
    "BENCH_TOOLS": "true",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "bench-" + "k" * 60,
    "JWT_SIGNING_KEY": "bench-jwt-" + "j" * 40,
    "JWT_ACCESS_MINUTES": "120",
    "OTP_EXPOSE_CODE": "false",
    "OTP_SENDS_PER_IP_PER_HOUR": "100000000",
    "OTP_SENDS_PER_PHONE_PER_HOUR": "1000",
    "OTP_SENDS_PER_PHONE_PER_DAY": "1000",
    "OTP_RESEND_COOLDOWN_SECONDS": "0",
    # The login codes are stored before the run starts and used minutes later.
    "OTP_TTL_SECONDS": "3600",
    "GUNICORN_ACCESS_LOG": "",
}

VERIFY_LUA = """
local lines = {}
for line in io.lines(os.getenv("BENCH_CODES_FILE")) do lines[#lines + 1] = line end
local counter = 0
function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end
function request()
  counter = counter + 1
  local line = lines[((counter - 1) * 2 + (id or 0)) % #lines + 1]
  local phone, code = line:match("([^,]+),([^,]+)")
  local body = '{"phone":"' .. phone .. '","code":"' .. code .. '"}'
  return wrk.format("POST", "/api/v1/auth/verify-code/",
    {["Content-Type"] = "application/json"}, body)
end
"""

REQUEST_CODE_LUA = """
local counter = 0
function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end
function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end
function request()
  counter = counter + 1
  local phone = string.format("+7999%07d", 5000000 + (math.random(0, 3999999)))
  return wrk.format("POST", "/api/v1/auth/request-code/",
    {["Content-Type"] = "application/json"}, '{"phone":"' .. phone .. '"}')
end
"""

# Each request activates one invite code with the token of one new user (a user activates once).
ACTIVATE_LUA = """
local lines = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do lines[#lines + 1] = line end
local counter = 0
function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end
function request()
  counter = counter + 1
  local line = lines[((counter - 1) * 2 + (id or 0)) % #lines + 1]
  local token, code = line:match("([^,]+),([^,]+)")
  return wrk.format("POST", "/api/v1/profile/activate-invite/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"invite_code":"' .. code .. '"}')
end
"""

# A reader at a steady pace: each connection waits this long after every answer. A reader that
# sends as fast as it can would measure the CPU queue it builds itself, not the flood's effect.
PACED_LUA = """
function delay()
  return 25
end
"""


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, check=False, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    return result


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk (Debian package)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    name: str,
    url: str,
    *,
    seconds: int,
    connections: int,
    script: str | None = None,
    headers: list[str] = (),  # type: ignore[assignment]
    env: dict[str, str] | None = None,
) -> Result:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    output = run([*command, url], env=env).stdout
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk gave no latency figures for {name}:\n{output}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(count) for count in socket_errors.groups())
    return Result(
        name=name,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=duration_ms(re.search(r"^\s+50%\s+(\S+)\s*$", output, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=duration_ms(re.search(r"^\s+99%\s+(\S+)\s*$", output, re.M).group(1)),  # type: ignore[union-attr]
        errors=failed,
        requests=requests,
    )


def median_result(name: str, runs: list[Result]) -> Result:
    """One line for several runs of a scenario: medians of the rates and latencies."""
    return Result(
        name=name,
        rps=statistics.median(run.rps for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        errors=sum(run.errors for run in runs),
        requests=sum(run.requests for run in runs),
    )


def split_lines(path: Path, parts: int) -> list[Path]:
    """The lines of `path` in `parts` files of equal length (one per round)."""
    lines = path.read_text().splitlines(keepends=True)
    size = len(lines) // parts
    files = []
    for index in range(parts):
        part = path.with_suffix(f".{index}.txt")
        part.write_text("".join(lines[index * size : (index + 1) * size]))
        files.append(part)
    return files


def server_rss_mib(pid: int) -> float:
    """Resident memory of every process in the server's process group, in MiB."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != pid:
                continue
            status = (proc / "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


def start_server(
    env: dict[str, str], log_path: Path, servers: list[subprocess.Popen[bytes]]
) -> str:
    """Start `make serve` on a free port with `env` (added to `servers` at once, so that the
    caller stops it whatever happens next); its base URL once it answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "serve"],
            cwd=PROJECT,
            env={**env, "PORT": str(port), "HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    servers.append(server)
    wait_for(f"{base}/healthz/", server, log_path)
    return base


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def staff_post(url: str, token: str, body: dict[str, object] | None = None) -> dict[str, object]:
    """A staff API call, as staff would make it between two slices; its JSON answer."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def per_round(values: list[float]) -> str:
    return ", ".join(f"{value:.0%}" for value in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke test of the harness")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument(
        "--seconds", type=int, default=4, help="base length of the login and gateway slices"
    )
    parser.add_argument("--read-seconds", type=int, default=1, help="length of one read slice")
    parser.add_argument("--rounds", type=int, default=25, help="interleaved rounds of the reads")
    parser.add_argument("--output", default="", help="also write the results as JSON here")
    parser.add_argument(
        "--charts",
        default=None,
        help="write the table's charts (SVG) into this folder; default docs/, none with --quick "
        "(its figures prove nothing)",
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="serve through PgBouncer in transaction mode (scripts/topologies.sh, docs/scaling.md)",
    )
    args = parser.parse_args()
    if args.quick:
        args.users, args.referrals, args.seconds, args.rounds = 3_000, 1_000, 2, 1

    began = time.monotonic()
    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="referral-bench-"))
    services = work / "services"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        run(["bash", str(PROJECT / "scripts/services.sh"), "start", str(services)])
        env = dict(os.environ)
        for line in (services / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        env.update(SERVER_ENV)
        manage = [*UV, "run", "python", "manage.py"]
        run([*manage, "migrate", "--noinput"], cwd=PROJECT, env=env)
        started = time.monotonic()
        run(
            [*manage, "seed_users", str(args.users), "--referrals", str(args.referrals)],
            cwd=PROJECT,
            env=env,
        )
        seed_seconds = time.monotonic() - started
        # The leaderboards live in Redis only: built from PostgreSQL, as after a Redis loss.
        run([*manage, "rebuild_leaderboards"], cwd=PROJECT, env=env)
        if args.quick:
            # The harness's own data must be what the one write path would have left.
            run([*manage, "check_rewards"], cwd=PROJECT, env=env)
        # Writes and the slow gateway run for longer than a read slice.
        write_seconds = args.seconds if args.quick else 2 * args.seconds
        write_rounds = 1 if args.quick else 3
        codes = LOGIN_CODES_PER_SECOND * write_seconds * write_rounds
        # Two activation slices a round, without and with a reward rule, and a warm-up slice for
        # each of the two servers they run on.
        activations = ACTIVATIONS_PER_SECOND * write_seconds * (2 * write_rounds + 2)
        fixtures = json.loads(
            run(
                [
                    *manage,
                    "bench_fixtures",
                    *("--codes", str(codes), "--codes-file", str(work / "signup.txt")),
                    *(
                        "--signin-codes",
                        str(codes),
                        "--signin-codes-file",
                        str(work / "signin.txt"),
                    ),
                    *(
                        "--activations",
                        str(activations),
                        "--activations-file",
                        str(work / "activate.txt"),
                    ),
                ],
                cwd=PROJECT,
                env=env,
            ).stdout
        )
        code_files = {
            kind: split_lines(work / f"{kind}.txt", write_rounds) for kind in ("signup", "signin")
        }
        # Round r's slice without a rule uses part 2r, its slice with a rule part 2r + 1; the
        # warm-ups the last two parts.
        token_files = split_lines(work / "activate.txt", 2 * write_rounds + 2)
        verify_lua, request_lua, paced_lua, activate_lua = (
            work / "verify.lua",
            work / "request.lua",
            work / "paced.lua",
            work / "activate.lua",
        )
        verify_lua.write_text(VERIFY_LUA)
        request_lua.write_text(REQUEST_CODE_LUA)
        paced_lua.write_text(PACED_LUA)
        activate_lua.write_text(ACTIVATE_LUA)

        if args.pgbouncer:
            # Loading went straight to PostgreSQL; the server goes through PgBouncer.
            topology = ["bash", str(PROJECT / "scripts/topologies.sh"), "start", "pgbouncer"]
            run([*topology, str(work)], env=env)
            for line in (work / "env").read_text().splitlines()[1:]:
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value

        server_log = work / "server.log"
        base = start_server(env, server_log, servers)
        server = servers[0]

        seconds, memory = args.seconds, []
        profile_auth = [f"Authorization: Bearer {fixtures['profile_token']}"]
        owner_auth = [f"Authorization: Bearer {fixtures['owner_token']}"]
        small_auth = [f"Authorization: Bearer {fixtures['small_token']}"]
        referrals = f"{base}/api/v1/profile/referrals/"
        reads = {
            "GET /healthz/": (f"{base}/healthz/", []),
            "GET /profile/": (f"{base}/api/v1/profile/", profile_auth),
            "GET /referrals/ first page": (referrals, owner_auth),
            "GET /referrals/ last page": (
                f"{referrals}?cursor={fixtures['last_page_cursor']}",
                owner_auth,
            ),
        }
        # Each program read for the two owners in adjacent slices.
        for endpoint, path in PROGRAM_READS.items():
            reads[f"{endpoint} {BIG}"] = (f"{base}{path}", owner_auth)
            reads[f"{endpoint} {SMALL}"] = (f"{base}{path}", small_auth)
        # The machine's speed drifts, by a factor of two within seconds at times, so the reads
        # are measured in many short interleaved rounds. Each slice is compared with the
        # /healthz/ rate at its own moment: interpolated between the /healthz/ slice that opens
        # its round and the one that opens the next (a last one closes the series).
        rounds: dict[str, list[Result]] = {name: [] for name in reads}
        wrk("warm-up", f"{base}/healthz/", seconds=2, connections=16)
        for _ in range(args.rounds):
            for name, (url, headers) in reads.items():
                rounds[name].append(
                    wrk(name, url, seconds=args.read_seconds, connections=16, headers=headers)
                )
            memory.append(server_rss_mib(server.pid))
        healthz_rates = [run.rps for run in rounds["GET /healthz/"]]
        healthz_rates.append(
            wrk("GET /healthz/", f"{base}/healthz/", seconds=args.read_seconds, connections=16).rps
        )
        results = [median_result(name, runs) for name, runs in rounds.items()]
        # Each slice's rate over the /healthz/ rate at its own moment, per round.
        normalised: dict[str, list[float]] = {}
        for position, (name, runs) in enumerate(rounds.items()):
            share = position / len(reads)
            normalised[name] = [
                run.rps / (opening + (closing - opening) * share)
                for run, opening, closing in zip(
                    runs, healthz_rates[:-1], healthz_rates[1:], strict=True
                )
            ]
        ratios = {name: statistics.median(values) for name, values in normalised.items()}

        def paired(numerators: list[float], denominators: list[float]) -> float:
            """The median of the per-round quotients of two series of normalised rates."""
            return statistics.median(
                top / bottom for top, bottom in zip(numerators, denominators, strict=True)
            )

        last_vs_first = paired(
            normalised["GET /referrals/ last page"], normalised["GET /referrals/ first page"]
        )
        # The program reads against the profile read of the same round, and big against small.
        vs_profile = {
            name: paired(normalised[name], normalised["GET /profile/"])
            for name in reads
            if name.endswith((BIG, SMALL))
        }
        big_vs_small = {
            endpoint: paired(normalised[f"{endpoint} {BIG}"], normalised[f"{endpoint} {SMALL}"])
            for endpoint in PROGRAM_READS
        }

        # Logins in rounds: distinct existing users (sign-in) and distinct new phones (sign-up
        # among the million, invite-code draws). Each login slice lies between two /healthz/
        # slices and is compared with their mean: the machine's speed moved by up to 2x between a
        # round's opening /healthz/ slice and its sign-ups 8-16 s later, while the login rates
        # held steady (docs/performance.md › The targets).
        logins = {
            "POST /verify-code/ (sign-in)": "signin",
            "POST /verify-code/ (sign-up)": "signup",
        }
        login_rounds: dict[str, list[Result]] = {name: [] for name in logins}
        login_ratios: dict[str, list[float]] = {name: [] for name in logins}
        log_before = len(server_log.read_text())
        before = wrk("GET /healthz/", f"{base}/healthz/", seconds=seconds, connections=16)
        login_healthz = [before.rps]
        for index in range(write_rounds):
            for name, kind in logins.items():
                login = wrk(
                    name,
                    f"{base}/",
                    seconds=write_seconds,
                    connections=16,
                    script=str(verify_lua),
                    env={**env, "BENCH_CODES_FILE": str(code_files[kind][index])},
                )
                after = wrk("GET /healthz/", f"{base}/healthz/", seconds=seconds, connections=16)
                login_rounds[name].append(login)
                login_ratios[name].append(login.rps / ((before.rps + after.rps) / 2))
                login_healthz.append(after.rps)
                before = after
        # The server logs each invite code already taken, with its draw number.
        draws = [
            int(number)
            for number in re.findall(
                r"invite code collision at sign-up, draw (\d+)", server_log.read_text()[log_before:]
            )
        ]
        collisions, third_draws = len(draws), sum(number >= 2 for number in draws)
        for name, runs in login_rounds.items():
            results.append(median_result(name, runs))
            ratios[name] = statistics.median(login_ratios[name])

        # Activations by new users (each activates once, an existing user's code): with a reward
        # rule and the abuse checks on (this server), and with neither (a second server started
        # with REFERRAL_ABUSE_CHECKS=false, stopped after these rounds), in rounds of their own
        # /healthz/ slice and the two slices, the order alternating from round to round so that
        # a drifting machine favours neither. Staff switch the rule through the API between the
        # slices.
        unchecked_base = start_server(
            {**env, "REFERRAL_ABUSE_CHECKS": "false"}, work / "server-unchecked.log", servers
        )
        bases = {ACTIVATE_OFF: unchecked_base, ACTIVATE_ON: base}
        staff_token = str(fixtures["staff_token"])
        rule_id = fixtures["reward_rule_id"]
        rules = f"{base}/api/v1/staff/reward-rules/"

        def switch_rule(on: bool) -> None:
            nonlocal rule_id
            if on and rule_id is None:
                rule_id = staff_post(rules, staff_token, fixtures["reward_rule"])["id"]
            elif not on and rule_id is not None:
                staff_post(f"{rules}{rule_id}/deactivate/", staff_token)
                rule_id = None

        def activate(name: str, part: Path, seconds: int = write_seconds) -> Result:
            return wrk(
                name,
                f"{bases[name]}/",
                seconds=seconds,
                connections=16,
                script=str(activate_lua),
                env={**env, "BENCH_TOKENS_FILE": str(part)},
            )

        # A warm-up of each server: every database connection of its pool has run an
        # activation's statements (prepared, catalogue cached) before the first measured slice,
        # as on a server up a while.
        activate(ACTIVATE_ON, token_files[-1], seconds=args.seconds)
        activate(ACTIVATE_OFF, token_files[-2], seconds=args.seconds)
        activation_rounds: dict[str, list[Result]] = {ACTIVATE_OFF: [], ACTIVATE_ON: []}
        activation_base: list[Result] = []
        for index in range(write_rounds):
            activation_base.append(
                wrk("GET /healthz/", f"{base}/healthz/", seconds=seconds, connections=16)
            )
            order = [ACTIVATE_OFF, ACTIVATE_ON] if index % 2 == 0 else [ACTIVATE_ON, ACTIVATE_OFF]
            for name in order:
                switch_rule(name == ACTIVATE_ON)
                part = token_files[2 * index + (name == ACTIVATE_ON)]
                activation_rounds[name].append(activate(name, part))
        switch_rule(True)
        stop_server(servers.pop())
        for name, runs in activation_rounds.items():
            results.append(median_result(name, runs))
            ratios[name] = statistics.median(
                run.rps / base_run.rps for run, base_run in zip(runs, activation_base, strict=True)
            )
        rule_on_vs_off = [
            on.rps / off.rps
            for on, off in zip(
                activation_rounds[ACTIVATE_ON], activation_rounds[ACTIVATE_OFF], strict=True
            )
        ]

        # The slow gateway and profile reads at a steady pace, in rounds: the reads alone, then
        # the same reads while request-code keeps 220 calls waiting on the gateway.
        paced_seconds = 2 * args.seconds

        def read_paced(name: str) -> Result:
            return wrk(
                name,
                f"{base}/api/v1/profile/",
                seconds=paced_seconds,
                connections=4,
                script=str(paced_lua),
                headers=profile_auth,
            )

        def flood() -> Result:
            return wrk(
                "POST /request-code/ (1-2 s SMS)",
                f"{base}/",
                seconds=paced_seconds + 3,
                connections=220,
                script=str(request_lua),
            )

        flood_rounds: dict[str, list[Result]] = {
            "GET /profile/ paced, alone": [],
            "POST /request-code/ (1-2 s SMS)": [],
            "GET /profile/ paced, during request-code": [],
        }
        # A warm-up: each worker's thread pool grows to the flood's size once, as it would
        # long before any measurement on a server that has been up for a while.
        wrk(
            "warm-up",
            f"{base}/",
            seconds=args.seconds,
            connections=220,
            script=str(request_lua),
        )
        for _ in range(write_rounds):
            flood_rounds["GET /profile/ paced, alone"].append(
                read_paced("GET /profile/ paced, alone")
            )
            flooding = threading.Thread(
                target=lambda: flood_rounds["POST /request-code/ (1-2 s SMS)"].append(flood())
            )
            flooding.start()
            time.sleep(2)  # every flood connection is waiting on the gateway by then
            flood_rounds["GET /profile/ paced, during request-code"].append(
                read_paced("GET /profile/ paced, during request-code")
            )
            flooding.join()
        results += [median_result(name, runs) for name, runs in flood_rounds.items()]
        memory.append(server_rss_mib(server.pid))

        baseline = results[0].rps
        for result in results:
            ratios.setdefault(result.name, result.rps / baseline)
        # The flood's effect on the paced reader, round by round (DESIGN.md: within 2x).
        tail_growth = [
            during.p99_ms / alone.p99_ms
            for during, alone in zip(
                flood_rounds["GET /profile/ paced, during request-code"],
                flood_rounds["GET /profile/ paced, alone"],
                strict=True,
            )
        ]
        print()
        print(f"seed: {args.users:,} users, {args.referrals:,} referrals in {seed_seconds:.0f} s")
        header = ("scenario", "req/s", "p50 ms", "p99 ms", "errors", "/healthz")
        print(f"{{:{NAME_WIDTH}}} {{:>9}} {{:>8}} {{:>8}} {{:>7}} {{:>9}}".format(*header))
        for result in results:
            print(
                f"{result.name:{NAME_WIDTH}} {result.rps:9.1f} {result.p50_ms:8.2f} "
                f"{result.p99_ms:8.2f} {result.errors:7d} {ratios[result.name]:8.0%}"
            )
        print(
            f"medians of {args.rounds} interleaved rounds for the reads, of {write_rounds} "
            "for the logins, the activations and the paced reads"
        )
        print(f"referrals last page / first page: {last_vs_first:.0%}")
        print(
            "referral program reads, medians of per-round ratios (targets: each >= 50 % of the "
            "profile; 100k within 20 % of 10 referrals):"
        )
        header = ("read", "100k/healthz", "/profile", "10/healthz", "/profile", "100k/10")
        print("{:32} {:>12} {:>9} {:>11} {:>9} {:>8}".format(*header))
        for endpoint in PROGRAM_READS:
            big, small = f"{endpoint} {BIG}", f"{endpoint} {SMALL}"
            print(
                f"{endpoint:32} {ratios[big]:12.0%} {vs_profile[big]:9.0%} "
                f"{ratios[small]:11.0%} {vs_profile[small]:9.0%} {big_vs_small[endpoint]:8.0%}"
            )
        print(
            "activations with a reward rule and the abuse checks / with neither (target >= 60 %): "
            f"{statistics.median(rule_on_vs_off):.0%} (rounds: {per_round(rule_on_vs_off)})"
        )
        print(
            "profile p99 during the flood / alone (target <= 2x): "
            f"{statistics.median(tail_growth):.1f}x (rounds: "
            + ", ".join(f"{growth:.1f}x" for growth in tail_growth)
            + ")"
        )
        for name, values in login_ratios.items():
            print(f"{name} / the /healthz/ slices around it, per round: {per_round(values)}")
        sign_ups = sum(run.requests for run in login_rounds["POST /verify-code/ (sign-up)"])
        print(
            f"invite-code collisions at sign-up: {collisions} in {sign_ups} sign-ups; "
            f"sign-ups that needed a third draw: {third_draws}"
        )
        print("server memory (RSS, MiB) after each round: " + ", ".join(f"{m:.0f}" for m in memory))
        print(f"the whole run took {time.monotonic() - began:.0f} s")
        charts = args.charts if args.charts is not None else ("" if args.quick else "docs")
        if charts:
            title = f"make bench, {time.strftime('%Y-%m-%d', time.gmtime())}, {args.users:,} users"
            for chart in write_charts(results, ratios, PROJECT / charts, title=title):
                print(f"chart: {chart}")
        if args.output:
            Path(args.output).write_text(
                json.dumps(
                    {
                        "results": [result.__dict__ for result in results],
                        "ratio_to_healthz": ratios,
                        "referrals_last_vs_first": last_vs_first,
                        "ratio_to_profile": vs_profile,
                        "big_vs_small": big_vs_small,
                        "activations_rule_on_vs_off": rule_on_vs_off,
                        "profile_p99_during_flood_vs_alone": tail_growth,
                        "read_ratios_per_round": normalised,
                        "login_ratios_per_round": login_ratios,
                        "login_healthz_rates": login_healthz,
                        "rounds": {
                            name: [r.__dict__ for r in runs]
                            for name, runs in {
                                **rounds,
                                **login_rounds,
                                **activation_rounds,
                                **flood_rounds,
                            }.items()
                        },
                        "memory_mib": memory,
                        "invite_code_collisions": collisions,
                        "sign_ups_with_a_third_draw": third_draws,
                        "seed_seconds": seed_seconds,
                    },
                    indent=2,
                )
            )
        failures = [r.name for r in results if r.requests == 0]
        if failures:
            print(f"no request completed in: {failures}", file=sys.stderr)
            return 1
        failed_writes = [
            r.name
            for runs in {**login_rounds, **activation_rounds}.values()
            for r in runs
            if r.errors
        ]
        if failed_writes:
            # A login or activation slice's rate counts only when every request succeeded.
            print(
                f"logins or activations failed in {failed_writes}: a server fault, or the slice "
                "ran out of codes or new users (raise LOGIN_CODES_PER_SECOND or "
                "ACTIVATIONS_PER_SECOND)",
                file=sys.stderr,
            )
            return 1
        if args.quick:
            # Every counter the activations and sign-ups wrote must still agree with its rows.
            run([*manage, "check_rewards"], cwd=PROJECT, env=env)
        return 0
    finally:
        for running in servers:
            stop_server(running)
        if args.pgbouncer:
            topology = ["bash", str(PROJECT / "scripts/topologies.sh"), "stop", str(work)]
            subprocess.run(topology, check=False)
        subprocess.run(
            ["bash", str(PROJECT / "scripts/services.sh"), "stop", str(services)], check=False
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
