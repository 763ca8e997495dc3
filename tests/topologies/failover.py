"""Clients that log in without pause while a Redis primary is killed: a failover as they see it.

Three kinds of client run in threads against the real API (Django's test client, in process):
- logins: request a code for a new phone from a new address, verify it, then replay the code;
- phone hammers: request codes for one phone until it is refused, then the next phone;
- address hammers: request codes for new phones from one address until refused, then the next.
Every answer must be one the contract allows: 200, 429, or 503 while Redis has no primary. A
200 past a limit, a replayed code that verifies again, or a code sent (200) that no longer
verifies on its first try, is a violation: a write that the failover lost.
"""

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from tests.login import request_code, sent_code, verify_code
from users.sms import SmsMessage

SENDS_PER_PHONE = 3
SENDS_PER_ADDRESS = 4
LIMITS = {
    "OTP_RESEND_COOLDOWN_SECONDS": 0,
    "OTP_SENDS_PER_PHONE_PER_HOUR": SENDS_PER_PHONE,
    "OTP_SENDS_PER_PHONE_PER_DAY": 10,
    "OTP_SENDS_PER_IP_PER_HOUR": SENDS_PER_ADDRESS,
}
WARM_LOGINS = 6
RECOVERED_LOGINS = 10
DEADLINE_SECONDS = 90.0


@dataclass
class Traffic:
    outbox: list[SmsMessage]
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    statuses: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    # (started, ended) of every answer 503, and of every login that ended in a 200.
    unavailable: list[tuple[float, float]] = field(default_factory=list)
    logins: list[tuple[float, float]] = field(default_factory=list)
    sends_per_phone: dict[str, int] = field(default_factory=dict)
    sends_per_address: dict[str, int] = field(default_factory=dict)
    numbers: "itertools.count[int]" = field(default_factory=itertools.count)

    def answer(self, started: float, response: Any) -> int:
        with self.changed:
            self.statuses[response.status_code] += 1
            if response.status_code == 503:
                self.unavailable.append((started, time.monotonic()))
            elif response.status_code not in (200, 400, 429):
                self.violations.append(f"answer {response.status_code}: {response.content!r}")
            self.changed.notify_all()
        return int(response.status_code)

    def violation(self, text: str) -> None:
        with self.changed:
            self.violations.append(text)

    def next_number(self) -> int:
        with self.changed:
            return next(self.numbers)

    # ------------------------------------------------------------------ clients

    def log_in(self, client: APIClient) -> None:
        number = self.next_number()
        phone, address = f"+7990{number:07d}", f"10.1.{number // 250}.{number % 250}"
        started = time.monotonic()
        if self.answer(started, request_code(client, phone, REMOTE_ADDR=address)) != 200:
            return
        code = sent_code(self.outbox, phone)
        unsure = False
        while not self.stop.is_set():
            response = verify_code(client, phone, code)
            status = self.answer(time.monotonic(), response)
            if status != 503:
                break
            # A 503 may come after the script ran: whether the code was spent is unknown.
            unsure = True
        else:
            return
        if status == 200:
            with self.changed:
                self.logins.append((started, time.monotonic()))
                self.changed.notify_all()
            replay = verify_code(client, phone, code)
            if self.answer(time.monotonic(), replay) == 200:
                self.violation(f"{phone}: a spent code verified again")
        elif not unsure:
            self.violation(f"{phone}: a sent code did not verify: {response.json()}")

    def hammer_phone(self, client: APIClient) -> None:
        phone, sent = f"+7991{self.next_number():07d}", 0
        while not self.stop.is_set():
            number = self.next_number()
            address = f"10.2.{number // 250}.{number % 250}"
            status = self.answer(time.monotonic(), request_code(client, phone, REMOTE_ADDR=address))
            sent += status == 200
            if status == 429:
                break
        with self.changed:
            self.sends_per_phone[phone] = sent
        if sent > SENDS_PER_PHONE:
            self.violation(f"{phone}: {sent} codes sent, the limit is {SENDS_PER_PHONE}")

    def hammer_address(self, client: APIClient) -> None:
        number, sent = self.next_number(), 0
        address = f"10.3.{number // 250}.{number % 250}"
        while not self.stop.is_set():
            phone = f"+7992{self.next_number():07d}"
            status = self.answer(time.monotonic(), request_code(client, phone, REMOTE_ADDR=address))
            sent += status == 200
            if status == 429:
                break
        with self.changed:
            self.sends_per_address[address] = sent
        if sent > SENDS_PER_ADDRESS:
            self.violation(f"{address}: {sent} codes sent, the limit is {SENDS_PER_ADDRESS}")

    def loop(self, client_kind: Callable[[APIClient], None]) -> None:
        client = APIClient()
        try:
            while not self.stop.is_set():
                client_kind(client)
        except Exception as exc:  # the test fails with the thread's error, not a hang
            self.violation(f"{client_kind.__name__} raised {exc!r}")
        finally:
            connection.close()

    # -------------------------------------------------------------------- run

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        with self.changed:
            if not self.changed.wait_for(
                lambda: condition() or bool(self.violations), timeout=DEADLINE_SECONDS
            ):
                raise AssertionError(f"timed out waiting for {what}: {self.statuses}")


@dataclass(frozen=True)
class FailoverReport:
    window_seconds: float  # from the kill to the end of the last 503
    unavailable: int
    statuses: Counter[int]
    violations: list[str]
    logins_after: int
    phones: int
    addresses: int

    def line(self, topology: str) -> str:
        return (
            f"{topology}: primary killed → logins answer 503 for {self.window_seconds:.2f} s "
            f"({self.unavailable} answers 503), then recover; answers {dict(self.statuses)}, "
            f"{self.logins_after} logins after, {self.phones} phones and {self.addresses} "
            "addresses driven to their limits, 0 over"
        )


def run_failover(outbox: list[SmsMessage], kill: Callable[[], None]) -> FailoverReport:
    """Drive the clients, kill the primary once logins flow, stop once they flow again."""
    traffic = Traffic(outbox=outbox)
    with override_settings(**LIMITS):
        kinds = [traffic.log_in] * 3 + [traffic.hammer_phone, traffic.hammer_address]
        threads = [threading.Thread(target=traffic.loop, args=(kind,)) for kind in kinds]
        for thread in threads:
            thread.start()
        killed_at = time.monotonic()
        try:
            traffic.wait_until(lambda: len(traffic.logins) >= WARM_LOGINS, "logins to flow")
            killed_at = time.monotonic()
            kill()

            def recovered() -> bool:
                calm_since = max([killed_at, *(ended for _, ended in traffic.unavailable)])
                after = [login for login in traffic.logins if login[0] > calm_since]
                return len(after) >= RECOVERED_LOGINS

            traffic.wait_until(recovered, "logins to flow again after the kill")
        finally:
            traffic.stop.set()
            for thread in threads:
                thread.join(timeout=60)
    last_unavailable = max((ended for _, ended in traffic.unavailable), default=killed_at)
    return FailoverReport(
        window_seconds=max(0.0, last_unavailable - killed_at),
        unavailable=traffic.statuses[503],
        statuses=traffic.statuses,
        violations=traffic.violations,
        logins_after=sum(1 for started, _ in traffic.logins if started > last_unavailable),
        phones=len(traffic.sends_per_phone),
        addresses=len(traffic.sends_per_address),
    )
