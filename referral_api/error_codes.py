"""Every error `code` the API answers with (API.md › Errors): one registry, named, never spelled.

Exceptions, the error handler, the schema's examples and the tests name codes through this enum;
`tests/api/test_error_codes.py` proves every member is documented in `docs/openapi.yaml` and every
code the server can answer is a member.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    # 400
    VALIDATION_ERROR = "validation_error"
    PARSE_ERROR = "parse_error"
    OTP_INVALID = "otp_invalid"
    OTP_EXPIRED = "otp_expired"
    INVITE_CODE_NOT_FOUND = "invite_code_not_found"
    INVITE_CODE_OWN = "invite_code_own"
    INVITE_CYCLE = "invite_cycle"
    # 401
    NOT_AUTHENTICATED = "not_authenticated"
    TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 - a code, not a secret
    # 403
    PERMISSION_DENIED = "permission_denied"
    ACCOUNT_DISABLED = "account_disabled"
    # 404, 405, 406
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # Not in the contract's table, but DRF answers it to an `Accept` header that excludes JSON.
    NOT_ACCEPTABLE = "not_acceptable"
    # 409
    INVITE_ALREADY_ACTIVATED = "invite_already_activated"
    REWARD_STATE_CONFLICT = "reward_state_conflict"
    # 415
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # 429
    THROTTLED = "throttled"
    OTP_COOLDOWN = "otp_cooldown"
    OTP_ATTEMPTS_EXCEEDED = "otp_attempts_exceeded"
    # 500, 503
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
