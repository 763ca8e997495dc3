"""Stand-ins for the SMS providers' HTTP APIs, served on loopback for the adapters to talk to.

Each answers as its provider documents: Twilio Programmable Messaging (twilio.com/docs/messaging/
api/message-resource, twilio.com/docs/api/errors) and SMS.ru (sms.ru/api/send). Only the far end
is a stand-in: the adapters' real HTTP code runs. A test can also make a server fail (HTTP 503),
or hang until the test is over (so the adapter's read timeout fires).
"""

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "f" * 32
TWILIO_FROM = "+15005550006"
TWILIO_MESSAGES_PATH = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
# Numbers the libphonenumber rules accept but the stand-in provider refuses.
TWILIO_INVALID_NUMBER = "+14155552671"
TWILIO_LANDLINE = "+442079460958"

SMSRU_API_ID = "A3CA597E-3ACF-4E7D-82EE-CF82B52B1A8B"
SMSRU_PATH = "/sms/send"
SMSRU_INVALID_NUMBER = "+79997654321"

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class SentRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class ProviderServer:
    """One provider's API on 127.0.0.1; `requests` lists what the adapters sent."""

    answer: Callable[[SentRequest], Answer]
    requests: list[SentRequest] = field(default_factory=list)
    # "answer" (as documented), "fail" (HTTP 503 with an HTML page), "garbled" (HTTP 201 with
    # an HTML page), "hang" (no answer until the test ends).
    mode: str = "answer"
    released: threading.Event = field(default_factory=threading.Event)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        form = {name: values[-1] for name, values in parse_qs(raw, keep_blank_values=True).items()}
        sent = SentRequest(handler.command, handler.path, dict(handler.headers.items()), form)
        self.requests.append(sent)
        if self.mode == "hang":
            self.released.wait(timeout=30)
            return
        if self.mode == "fail":
            reply(handler, 503, b"<html><body>Service Unavailable</body></html>", "text/html")
            return
        if self.mode == "garbled":
            reply(handler, 201, b"<html><body>Created</body></html>", "text/html")
            return
        status, body = self.answer(sent)
        reply(handler, status, json.dumps(body).encode(), "application/json")


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def serving(answer: Callable[[SentRequest], Answer]) -> Iterator[ProviderServer]:
    server = ProviderServer(answer=answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            server.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.httpd.daemon_threads = True
    thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=10)


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def twilio_error(status: int, code: int, message: str) -> Answer:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return status, {"code": code, "message": message, "more_info": more_info, "status": status}


def twilio_answer(sent: SentRequest) -> Answer:
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP basic auth."""
    if sent.path != TWILIO_MESSAGES_PATH:
        return twilio_error(404, 20404, f"The requested resource {sent.path} was not found")
    if sent.headers.get("Authorization") != basic_auth(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN):
        return twilio_error(401, 20003, "Authenticate")
    to = sent.form.get("To", "")
    if to == TWILIO_INVALID_NUMBER:
        return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if to == TWILIO_LANDLINE:
        return twilio_error(400, 21614, f"'To' number {to} is not a valid mobile number")
    if not (sent.form.get("From") or sent.form.get("MessagingServiceSid")):
        return twilio_error(400, 21603, "The 'From' phone number is required.")
    return 201, {
        "sid": "SM" + "1" * 32,
        "account_sid": TWILIO_ACCOUNT_SID,
        "messaging_service_sid": sent.form.get("MessagingServiceSid"),
        "from": sent.form.get("From"),
        "to": to,
        "body": sent.form.get("Body"),
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "error_code": None,
        "error_message": None,
        "uri": f"{TWILIO_MESSAGES_PATH[:-5]}/SM{'1' * 32}.json",
    }


def smsru_answer(sent: SentRequest) -> Answer:
    """POST https://sms.ru/sms/send with api_id, to, msg, json=1 (and from): always HTTP 200."""
    if sent.path != SMSRU_PATH:
        return 404, {"status": "ERROR", "status_code": 211, "status_text": "Метод не найден"}
    if sent.form.get("api_id") != SMSRU_API_ID:
        return 200, {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}
    to = sent.form.get("to", "")
    if "+" + to == SMSRU_INVALID_NUMBER:
        entry = {
            "status": "ERROR",
            "status_code": 202,
            "status_text": "Неправильно указан номер телефона получателя, "
            "либо на него нет маршрута",
        }
    else:
        entry = {"status": "OK", "status_code": 100, "sms_id": "000000-10000000"}
    return 200, {"status": "OK", "status_code": 100, "sms": {to: entry}, "balance": 4122.56}


def closed_port() -> int:
    """A loopback port nothing listens on (the connection is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
