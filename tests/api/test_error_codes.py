"""One registry of error codes: every `ErrorCode` is documented, and the server answers no other.

`referral_api.error_codes.ErrorCode` holds every code of the contract (API.md › Errors). The
committed schema shows each member in an example body; every source of an error body (the app's
`ApplicationError`s, DRF's and SimpleJWT's exceptions through our handler, Django's error pages)
answers a member; and app code names codes through the enum, never as a loose string.
"""

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404
from django.test import RequestFactory
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework import exceptions
from rest_framework_simplejwt import exceptions as simplejwt_exceptions

from referral_api import errors
from referral_api.error_codes import ErrorCode
from referral_api.errors import ApplicationError, api_exception_body, exception_handler
from tests.project_modules import module_files

SCHEMA = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
CODES = frozenset(member.value for member in ErrorCode)
# The module that spells the codes, once.
REGISTRY = "referral_api.error_codes"
# Modules that build a WSGI/ASGI application when imported.
ENTRY_POINTS = frozenset({"referral_api.wsgi", "referral_api.asgi"})
# DRF exceptions that need an argument to be built.
EXCEPTION_ARGS: dict[type[exceptions.APIException], tuple[str, ...]] = {
    exceptions.MethodNotAllowed: ("DELETE",),
    exceptions.UnsupportedMediaType: ("text/plain",),
}


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


@pytest.fixture(scope="module")
def every_module_imported() -> None:
    """Every module of the project loaded, so that every exception class it defines exists."""
    for module in module_files():
        if module not in ENTRY_POINTS:
            importlib.import_module(module)


# --- every member is documented -----------------------------------------------------------------


def _example_values(schema: dict[str, Any]) -> list[Any]:
    """Every example body of the schema: the shared `components.examples` and every response's."""
    values = [example["value"] for example in schema["components"].get("examples", {}).values()]
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    values += [example["value"] for example in media.get("examples", {}).values()]
    return values


def _example_codes(schema: dict[str, Any]) -> set[str]:
    return {
        value["code"]
        for value in _example_values(schema)
        if isinstance(value, dict) and "code" in value
    }


def test_error_codes_every_member_is_the_code_of_an_example_in_the_committed_schema():
    schema = yaml.safe_load(SCHEMA.read_text())

    missing = CODES - _example_codes(schema)

    assert missing == set(), f"docs/openapi.yaml shows no example body with code {sorted(missing)}"


def test_error_codes_every_response_example_of_the_schema_carries_a_member():
    schema = yaml.safe_load(SCHEMA.read_text())

    codes = _example_codes(schema)

    assert codes - CODES == set()
    assert "invite_code_own" in codes


def test_example_codes_reads_shared_and_per_response_examples():
    schema = {
        "components": {"examples": {"error_a": {"value": {"code": "a"}}}},
        "paths": {
            "/x/": {
                "post": {
                    "responses": {
                        "400": {
                            "content": {
                                "application/json": {
                                    "examples": {
                                        "b": {"value": {"code": "b", "message": "m"}},
                                        "list": {"value": [1, 2]},
                                    }
                                }
                            }
                        },
                        "204": {"description": "no body"},
                    }
                }
            }
        },
    }

    assert _example_codes(schema) == {"a", "b"}


# --- the server answers only members --------------------------------------------------------------


def test_error_codes_every_application_error_names_a_member(every_module_imported):
    classes = _subclasses(ApplicationError)

    assert [cls for cls in classes if not isinstance(getattr(cls, "code", None), ErrorCode)] == []
    # The walk reached the apps' errors, not only the foundation's.
    names = {cls.__name__ for cls in classes}
    assert {"ServiceUnavailableError", "OtpInvalidError", "InviteCodeOwnError"} <= names


def test_error_codes_every_api_exception_answers_a_member(every_module_imported):
    classes = _subclasses(exceptions.APIException)

    answers = {
        f"{cls.__module__}.{cls.__name__}": api_exception_body(cls(*EXCEPTION_ARGS.get(cls, ())))
        for cls in classes
    }

    assert {
        name: body for name, body in answers.items() if not isinstance(body["code"], ErrorCode)
    } == {}
    # The walk reached DRF's and SimpleJWT's exceptions.
    assert {exceptions.Throttled, simplejwt_exceptions.InvalidToken} <= set(classes)
    assert answers["rest_framework_simplejwt.exceptions.InvalidToken"]["code"] == "token_not_valid"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (Http404(), ErrorCode.NOT_FOUND),
        (DjangoPermissionDenied(), ErrorCode.PERMISSION_DENIED),
        (DjangoValidationError("bad"), ErrorCode.VALIDATION_ERROR),
        (RedisConnectionError(), ErrorCode.SERVICE_UNAVAILABLE),
        (OperationalError(), ErrorCode.SERVICE_UNAVAILABLE),
    ],
    ids=["http404", "permission-denied", "validation-error", "redis-down", "database-down"],
)
def test_error_codes_django_and_outage_exceptions_answer_members(exc, code):
    response = exception_handler(exc, {})

    assert response is not None
    assert isinstance(response.data["code"], ErrorCode)
    assert response.data["code"] == code


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (errors.bad_request, 400),
        (errors.permission_denied, 403),
        (errors.page_not_found, 404),
        (errors.server_error, 500),
    ],
)
def test_error_codes_django_handlers_answer_members(handler, status):
    response = handler(RequestFactory().get("/nowhere/"))

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["code"] in CODES


# --- app code names codes through the enum ------------------------------------------------------


def loose_codes(source: str) -> list[str]:
    """Lines that spell an error code as a string: `code = "…"`, `code="…"`, `{"code": "…"}`."""

    def is_code(node: ast.expr | None) -> bool:
        return isinstance(node, ast.Constant) and node.value in CODES

    def named_code(target: ast.expr) -> bool:
        return (isinstance(target, ast.Name) and target.id == "code") or (
            isinstance(target, ast.Attribute) and target.attr == "code"
        )

    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        spelled: ast.expr | None = None
        if isinstance(node, ast.Assign):
            spelled = node.value if any(named_code(target) for target in node.targets) else None
        elif isinstance(node, ast.AnnAssign):
            spelled = node.value if named_code(node.target) else None
        elif isinstance(node, ast.keyword):
            spelled = node.value if node.arg == "code" else None
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and is_code(value):
                    spelled = value
        if is_code(spelled):
            assert spelled is not None
            found.append((spelled.lineno, f"line {spelled.lineno}: {ast.unparse(spelled)}"))
    return [line for _, line in sorted(found)]


def test_error_codes_app_code_never_spells_a_code_as_a_string():
    found = {
        module: loose_codes(path.read_text())
        for module, path in module_files().items()
        if module != REGISTRY
    }

    assert {module: lines for module, lines in found.items() if lines} == {}


def test_loose_codes_finds_assignments_keywords_and_dict_entries():
    source = "\n".join(
        [
            'class OwnError(ApplicationError):\n    code = "invite_code_own"',
            'class Typed:\n    code: str = "throttled"',
            'def f(self):\n    self.code = "otp_invalid"',
            'body = error_body(code="not_found", message="m")',
            'example = {"code": "service_unavailable", "message": "m"}',
            'fine = {"code": ErrorCode.THROTTLED, "other": "throttled", "phone_code": "x"}',
            'otp = {"code": "1234"}',
        ]
    )

    assert loose_codes(source) == [
        "line 2: 'invite_code_own'",
        "line 4: 'throttled'",
        "line 6: 'otp_invalid'",
        "line 7: 'not_found'",
        "line 8: 'service_unavailable'",
    ]
