"""The pages in Russian for browsers that ask for it, with the API's messages in Russian too."""

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from tests.login import PHONE, sent_code, wrong_code
from tests.web.pages import Page
from users.models import User
from users.sms import SmsMessage

pytestmark = pytest.mark.django_db

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}


def test_home_in_russian_has_russian_labels_and_buttons() -> None:
    page = Page(Client(headers=RU).get(reverse("web:home")))

    assert '<html lang="ru">' in page.html
    assert page.label("id_phone") == "Номер телефона"
    assert page.label("id_invite_code") == "Код приглашения"
    assert page.buttons() == ["Отправить код"]
    assert page.response.headers["Content-Language"] == "ru"


def test_home_without_a_language_is_english() -> None:
    page = Page(Client().get(reverse("web:home")))

    assert '<html lang="en">' in page.html
    assert page.label("id_phone") == "Phone number"


def test_sign_in_in_russian_shows_the_russian_api_messages(outbox: list[SmsMessage]) -> None:
    browser = Client(headers=RU)
    invalid = Page(browser.post(reverse("web:home"), {"phone": "12345"}))
    browser.post(reverse("web:home"), {"phone": PHONE})
    step_two = Page(browser.get(reverse("web:sign-in")))

    wrong = Page(browser.post(reverse("web:sign-in"), {"code": wrong_code(sent_code(outbox))}))

    assert invalid.field_errors("phone") == [
        "Введите правильный номер телефона в международном формате, например +79991234567."
    ]
    assert step_two.label("id_code") == "Код входа"
    assert step_two.buttons() == ["Войти"]
    assert wrong.field_errors("code") == ["Неверный код."]


def test_profile_in_russian(
    make_user: Callable[..., User],
) -> None:
    user = make_user()
    browser = Client(headers=RU)
    browser.force_login(user)

    page = Page(browser.post(reverse("web:profile"), {"invite_code": user.invite_code}))

    assert page.field_errors("invite_code") == ["Нельзя активировать собственный код приглашения."]
    assert set(page.buttons()) >= {"Активировать", "Выйти"}
    assert page.text_of("chart-title") == "0 рефералов за последние 30 дней, по дням"
