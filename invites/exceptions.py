from django.utils.translation import gettext_lazy as _
from rest_framework import status

from referral_api.error_codes import ErrorCode
from referral_api.errors import ApplicationError


class InviteCodeNotFoundError(ApplicationError):
    code = ErrorCode.INVITE_CODE_NOT_FOUND
    message = _("No user has this invite code.")


class InviteCodeOwnError(ApplicationError):
    code = ErrorCode.INVITE_CODE_OWN
    message = _("You cannot activate your own invite code.")


class InviteCycleError(ApplicationError):
    code = ErrorCode.INVITE_CYCLE
    message = _("This code belongs to someone you invited, directly or through others.")


class InviteAlreadyActivatedError(ApplicationError):
    code = ErrorCode.INVITE_ALREADY_ACTIVATED
    message = _("You have already activated an invite code.")
    status_code = status.HTTP_409_CONFLICT


class InviteActivationThrottledError(ApplicationError):
    code = ErrorCode.THROTTLED
    message = _("Too many failed activation attempts. Try again later.")
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    limit = "invite_activation_failures"
