"""Time an activation at the bottom of referral chains of several depths (docs/performance.md).

The chains are loaded by COPY (bench_tools.chains). Each round activates, once per chain, the
code of the user at its bottom by a new user, who becomes the new bottom; the chains are taken
in a rotating order, so a machine that drifts favours none. The activation is the service call
itself (`invites.services.invite_activate`, its transaction, locks and Redis limit), without
HTTP, so that nothing but the referral write path is timed. Then each chain's root activates a
code of its own, which moves the whole chain under a new root: that one costs the chain's size.
"""

import json
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench_tools.chains import Chain, copy_chain
from bench_tools.population import InviteCodes, copy_users, reserve_user_ids
from invites.models import ReferralDay
from invites.services import invite_activate
from users.models import User


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _activate(user_id: int, code: str) -> Callable[[], object]:
    user = User.objects.get(pk=user_id)
    return lambda: invite_activate(user=user, code=code)


class Command(BaseCommand):
    help = (
        "Load referral chains of --depths users by COPY, then time --rounds activations at the "
        "bottom of each (interleaved) and one move of each whole chain under a new root. Prints "
        "a table, and JSON with --json. PostgreSQL only; an empty database is best."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--depths", type=int, nargs="+", default=[1, 1_000, 10_000, 100_000])
        parser.add_argument("--rounds", type=int, default=30)
        parser.add_argument("--start", type=int, default=0, help="Index of the first phone.")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="print the figures as JSON"
        )

    def handle(
        self, *args: Any, depths: list[int], rounds: int, start: int, as_json: bool, **options: Any
    ) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_chains loads through COPY and needs PostgreSQL.")
        if rounds < 1 or min(depths) < 1:
            raise CommandError("--rounds and every depth must be at least 1.")
        codes = InviteCodes()
        at = timezone.now() - timedelta(days=1)
        started = time.perf_counter()
        chains: list[Chain] = []
        phone = start
        with transaction.atomic():
            for depth in depths:
                chains.append(copy_chain(depth=depth, phone_start=phone, codes=codes, at=at))
                phone += depth + 1
            # New users: one per activation and a warm-up per chain, and a new root per chain.
            newcomers = (rounds + 2) * len(depths)
            first = reserve_user_ids(newcomers)
            copy_users(
                ((first + n, phone + n, None, None, 0) for n in range(newcomers)),
                codes=codes,
                joined=at,
            )
        with connection.cursor() as cursor:
            for model in (User, ReferralDay):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
        load_seconds = time.perf_counter() - started
        fresh = iter(range(first, first + newcomers))
        bottoms = {chain.depth: chain.bottom_id for chain in chains}

        def next_at_bottom(depth: int) -> Callable[[], object]:
            """A new user's activation of the code at the chain's bottom; it becomes the bottom."""
            code = User.objects.values_list("invite_code", flat=True).get(pk=bottoms[depth])
            newcomer = next(fresh)
            bottoms[depth] = newcomer
            return _activate(newcomer, code)

        # Warm-up (connections, caches, plans), with each activation's statements counted.
        statements: dict[int, int] = {}
        for depth in depths:
            action = next_at_bottom(depth)
            with CaptureQueriesContext(connection) as queries:
                action()
            statements[depth] = len(queries.captured_queries)
        times: dict[int, list[float]] = {depth: [] for depth in depths}
        for round_number in range(rounds):
            shift = round_number % len(depths)
            for depth in depths[shift:] + depths[:shift]:
                times[depth].append(_timed(next_at_bottom(depth)))
        # Each chain's root activates a new root's code: its whole chain moves (one UPDATE).
        moves: dict[int, float] = {}
        for chain in chains:
            code = User.objects.values_list("invite_code", flat=True).get(pk=next(fresh))
            moves[chain.depth] = _timed(_activate(chain.root_id, code))

        base = statistics.median(times[depths[0]])
        figures = [
            {
                "depth": depth,
                "activations": len(times[depth]),
                "median_ms": round(statistics.median(times[depth]), 2),
                "p90_ms": round(statistics.quantiles(times[depth], n=10)[-1], 2)
                if len(times[depth]) > 1
                else round(times[depth][0], 2),
                "min_ms": round(min(times[depth]), 2),
                "vs_first_depth": round(statistics.median(times[depth]) / base, 2),
                "statements": statements[depth],
                "chain_move_ms": round(moves[depth], 1),
                "chain_move_rows": depth + rounds + 2,
            }
            for depth in depths
        ]
        if as_json:
            self.stdout.write(
                json.dumps({"load_seconds": round(load_seconds, 1), "depths": figures}, indent=2)
            )
            return
        self.stdout.write(
            f"chains of {', '.join(f'{depth:,}' for depth in depths)} loaded by COPY in "
            f"{load_seconds:.1f} s"
        )
        self.stdout.write(
            f"{'depth':>8}  {'median ms':>9}  {'p90 ms':>7}  {'min ms':>7}  "
            f"{'/ depth ' + format(depths[0], ','):>10}  {'statements':>10}  "
            f"{'root moves its chain':>22}"
        )
        for row in figures:
            self.stdout.write(
                f"{row['depth']:>8,}  {row['median_ms']:>9.2f}  {row['p90_ms']:>7.2f}  "
                f"{row['min_ms']:>7.2f}  {row['vs_first_depth']:>9.0%}  {row['statements']:>10}  "
                f"{row['chain_move_ms']:>10.1f} ms, {row['chain_move_rows']:,} rows"
            )
        self.stdout.write(
            f"medians of {rounds} interleaved activations at each chain's bottom, after a warm-up"
        )
