# The rating labels come from the platform registry: "SFW", as assets and posts show it.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0004_latest_word'),
    ]

    operations = [
        migrations.AlterField(
            model_name='consentrecord',
            name='max_rating',
            field=models.CharField(choices=[('sfw', 'SFW'), ('suggestive', 'Suggestive'), ('explicit', 'Explicit')], max_length=16),
        ),
    ]
