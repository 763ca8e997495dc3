"""The schema states every bound the server enforces, so generated clients can validate first.

For every input serializer of the apps (and the test checks they are exactly the schema's request
bodies), each field's limits (length, pattern, range) equal the schema's;
and each bound the schema states is one the server refuses to cross. The referrals' `page_size`
states the paginator's own limits.
"""

import re
from typing import Any

import pytest
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
)
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from invites import serializers as invites_serializers
from invites.pagination import ReferralCursorPagination
from invites.serializers import LeaderboardQuerySerializer
from rewards import serializers as rewards_serializers
from rewards.pagination import RewardEntryCursorPagination, RewardRuleCursorPagination
from rewards.serializers import StaffRewardQuerySerializer
from users import serializers as users_serializers
from users.serializers import OtpVerifyInputSerializer

BOUND_KEYS = ("minLength", "maxLength", "pattern", "minimum", "maximum")
REFERRALS = "/api/v1/profile/referrals/"


def generated_schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def request_serializers() -> list[type[serializers.Serializer]]:
    """Every input serializer of the apps (`<Entity><Action>InputSerializer`, STYLE.md)."""
    found = []
    for module in (users_serializers, invites_serializers, rewards_serializers):
        for name, value in vars(module).items():
            if (
                name.endswith("InputSerializer")
                and isinstance(value, type)
                and issubclass(value, serializers.Serializer)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return sorted(found, key=lambda cls: cls.__name__)


def component_name(serializer_class: type[serializers.Serializer]) -> str:
    # drf-spectacular's name for a request body (COMPONENT_SPLIT_REQUEST).
    return serializer_class.__name__.removesuffix("Serializer") + "Request"


def enforced_bounds(field: serializers.Field) -> dict[str, Any]:
    """The limits a field enforces, read from the field itself (its validators and blank rule)."""
    bounds: dict[str, Any] = {}

    def tighten(key: str, pick: Any, value: Any) -> None:
        bounds[key] = pick(bounds[key], value) if key in bounds else value

    for validator in field.validators:
        if isinstance(validator, MaxLengthValidator):
            tighten("maxLength", min, validator.limit_value)
        elif isinstance(validator, MinLengthValidator):
            tighten("minLength", max, validator.limit_value)
        elif isinstance(validator, MaxValueValidator):
            tighten("maximum", min, validator.limit_value)
        elif isinstance(validator, MinValueValidator):
            tighten("minimum", max, validator.limit_value)
        elif isinstance(validator, RegexValidator):
            bounds.setdefault("pattern", re.compile(validator.regex).pattern)
    if isinstance(field, serializers.CharField) and not field.allow_blank:
        tighten("minLength", max, 1)
    return bounds


def stated_bounds(schema_property: dict[str, Any]) -> dict[str, Any]:
    return {key: schema_property[key] for key in BOUND_KEYS if key in schema_property}


def bound_mismatches(
    serializer: serializers.Serializer, component: dict[str, Any]
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Field → (enforced, stated) for every field whose limits the schema does not state exactly."""
    mismatches = {}
    for name, field in serializer.fields.items():
        enforced = enforced_bounds(field)
        stated = stated_bounds(component["properties"].get(name, {}))
        if enforced != stated:
            mismatches[name] = (enforced, stated)
    return mismatches


def values_beyond(stated: dict[str, Any]) -> list[str]:
    """Strings that cross one bound each: one too long, one too short, one off the pattern."""
    values = []
    if "maxLength" in stated:
        values.append("1" * (stated["maxLength"] + 1))
    if "minLength" in stated:
        values.append("1" * (stated["minLength"] - 1))
    if "pattern" in stated:
        values.append("!" * max(stated.get("minLength", 1), 1))
    return values


# --- request bodies ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return generated_schema()


def test_schema_bounds_the_input_serializers_are_every_request_body_of_the_schema(schema):
    referenced = {
        media["schema"]["$ref"].rsplit("/", 1)[1]
        for path_item in schema["paths"].values()
        for operation in path_item.values()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    }

    assert {component_name(cls) for cls in request_serializers()} == referenced
    assert "OtpVerifyInputRequest" in referenced


@pytest.mark.parametrize("serializer_class", request_serializers())
def test_schema_bounds_every_request_field_states_what_the_server_enforces(
    schema, serializer_class
):
    component = schema["components"]["schemas"][component_name(serializer_class)]

    assert bound_mismatches(serializer_class(), component) == {}


@pytest.mark.parametrize("serializer_class", request_serializers())
def test_schema_bounds_a_value_beyond_a_stated_bound_is_refused(schema, serializer_class):
    component = schema["components"]["schemas"][component_name(serializer_class)]
    serializer = serializer_class()

    accepted = []
    for name, field in serializer.fields.items():
        for value in values_beyond(stated_bounds(component["properties"][name])):
            try:
                field.run_validation(value)
            except serializers.ValidationError:
                continue
            accepted.append((name, value))

    assert accepted == []


@pytest.mark.parametrize(
    ("field", "stated"),
    [
        ("phone", {"minLength": 1, "maxLength": 32}),
        ("code", {"minLength": 4, "maxLength": 4, "pattern": "^[0-9]+$"}),
        ("invite_code", {"minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9]{6}$"}),
    ],
)
def test_schema_bounds_of_the_login_fields(schema, field, stated):
    component = schema["components"]["schemas"]["OtpVerifyInputRequest"]

    assert stated_bounds(component["properties"][field]) == stated


def test_schema_bounds_the_code_length_follows_otp_length(settings):
    settings.OTP_LENGTH = 6

    fields = generated_schema()["components"]["schemas"]["OtpVerifyInputRequest"]["properties"]

    assert stated_bounds(fields["code"]) == {"minLength": 6, "maxLength": 6, "pattern": "^[0-9]+$"}
    assert enforced_bounds(OtpVerifyInputSerializer().fields["code"]) == stated_bounds(
        fields["code"]
    )


# --- the checkers catch a drift ------------------------------------------------------------------


class _DriftedSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    code = serializers.RegexField(r"^[a-z]+$", max_length=8)
    count = serializers.IntegerField(min_value=1, max_value=5)
    note = serializers.CharField(allow_blank=True)


def test_bound_mismatches_reports_every_bound_the_schema_states_differently():
    component = {
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "code": {"type": "string", "minLength": 1, "maxLength": 8},
            "count": {"type": "integer", "minimum": 1, "maximum": 5},
            "note": {"type": "string", "minLength": 1},
        }
    }

    assert bound_mismatches(_DriftedSerializer(), component) == {
        "name": ({"maxLength": 10, "minLength": 1}, {"minLength": 1, "maxLength": 20}),
        "code": (
            {"maxLength": 8, "pattern": "^[a-z]+$", "minLength": 1},
            {"minLength": 1, "maxLength": 8},
        ),
        "note": ({}, {"minLength": 1}),
    }


def test_values_beyond_crosses_each_stated_bound():
    assert values_beyond({"minLength": 4, "maxLength": 4, "pattern": "^[0-9]+$"}) == [
        "11111",
        "111",
        "!!!!",
    ]
    assert values_beyond({"maxLength": 32}) == ["1" * 33]
    assert values_beyond({}) == []


# --- query parameters -----------------------------------------------------------------------------


def _query_parameters(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, parameter["name"]): parameter
        for path, path_item in schema["paths"].items()
        for operation in path_item.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    }


# Each list's paginator, and each query serializer with the paths it reads.
PAGINATED = {
    REFERRALS: ReferralCursorPagination,
    "/api/v1/rewards/": RewardEntryCursorPagination,
    "/api/v1/staff/rewards/": RewardEntryCursorPagination,
    "/api/v1/staff/reward-rules/": RewardRuleCursorPagination,
}
QUERY_SERIALIZERS = {
    "/api/v1/leaderboard/": LeaderboardQuerySerializer,
    "/api/v1/staff/leaderboard/": LeaderboardQuerySerializer,
    "/api/v1/staff/rewards/": StaffRewardQuerySerializer,
}


def test_schema_bounds_every_query_parameter_is_accounted_for(schema):
    expected = {(path, name) for path in PAGINATED for name in ("page_size", "cursor")}
    expected |= {
        (path, name)
        for path, serializer_class in QUERY_SERIALIZERS.items()
        for name in serializer_class().fields
    }

    # A new query parameter needs its bounds checked here too.
    assert set(_query_parameters(schema)) == expected
    for path in PAGINATED:
        # A cursor is opaque: any string may be sent, and a forged one is a 400.
        assert stated_bounds(_query_parameters(schema)[(path, "cursor")]["schema"]) == {}


@pytest.mark.parametrize("path", sorted(QUERY_SERIALIZERS))
def test_schema_bounds_query_serializers_state_their_bounds_and_choices(schema, path):
    parameters = _query_parameters(schema)

    for name, field in QUERY_SERIALIZERS[path]().fields.items():
        stated = parameters[(path, name)]["schema"]
        assert stated_bounds(stated) == enforced_bounds(field), (path, name)
        if isinstance(field, serializers.ChoiceField):
            assert set(stated["enum"]) == set(field.choices), (path, name)


@pytest.mark.parametrize("path", sorted(PAGINATED))
def test_schema_bounds_every_list_states_its_paginators_page_size(schema, path):
    paginator = PAGINATED[path]

    page_size = _query_parameters(schema)[(path, "page_size")]["schema"]

    assert page_size == {
        "type": "integer",
        "minimum": paginator.min_page_size,
        "maximum": paginator.max_page_size,
        "default": paginator.page_size,
    }


def test_schema_bounds_page_size_states_the_paginators_limits(schema):
    page_size = _query_parameters(schema)[(REFERRALS, "page_size")]["schema"]

    assert page_size == {
        "type": "integer",
        "minimum": ReferralCursorPagination.min_page_size,
        "maximum": ReferralCursorPagination.max_page_size,
        "default": ReferralCursorPagination.page_size,
    }
    assert (page_size["minimum"], page_size["maximum"], page_size["default"]) == (1, 100, 20)


@pytest.mark.django_db
def test_schema_bounds_page_size_below_the_minimum_is_refused(auth_client):
    response = auth_client.get(
        reverse("invites:profile-referrals"),
        {"page_size": ReferralCursorPagination.min_page_size - 1},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["errors"]) == {"page_size"}


# One valid value of each query parameter (a list's cursor is any first-page cursor).
VALID_QUERY_VALUES = {"page_size": "5", "period": "all", "limit": "10", "state": "pending"}


def _query_parameter_cases() -> list[tuple[str, str]]:
    cases = [(path, "page_size") for path in sorted(PAGINATED)]
    cases += [
        (path, str(name))
        for path, serializer_class in sorted(QUERY_SERIALIZERS.items())
        for name in serializer_class().fields
        if name in VALID_QUERY_VALUES
    ]
    return cases


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "name"), _query_parameter_cases())
def test_schema_bounds_a_query_parameter_given_twice_is_refused(staff_client, path, name):
    # Django keeps the last of repeated values; the schema says one value, so two are a 400
    # (the fuzzer sent `page_size=1&page_size=500`, which read as a page of 100).
    value = VALID_QUERY_VALUES[name]

    once = staff_client.get(f"{path}?{name}={value}")
    twice = staff_client.get(f"{path}?{name}={value}&{name}={value}")

    assert once.status_code == 200, once.content
    assert twice.status_code == 400
    assert twice.json()["code"] == "validation_error"
    assert twice.json()["errors"] == {name: ["Give this parameter once."]}


@pytest.mark.django_db
def test_schema_bounds_a_repeated_cursor_is_refused(staff_client):
    response = staff_client.get("/api/v1/rewards/?cursor=cD0yMDI2&cursor=cD0yMDI2")

    assert response.status_code == 400
    assert response.json()["errors"] == {"cursor": ["Give this parameter once."]}
