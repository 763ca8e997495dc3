from django.utils.translation import gettext_lazy as _
from rest_framework import status

from referral_api.error_codes import ErrorCode
from referral_api.errors import ApplicationError


class RewardNotFoundError(ApplicationError):
    code = ErrorCode.NOT_FOUND
    message = _("Not found.")
    status_code = status.HTTP_404_NOT_FOUND


class RewardStateConflictError(ApplicationError):
    code = ErrorCode.REWARD_STATE_CONFLICT
    message = _("This reward entry was reversed; it can no longer be credited.")
    status_code = status.HTTP_409_CONFLICT
