"""The committed OpenAPI schema is exactly what the code generates, and it validates cleanly."""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command

COMMITTED_SCHEMA = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"


def test_openapi_schema_is_valid_and_matches_the_committed_file(tmp_path):
    generated = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))

    assert generated.read_text() == COMMITTED_SCHEMA.read_text(), (
        "docs/openapi.yaml is stale: regenerate it with "
        "`uv run python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml`"
    )
