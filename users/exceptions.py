from django.utils.translation import gettext_lazy as _
from rest_framework import status

from referral_api.error_codes import ErrorCode
from referral_api.errors import ApplicationError


class OtpInvalidError(ApplicationError):
    code = ErrorCode.OTP_INVALID
    message = _("The code is wrong.")


class OtpExpiredError(ApplicationError):
    code = ErrorCode.OTP_EXPIRED
    message = _("There is no valid code for this phone number. Request a new one.")


class OtpCooldownError(ApplicationError):
    code = ErrorCode.OTP_COOLDOWN
    message = _("A code was sent recently. Wait before asking for another one.")
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class OtpSendLimitError(ApplicationError):
    code = ErrorCode.THROTTLED
    message = _("Too many codes were requested. Try again later.")
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class PhoneUndeliverableError(ApplicationError):
    """The SMS provider refused the number: the same body as an invalid `phone` field."""

    code = ErrorCode.VALIDATION_ERROR
    message = _("The request has invalid fields.")
    phone_message = _("This number cannot receive SMS. Check it, or use another number.")

    def __init__(self) -> None:
        super().__init__(errors={"phone": [str(self.phone_message)]})


class OtpAttemptsExceededError(ApplicationError):
    code = ErrorCode.OTP_ATTEMPTS_EXCEEDED
    message = _("Too many wrong codes. Try again later.")
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class AccountDisabledError(ApplicationError):
    code = ErrorCode.ACCOUNT_DISABLED
    message = _("This account is disabled.")
    status_code = status.HTTP_403_FORBIDDEN


class TokenNotValidError(ApplicationError):
    code = ErrorCode.TOKEN_NOT_VALID
    message = _("The token is invalid or expired.")
    status_code = status.HTTP_401_UNAUTHORIZED


class RefreshTokenForeignError(ApplicationError):
    code = ErrorCode.VALIDATION_ERROR
    message = _("The refresh token is not valid for this user.")


class SessionNotFoundError(ApplicationError):
    code = ErrorCode.NOT_FOUND
    message = _("Not found.")
    status_code = status.HTTP_404_NOT_FOUND
