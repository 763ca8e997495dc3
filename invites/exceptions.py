from rest_framework import status

from referral_api.errors import ApplicationError


class InviteCodeNotFoundError(ApplicationError):
    code = "invite_code_not_found"
    message = "No user has this invite code."


class InviteCodeOwnError(ApplicationError):
    code = "invite_code_own"
    message = "You cannot activate your own invite code."


class InviteCycleError(ApplicationError):
    code = "invite_cycle"
    message = "This code belongs to someone you invited, directly or through others."


class InviteAlreadyActivatedError(ApplicationError):
    code = "invite_already_activated"
    message = "You have already activated an invite code."
    status_code = status.HTTP_409_CONFLICT


class InviteActivationThrottledError(ApplicationError):
    code = "throttled"
    message = "Too many failed activation attempts. Try again later."
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
