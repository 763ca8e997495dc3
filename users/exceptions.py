from rest_framework import status

from referral_api.errors import ApplicationError


class OtpInvalidError(ApplicationError):
    code = "otp_invalid"
    message = "The code is wrong."


class OtpExpiredError(ApplicationError):
    code = "otp_expired"
    message = "There is no valid code for this phone number. Request a new one."


class OtpCooldownError(ApplicationError):
    code = "otp_cooldown"
    message = "A code was sent recently. Wait before asking for another one."
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class OtpSendLimitError(ApplicationError):
    code = "throttled"
    message = "Too many codes were requested. Try again later."
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class OtpAttemptsExceededError(ApplicationError):
    code = "otp_attempts_exceeded"
    message = "Too many wrong codes. Try again later."
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class AccountDisabledError(ApplicationError):
    code = "account_disabled"
    message = "This account is disabled."
    status_code = status.HTTP_403_FORBIDDEN


class TokenNotValidError(ApplicationError):
    code = "token_not_valid"
    message = "The token is invalid or expired."
    status_code = status.HTTP_401_UNAUTHORIZED


class RefreshTokenForeignError(ApplicationError):
    code = "validation_error"
    message = "The refresh token is not valid for this user."
