# The two indexes manage.py prune_sessions reads. Built CONCURRENTLY on PostgreSQL, so that
# logins (which insert sessions) go on while a large sessions table is indexed.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex


class AddIndexWithoutBlockingWrites(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("users", "0008_referral_root"),
    ]

    operations = [
        AddIndexWithoutBlockingWrites(
            model_name="session",
            index=models.Index(
                condition=models.Q(("ended_at__isnull", False)),
                fields=["ended_at"],
                name="session_ended_idx",
            ),
        ),
        AddIndexWithoutBlockingWrites(
            model_name="session",
            index=models.Index(fields=["created_at"], name="session_created_idx"),
        ),
    ]
