import json
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_live_api_logs_in_over_http(live_api):
    status, sent = _post(f"{live_api.url}/api/v1/auth/request-code/", {"phone": "+79990000001"})

    status, login = _post(
        f"{live_api.url}/api/v1/auth/verify-code/",
        {"phone": "+79990000001", "code": sent["debug_code"]},
    )

    assert status == 200
    assert login["user"]["phone"] == "+79990000001"
