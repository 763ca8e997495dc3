"""The stats and leaderboard answers are written out by hand for speed (invites/serializers.py):
each must equal what DRF's field-by-field walk of the same serializer (the schema) gives."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from rest_framework import serializers

from invites.serializers import LeaderboardSerializer, ReferralStatsSerializer


def walked(serializer_class: type[serializers.Serializer], body: dict[str, Any]) -> Any:
    """The representation DRF's own Serializer.to_representation gives, field by field."""
    return serializers.Serializer.to_representation(serializer_class(), body)


def test_the_stats_answer_equals_the_schemas_walk() -> None:
    today = date(2026, 12, 2)
    body = {
        "referrals_count": 100_000,
        "referrals_last_7_days": 7,
        "referrals_last_30_days": 30,
        "timeline": [
            {"date": today - timedelta(days=back), "referrals": back % 3} for back in range(30)
        ],
    }

    assert ReferralStatsSerializer(body).data == walked(ReferralStatsSerializer, body)
    assert ReferralStatsSerializer(body).data["timeline"][0] == {
        "date": "2026-12-02",
        "referrals": 0,
    }


@pytest.mark.parametrize(
    ("starts_at", "me_rank"),
    [(None, 3), (datetime(2026, 11, 30, tzinfo=UTC), None), (datetime(2026, 12, 1, tzinfo=UTC), 1)],
)
def test_the_leaderboard_answer_equals_the_schemas_walk(
    starts_at: datetime | None, me_rank: int | None
) -> None:
    body = {
        "period": "week",
        "starts_at": starts_at,
        "results": [
            {"rank": 1, "phone": "+7********67", "referrals": 120},
            {"rank": 1, "phone": "+375*******67", "referrals": 120},
        ],
        "me": {"rank": me_rank, "referrals": 0 if me_rank is None else 2},
    }

    assert LeaderboardSerializer(body).data == walked(LeaderboardSerializer, body)
    if starts_at is not None:
        assert LeaderboardSerializer(body).data["starts_at"].endswith("T00:00:00Z")
