"""docs/grafana-dashboard.json: valid JSON whose every query names a metric `/metrics` serves."""

import json
import re

import pytest
from django.urls import reverse

from tests.e2e.live import PROJECT_DIR

pytestmark = pytest.mark.django_db

DASHBOARD = PROJECT_DIR / "docs" / "grafana-dashboard.json"
TOKEN = "dashboard-test-token-0123456789"
METRIC = re.compile(r"\breferral_[a-z_]+\b")
# What a histogram serves beside its name.
SUFFIXES = ("_bucket", "_count", "_sum")


def test_dashboard_queries_only_metrics_that_exist(api_client, settings):
    settings.METRICS_TOKEN = TOKEN
    dashboard = json.loads(DASHBOARD.read_text())
    served = api_client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    declared = set(re.findall(r"^# TYPE (\S+) ", served.content.decode(), flags=re.MULTILINE))
    exposed = declared | {name + suffix for name in declared for suffix in SUFFIXES}
    # prometheus-client declares a counter without its `_total`.
    exposed |= {name + "_total" for name in declared}

    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queried = {name for query in queries for name in METRIC.findall(query)}

    assert dashboard["title"]
    assert queried, "the dashboard queries nothing"
    assert queried <= exposed, queried - exposed
    # Every metric the API defines is on the dashboard.
    defined = {name for name in declared if name.startswith("referral_")}
    shown = {re.sub(r"(_bucket|_count|_sum|_total)$", "", name) for name in queried}
    assert {re.sub(r"_total$", "", name) for name in defined} <= shown
