"""The API's messages in the client's language (English, Russian) by `Accept-Language`.

`code`s never change; without the header (or with a language the API does not speak) every
answer is the English one, byte for byte. The schema stays English whatever the header says.
"""

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from invites.services import invite_activate
from referral_api.error_codes import ErrorCode
from referral_api.errors import ApplicationError
from referral_api.openapi import _subclasses
from tests.invites.conftest import fresh
from tests.login import PHONE, request_code, sent_code, wrong_code

pytestmark = pytest.mark.django_db

RU = {"HTTP_ACCEPT_LANGUAGE": "ru-RU,ru;q=0.9,en;q=0.8"}
OWN_EN = (
    b'{"code":"invite_code_own","message":"You cannot activate your own invite code.","errors":{}}'
)


def activate_own(auth_client, user, **headers):
    return auth_client.post(
        reverse("invites:profile-activate-invite"), {"invite_code": user.invite_code}, **headers
    )


@pytest.mark.parametrize("header", [None, "en", "en-US,en;q=0.9", "fr-FR,fr;q=0.9", "*"])
def test_api_message_without_russian_in_the_header_is_the_english_one_byte_for_byte(
    auth_client, user, header
):
    headers = {} if header is None else {"HTTP_ACCEPT_LANGUAGE": header}

    response = activate_own(auth_client, user, **headers)

    assert response.status_code == 400
    assert response.content == OWN_EN


def test_api_message_in_russian_keeps_its_code(auth_client, user):
    response = activate_own(auth_client, user, **RU)

    assert response.status_code == 400
    assert response.json() == {
        "code": ErrorCode.INVITE_CODE_OWN,
        "message": "Нельзя активировать собственный код приглашения.",
        "errors": {},
    }
    assert response.headers["Content-Language"] == "ru"


def test_api_formatted_message_in_russian_names_the_code(user, make_user):
    owner = make_user()
    activated = invite_activate(user=fresh(user), code=owner.invite_code)
    client = APIClient()
    client.force_authenticate(user=activated)

    response = activate_own(client, user, **RU)

    assert response.status_code == 409
    assert response.json() == {
        "code": ErrorCode.INVITE_ALREADY_ACTIVATED,
        "message": f"Вы уже активировали код приглашения {owner.invite_code}.",
        "errors": {},
    }


def test_api_validation_error_in_russian_translates_the_field_messages(api_client):
    response = api_client.post(reverse("users:auth-request-code"), {"phone": "12345"}, **RU)

    assert response.status_code == 400
    assert response.json() == {
        "code": ErrorCode.VALIDATION_ERROR,
        "message": "В запросе есть неверно заполненные поля.",
        "errors": {
            "phone": [
                "Введите правильный номер телефона в международном формате, например +79991234567."
            ]
        },
    }


@pytest.mark.parametrize(
    ("length", "message"),
    [(4, "Код состоит из 4 цифр."), (6, "Код состоит из 6 цифр.")],
)
def test_api_code_length_message_in_russian(api_client, settings, length, message):
    settings.OTP_LENGTH = length

    response = api_client.post(
        reverse("users:auth-verify-code"), {"phone": PHONE, "code": "1"}, **RU
    )

    assert response.json()["errors"] == {"code": [message]}


def test_api_wrong_login_code_in_russian(api_client, outbox):
    request_code(api_client)

    response = api_client.post(
        reverse("users:auth-verify-code"),
        {"phone": PHONE, "code": wrong_code(sent_code(outbox))},
        **RU,
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": ErrorCode.OTP_INVALID,
        "message": "Неверный код.",
        "errors": {},
    }


def test_api_drf_and_django_messages_follow_the_language_too(api_client):
    unauthenticated = api_client.get(reverse("invites:profile-detail"), **RU)
    unknown_path = api_client.get("/api/v1/nowhere/", **RU)

    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == ErrorCode.NOT_AUTHENTICATED
    assert unauthenticated.json()["message"] == "Учетные данные не были предоставлены."
    assert unknown_path.status_code == 404
    assert unknown_path.json() == {
        "code": ErrorCode.NOT_FOUND,
        "message": "Не найдено.",
        "errors": {},
    }


def test_every_application_error_has_a_russian_message():
    untranslated = []
    for error in _subclasses(ApplicationError):
        with translation.override("en"):
            english = str(error.message)
        with translation.override("ru"):
            russian = str(error.message)
        if russian == english:
            untranslated.append(error.__name__)

    assert untranslated == []


def test_schema_stays_english_whatever_the_client_asks(api_client):
    english = api_client.get(reverse("schema"))
    russian = api_client.get(reverse("schema"), **RU)

    assert russian.status_code == 200
    assert russian.content == english.content
    assert b"You cannot activate your own invite code." in russian.content
