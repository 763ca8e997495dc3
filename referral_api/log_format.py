"""The production log format: one JSON object a line, each with the running request's id.

Gunicorn's configuration uses it too, so this module imports nothing of the app.
"""

import logging
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

# Set by `referral_api.request_log.RequestLogMiddleware` while a request runs.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(BaseJsonFormatter):
    """One JSON object a line: time, level, logger, message, the record's extra fields and the
    request id (null outside a request).

    Django's `django.request` records carry the request object itself: left out, its text is a
    path, and the route and status are in the request line already.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("request", None)
        log_data.pop("server_time", None)
        log_data.setdefault("request_id", request_id.get())
