"""Metric snapshots carry their publication's creator (step 1 of 3: the column, empty)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_audit_append_only"),
        ("analytics", "0002_transaction_created_at_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="metricsnapshot",
            name="creator",
            field=models.ForeignKey(db_index=False, editable=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to="accounts.creator"),
        ),
    ]
