"""Metric snapshots carry their publication's creator (step 3 of 3: required, indexed, tied).

On PostgreSQL (publication, creator) becomes a foreign key to the publication's own
(id, creator), which itself follows its post's: ON UPDATE CASCADE carries a post moved to
another creator down to its publications and their snapshots.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

FOREIGN_KEY = "metric_snapshot_creator_is_publication_creator"


def copy_stragglers(apps, schema_editor) -> None:
    """Rows written between the backfill and this step (a deploy with the old code still running)."""
    snapshot = apps.get_model("analytics", "MetricSnapshot")
    publication = apps.get_model("scheduling", "Publication")
    snapshot.objects.filter(creator__isnull=True).update(
        creator=Subquery(publication.objects.filter(pk=OuterRef("publication_id")).values("creator_id")[:1]))
    if schema_editor.connection.vendor == "postgresql":
        # Check the deferred foreign keys now: PostgreSQL refuses ALTER TABLE with checks pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def add_pair_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE analytics_metricsnapshot ADD CONSTRAINT {FOREIGN_KEY} "
            "FOREIGN KEY (publication_id, creator_id) REFERENCES scheduling_publication (id, creator_id) "
            "ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED")


def drop_pair_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE analytics_metricsnapshot DROP CONSTRAINT IF EXISTS {FOREIGN_KEY}")


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0004_metricsnapshot_creator_backfill"),
        ("scheduling", "0010_publication_creator_required"),
    ]

    operations = [
        migrations.RunPython(copy_stragglers, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="metricsnapshot",
            name="creator",
            field=models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="accounts.creator"),
        ),
        migrations.AddIndex(
            model_name="metricsnapshot",
            index=models.Index(fields=["creator", "taken_at"], name="metric_snapshot_creator_taken"),
        ),
        migrations.RunPython(add_pair_key, drop_pair_key),
    ]
