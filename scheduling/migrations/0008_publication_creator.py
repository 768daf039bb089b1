"""Publications carry their post's creator (step 1 of 3: the column, empty)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_audit_append_only"),
        ("scheduling", "0007_publication_one_live_per_account_instant"),
    ]

    operations = [
        migrations.AddField(
            model_name="publication",
            name="creator",
            field=models.ForeignKey(db_index=False, editable=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="publications",
                                    to="accounts.creator"),
        ),
    ]
