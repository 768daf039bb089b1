"""Publications carry their post's creator (step 3 of 3: required, indexed, tied to the post).

On PostgreSQL the pair (post, creator) becomes a foreign key to the post's own (id, creator), so
no path (raw SQL, `update()`, a form) can give a publication another creator than its post's;
ON UPDATE CASCADE moves the publications with a post moved to another creator.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

FOREIGN_KEY = "publication_creator_is_post_creator"


def copy_stragglers(apps, schema_editor) -> None:
    """Rows written between the backfill and this step (a deploy with the old code still running)."""
    publication = apps.get_model("scheduling", "Publication")
    post = apps.get_model("scheduling", "Post")
    publication.objects.filter(creator__isnull=True).update(
        creator=Subquery(post.objects.filter(pk=OuterRef("post_id")).values("creator_id")[:1]))
    if schema_editor.connection.vendor == "postgresql":
        # Check the deferred foreign keys now: PostgreSQL refuses ALTER TABLE with checks pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def add_pair_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE scheduling_publication ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY (post_id, creator_id) "
            "REFERENCES scheduling_post (id, creator_id) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED")


def drop_pair_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE scheduling_publication DROP CONSTRAINT IF EXISTS {FOREIGN_KEY}")


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0009_publication_creator_backfill"),
    ]

    operations = [
        migrations.RunPython(copy_stragglers, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="publication",
            name="creator",
            field=models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="publications", to="accounts.creator"),
        ),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(fields=["creator", "id"], name="publication_creator_id"),
        ),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(fields=["creator", "scheduled_at"], name="publication_creator_due"),
        ),
        migrations.AddConstraint(
            model_name="post",
            constraint=models.UniqueConstraint(fields=("id", "creator"), name="post_id_creator"),
        ),
        migrations.AddConstraint(
            model_name="publication",
            constraint=models.UniqueConstraint(fields=("id", "creator"), name="publication_id_creator"),
        ),
        migrations.RunPython(add_pair_key, drop_pair_key),
    ]
