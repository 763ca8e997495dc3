"""App links: the /.well-known/ files that let share links open the mobile apps (docs/web.md)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.urls import reverse

from referral_api.error_codes import ErrorCode

FINGERPRINT = ":".join(["AB"] * 32)
NOT_FOUND = {"code": ErrorCode.NOT_FOUND, "message": "Not found.", "errors": {}}


@pytest.fixture
def android(settings) -> None:
    settings.ANDROID_APP_PACKAGE = "com.example.referral"
    settings.ANDROID_APP_SHA256_FINGERPRINTS = [FINGERPRINT]


@pytest.fixture
def apple(settings) -> None:
    settings.APPLE_APP_TEAM_ID = "ABCDE12345"
    settings.APPLE_APP_BUNDLE_ID = "com.example.referral"


@pytest.mark.usefixtures("android")
def test_assetlinks_names_the_android_app_and_its_certificates() -> None:
    response = Client().get(reverse("web:assetlinks"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == [
        {
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": "com.example.referral",
                "sha256_cert_fingerprints": [FINGERPRINT],
            },
        }
    ]


@pytest.mark.usefixtures("apple")
def test_apple_app_site_association_opens_share_links_in_the_ios_app() -> None:
    response = Client().get(reverse("web:apple-app-site-association"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "applinks": {
            "apps": [],
            "details": [
                {
                    "appIDs": ["ABCDE12345.com.example.referral"],
                    "components": [{"/": "/i/*", "comment": "Share links"}],
                    "appID": "ABCDE12345.com.example.referral",
                    "paths": ["/i/*"],
                }
            ],
        }
    }


@pytest.mark.parametrize("name", ["web:assetlinks", "web:apple-app-site-association"])
def test_app_link_files_are_not_found_when_not_configured(name: str) -> None:
    response = Client().get(reverse(name))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_app_link_paths_are_the_well_known_ones() -> None:
    assert reverse("web:assetlinks") == "/.well-known/assetlinks.json"
    assert reverse("web:apple-app-site-association") == "/.well-known/apple-app-site-association"


@pytest.mark.parametrize(
    ("values", "check"),
    [
        ({"ANDROID_APP_PACKAGE": "com.example.referral"}, "web.E001"),
        ({"ANDROID_APP_SHA256_FINGERPRINTS": [FINGERPRINT]}, "web.E001"),
        (
            {"ANDROID_APP_PACKAGE": "com.example", "ANDROID_APP_SHA256_FINGERPRINTS": ["ab:cd"]},
            "web.E002",
        ),
        ({"APPLE_APP_TEAM_ID": "ABCDE12345"}, "web.E003"),
        ({"APPLE_APP_BUNDLE_ID": "com.example.referral"}, "web.E003"),
    ],
)
def test_half_or_malformed_app_link_settings_fail_the_checks(settings, values, check) -> None:
    for name, value in values.items():
        setattr(settings, name, value)

    with pytest.raises(SystemCheckError, match=check):
        call_command("check")


@pytest.mark.usefixtures("android", "apple")
def test_complete_app_link_settings_pass_the_checks() -> None:
    call_command("check")


@pytest.mark.usefixtures("android", "apple")
@pytest.mark.parametrize("name", ["web:assetlinks", "web:apple-app-site-association"])
def test_app_link_files_answer_head_without_a_redirect(name: str) -> None:
    response = Client().head(reverse(name))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
