"""Start-up checks of the app-link settings: a half-set or malformed one serves nothing useful."""

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

# An APK signing certificate's SHA-256, as `keytool -list -v` prints it: 32 hex bytes with `:`.
FINGERPRINT = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){31}")


@register()
def check_app_links(**kwargs: Any) -> list[Error]:
    errors = []
    package = settings.ANDROID_APP_PACKAGE
    fingerprints = settings.ANDROID_APP_SHA256_FINGERPRINTS
    if bool(package) != bool(fingerprints):
        errors.append(
            Error(
                "ANDROID_APP_PACKAGE and ANDROID_APP_SHA256_FINGERPRINTS go together.",
                hint="Set both to serve /.well-known/assetlinks.json, or neither.",
                id="web.E001",
            )
        )
    for fingerprint in fingerprints:
        if not FINGERPRINT.fullmatch(fingerprint):
            errors.append(
                Error(
                    f"ANDROID_APP_SHA256_FINGERPRINTS: {fingerprint!r} is not a SHA-256 "
                    "fingerprint.",
                    hint="32 upper-case hex bytes separated by colons, e.g. 14:6D:E9:…",
                    id="web.E002",
                )
            )
    if bool(settings.APPLE_APP_TEAM_ID) != bool(settings.APPLE_APP_BUNDLE_ID):
        errors.append(
            Error(
                "APPLE_APP_TEAM_ID and APPLE_APP_BUNDLE_ID go together.",
                hint="Set both to serve /.well-known/apple-app-site-association, or neither.",
                id="web.E003",
            )
        )
    return errors
