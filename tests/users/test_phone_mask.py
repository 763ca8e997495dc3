"""`mask_phone` (API.md › Leaderboard): "+", the country calling code and the last two digits stay;
every other digit becomes "*", so the masked number is as long as the E.164 one."""

import pytest

from users.phone import mask_phone

COUNTRIES = [
    pytest.param("+79161234567", "+7********67", id="russia-7"),
    pytest.param("+12025550143", "+1********43", id="united-states-1"),
    pytest.param("+447911123456", "+44********56", id="united-kingdom-44"),
    pytest.param("+380501234589", "+380*******89", id="ukraine-380"),
    pytest.param("+998901234512", "+998*******12", id="uzbekistan-998"),
    pytest.param("+3546111234", "+354*****34", id="iceland-354-short"),
    pytest.param("+8801712345678", "+880********78", id="bangladesh-880-long"),
    pytest.param("+12425550199", "+1********99", id="bahamas-1-242-is-country-code-1"),
]


@pytest.mark.parametrize(("phone", "shown"), COUNTRIES)
def test_mask_phone_keeps_the_country_code_and_the_last_two_digits(phone, shown) -> None:
    assert mask_phone(phone) == shown


@pytest.mark.parametrize(("phone", "shown"), COUNTRIES)
def test_mask_phone_is_as_long_as_the_number(phone, shown) -> None:
    assert len(mask_phone(phone)) == len(phone)


@pytest.mark.parametrize(("phone", "shown"), COUNTRIES)
def test_mask_phone_reveals_no_other_digit(phone, shown) -> None:
    masked = mask_phone(phone)
    country_code = shown[1:].split("*", 1)[0]

    hidden = masked[1 + len(country_code) : -2]

    assert masked.startswith("+" + country_code)
    assert masked.endswith(phone[-2:])
    assert hidden == "*" * len(hidden)
    assert len(hidden) == len(phone) - 1 - len(country_code) - 2


def test_mask_phone_numbers_differing_only_in_the_middle_look_the_same() -> None:
    assert mask_phone("+79161234567") == mask_phone("+79999999967")


def test_mask_phone_of_a_reserved_test_number_masks_it_the_same_way() -> None:
    # Review and demo numbers (OTP_TEST_NUMBERS) may be unassigned, yet still well formed.
    assert mask_phone("+70000000000") == "+7********00"


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        # No country calling code starts with 0, none is 999: one digit stays, as the shortest.
        ("+0123456", "+0****56"),
        ("+999123456", "+9******56"),
    ],
)
def test_mask_phone_without_a_known_country_code_keeps_one_leading_digit(phone, shown) -> None:
    assert mask_phone(phone) == shown
    assert len(mask_phone(phone)) == len(phone)


@pytest.mark.parametrize("phone", ["+7", "+79", "+"])
def test_mask_phone_too_short_to_hide_anything_is_left_as_it_is(phone) -> None:
    assert mask_phone(phone) == phone


def test_mask_phone_no_phone_stays_empty() -> None:
    assert mask_phone("") == ""
