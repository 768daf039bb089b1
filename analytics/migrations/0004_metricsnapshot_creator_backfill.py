"""Metric snapshots carry their publication's creator (step 2 of 3: copy it, in batches).

Not atomic: each batch of 10,000 rows commits on its own, so the table is never locked as a
whole and an interrupted run resumes where it stopped (it only fills empty rows).
"""

from django.db import migrations, transaction
from django.db.models import Max, Min, OuterRef, Subquery

BATCH = 10_000


def copy_creator(apps, schema_editor) -> None:
    snapshot = apps.get_model("analytics", "MetricSnapshot")
    publication = apps.get_model("scheduling", "Publication")
    creator = Subquery(publication.objects.filter(pk=OuterRef("publication_id")).values("creator_id")[:1])
    empty = snapshot.objects.filter(creator__isnull=True)
    bounds = empty.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return
    for start in range(bounds["low"], bounds["high"] + 1, BATCH):
        with transaction.atomic(using=schema_editor.connection.alias):
            empty.filter(pk__gte=start, pk__lt=start + BATCH).update(creator=creator)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0003_metricsnapshot_creator"),
        ("scheduling", "0010_publication_creator_required"),
    ]

    operations = [
        migrations.RunPython(copy_creator, migrations.RunPython.noop, elidable=True),
    ]
