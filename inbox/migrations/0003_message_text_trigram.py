"""A trigram index on message words, so a search for a rare word finds its messages without reading
every thread. PostgreSQL only (pg_trgm); the embedded SQLite database has no such index and needs none
at a laptop's size. The expression matches what `icontains` asks: UPPER(text) LIKE UPPER('%…%')."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE INDEX IF NOT EXISTS inbox_msg_text_trgm ON inbox_message "
                          "USING gin (UPPER(text) gin_trgm_ops)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS inbox_msg_text_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ("inbox", "0002_channel_cursor"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
