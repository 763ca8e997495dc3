"""Where users sign in and activate codes from, as HMACs: the raw IP or device id is never stored.

Each login (verify-code) and each activation records the request's client IP and, when it sends
a valid `X-Device-Id`, its device id, with the time; `invites.abuse` looks them up when a referral
is recorded, and `manage.py prune_sightings` deletes what is older than 30 days.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.crypto import salted_hmac

from referral_api.rows import Upsert, write
from users.models import Sighting, User

KEEP = timedelta(days=30)
# API.md › Abuse signals: any other value of the header is ignored.
DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")


@dataclass(frozen=True)
class ClientMarks:
    """HMACs of a request's client IP and device id (None without a valid `X-Device-Id`)."""

    ip: str
    device: str | None


def _digest(kind: str, value: str) -> str:
    # Keyed with the secret key under its own salt: the digests reveal nothing without the key,
    # and the same address gives the same digest for every user (that is the point).
    return salted_hmac(f"referral-api.sighting.{kind}", value, algorithm="sha256").hexdigest()


def client_marks(*, ip: str, device_id: str | None) -> ClientMarks:
    device = device_id if device_id is not None and DEVICE_ID.fullmatch(device_id) else None
    return ClientMarks(
        ip=_digest(Sighting.Kind.IP, ip),
        device=_digest(Sighting.Kind.DEVICE, device) if device is not None else None,
    )


def sightings(*, user: User, marks: ClientMarks, at: datetime) -> Upsert:
    """The user's sightings of this IP and device, to write (or refresh) in one statement; `user`
    may be a new user written in the same statement (`rows.write`)."""
    rows = [Sighting(user=user, kind=Sighting.Kind.IP, digest=marks.ip, last_seen_at=at)]
    if marks.device is not None:
        rows.append(
            Sighting(user=user, kind=Sighting.Kind.DEVICE, digest=marks.device, last_seen_at=at)
        )
    return Upsert(rows, unique_fields=("user", "kind", "digest"), update_fields=("last_seen_at",))


def sighting_record(*, user: User, marks: ClientMarks, at: datetime) -> None:
    """Record (or refresh) the user's sightings of this IP and device: one statement."""
    write(sightings(user=user, marks=marks, at=at))


def seen_recently(*, user_id: int, kind: str, digest: str, at: datetime) -> bool:
    """Whether the user was seen with this digest in the 30 days before `at` (one index probe)."""
    return Sighting.objects.filter(
        user_id=user_id, kind=kind, digest=digest, last_seen_at__gte=at - KEEP
    ).exists()


def sightings_prune(*, now: datetime) -> int:
    """Delete the sightings older than 30 days; returns how many."""
    deleted, _ = Sighting.objects.filter(last_seen_at__lt=now - KEEP).delete()
    return deleted
