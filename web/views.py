"""The web interface: server-rendered pages on the API's own services (API.md › Web interface).

Pages sign in with Django's session (separate from the API's JWTs), every form is CSRF-checked,
and every rule is the API's: the same services, selectors, pagination, limits and messages.
"""

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from invites.exceptions import InviteCodeNotFoundError
from invites.services import invite_activate
from referral_api.errors import (
    OUTAGE_RETRY_AFTER,
    OUTAGES,
    ApplicationError,
    ServiceUnavailableError,
    count_throttled,
)
from referral_api.http import DEVICE_HEADER, client_ip
from users.exceptions import (
    OtpAttemptsExceededError,
    OtpExpiredError,
    OtpInvalidError,
)
from users.models import User
from users.services import otp_request, user_sign_in
from users.sightings import ClientMarks, client_marks
from web import context
from web.forms import ActivateForm, SendCodeForm, SerializerForm, SignInForm

logger = logging.getLogger(__name__)

# The sign-in in progress between its two steps: the phone a code was sent to, the invite code
# to apply if this login signs up, and the code itself only when OTP_EXPOSE_CODE is on.
PENDING_SIGN_IN = "web.sign_in"


def _marks(request: HttpRequest) -> ClientMarks:
    # As the API's views do: the same client IP rule (NUM_PROXIES) and the optional device id.
    return client_marks(ip=client_ip(request), device_id=request.headers.get(DEVICE_HEADER))


def _refuse(form: SerializerForm, error: Exception, field: str | None) -> ApplicationError:
    """Show a service's refusal in words next to `field` (or above the form, for an outage)."""
    if not isinstance(error, ApplicationError):
        # A dependency is down: answered as the API's handler answers it (503, logged).
        logger.error("dependency unavailable: %s", type(error).__name__)
        error = ServiceUnavailableError(retry_after=OUTAGE_RETRY_AFTER)
    if isinstance(error, ServiceUnavailableError):
        field = None
    form.add_error(field, str(error.message))
    return error


def _page(
    request: HttpRequest,
    template: str,
    values: dict[str, Any],
    status: int = 200,
    refusal: ApplicationError | None = None,
) -> HttpResponse:
    """A page; a refused form gets the refusal's status (and `Retry-After`), as in the API."""
    if refusal is not None:
        status = refusal.status_code
        count_throttled(status, refusal.limit or refusal.code)
    response = render(request, f"web/{template}", values, status=status)
    if refusal is not None and refusal.retry_after:
        response.headers["Retry-After"] = str(refusal.retry_after)
    return response


def _home(
    request: HttpRequest,
    form: SendCodeForm,
    status: int = 200,
    refusal: ApplicationError | None = None,
) -> HttpResponse:
    return _page(request, "home.html", {"form": form}, status, refusal)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """What the product is, the API docs, and step 1 of the sign-in (phone → "Send code")."""
    if request.method != "POST":
        pending = request.session.get(PENDING_SIGN_IN, {})
        initial = {"phone": pending.get("phone"), "invite_code": pending.get("invite_code")}
        return _home(request, SendCodeForm(initial=initial))

    form = SendCodeForm(request.POST)
    if not form.is_valid():
        return _home(request, form, 400)
    phone = form.cleaned_data["phone"]
    try:
        sent = otp_request(phone=phone, client_ip=client_ip(request))
    except (ApplicationError, *OUTAGES) as error:
        return _home(request, form, refusal=_refuse(form, error, "phone"))
    request.session[PENDING_SIGN_IN] = {
        "phone": sent.phone,
        "invite_code": form.cleaned_data.get("invite_code"),
        "debug_code": sent.code if settings.OTP_EXPOSE_CODE else None,
    }
    return redirect("web:sign-in")


@never_cache
@require_safe
def share(request: HttpRequest, code: str) -> HttpResponse:
    """A share link: the sign-in with this invite code filled in (or the profile's activation)."""
    code = code.strip().upper()[:64]
    if request.user.is_authenticated:
        query = urlencode({"invite_code": code})
        return redirect(f"{reverse('web:profile')}?{query}#activate")
    return _home(request, SendCodeForm(initial={"invite_code": code}))


def _sign_in_page(
    request: HttpRequest,
    form: SignInForm,
    pending: dict[str, Any],
    status: int = 200,
    refusal: ApplicationError | None = None,
) -> HttpResponse:
    return _page(request, "sign_in.html", {"form": form, "pending": pending}, status, refusal)


# Where each refusal of a login is shown.
SIGN_IN_ERROR_FIELDS: dict[type[Exception], str] = {
    OtpInvalidError: "code",
    OtpExpiredError: "code",
    OtpAttemptsExceededError: "code",
    InviteCodeNotFoundError: "invite_code",
}


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Step 2 of the sign-in: the code sent to the phone of step 1 → "Sign in"."""
    pending = request.session.get(PENDING_SIGN_IN)
    if pending is None:
        return redirect("web:home")
    if request.method != "POST":
        form = SignInForm(phone=pending["phone"], initial={"invite_code": pending["invite_code"]})
        return _sign_in_page(request, form, pending)

    form = SignInForm(request.POST, phone=pending["phone"])
    if not form.is_valid():
        return _sign_in_page(request, form, pending, 400)
    data = form.cleaned_data
    try:
        signed_in = user_sign_in(
            phone=data["phone"],
            code=data["code"],
            invite_code=data.get("invite_code"),
            marks=_marks(request),
        )
    except (ApplicationError, *OUTAGES) as error:
        refusal = _refuse(form, error, SIGN_IN_ERROR_FIELDS.get(type(error)))
        return _sign_in_page(request, form, pending, refusal=refusal)
    # A new session key (Django's login cycles it): a session fixed before sign-in is useless.
    login(request, signed_in.user)
    request.session.pop(PENDING_SIGN_IN, None)
    return redirect("web:profile")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:home")


def _profile_page(
    request: HttpRequest,
    user: User,
    form: ActivateForm,
    status: int = 200,
    refusal: ApplicationError | None = None,
) -> HttpResponse:
    values = {
        "profile": user,
        "share_link": request.build_absolute_uri(reverse("web:share", args=[user.invite_code])),
        "form": form,
        "referrals": context.referrals_page(request, user=user),
        "balances": context.balances(user=user),
        "entries": context.latest_entries(user=user),
        "chart": context.stats_chart(user=user),
    }
    return _page(request, "profile.html", values, status, refusal)


def _signed_in_pk(request: HttpRequest) -> int:
    pk = request.user.pk
    if pk is None:
        raise PermissionDenied
    return int(pk)


@never_cache
@login_required(redirect_field_name=None)
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in user's invite code, share link, activation, referrals, rewards and stats."""
    # Fresh, with the referrer's code in the same query.
    user = User.objects.select_related("referred_by").get(pk=_signed_in_pk(request))
    if request.method != "POST":
        form = ActivateForm(initial={"invite_code": request.GET.get("invite_code", "")[:64]})
        return _profile_page(request, user, form)

    form = ActivateForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, user, form, 400)
    try:
        invite_activate(user=user, code=form.cleaned_data["invite_code"], marks=_marks(request))
    except (ApplicationError, *OUTAGES) as error:
        return _profile_page(request, user, form, refusal=_refuse(form, error, "invite_code"))
    return redirect("web:profile")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its CSRF token (or an expired one): say so in words, send nothing."""
    return render(request, "web/csrf_failure.html", status=403)


@require_safe
def assetlinks(request: HttpRequest) -> JsonResponse:
    """Android App Links: share links open the Android app (when ANDROID_APP_* are set)."""
    if not (settings.ANDROID_APP_PACKAGE and settings.ANDROID_APP_SHA256_FINGERPRINTS):
        raise Http404
    statement = {
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {
            "namespace": "android_app",
            "package_name": settings.ANDROID_APP_PACKAGE,
            "sha256_cert_fingerprints": settings.ANDROID_APP_SHA256_FINGERPRINTS,
        },
    }
    return JsonResponse([statement], safe=False)


@require_safe
def apple_app_site_association(request: HttpRequest) -> JsonResponse:
    """iOS universal links: share links open the iOS app (when APPLE_APP_* are set)."""
    if not (settings.APPLE_APP_TEAM_ID and settings.APPLE_APP_BUNDLE_ID):
        raise Http404
    app_id = f"{settings.APPLE_APP_TEAM_ID}.{settings.APPLE_APP_BUNDLE_ID}"
    share_links = reverse("web:share", args=["CODE"]).replace("CODE/", "*")
    return JsonResponse(
        {
            "applinks": {
                # iOS 13 and later read `appIDs` and `components`; older ones `appID`, `paths`.
                "apps": [],
                "details": [
                    {
                        "appIDs": [app_id],
                        "components": [{"/": share_links, "comment": "Share links"}],
                        "appID": app_id,
                        "paths": [share_links],
                    }
                ],
            }
        }
    )
