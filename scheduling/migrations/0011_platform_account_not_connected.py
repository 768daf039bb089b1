"""A platform account is `not_connected` until credentials the platform accepted are stored.

Forwards, an account marked connected that holds no credentials (and is not a manual export, which needs
none) could never have published: it becomes `not_connected`. Backwards, `not_connected` does not exist,
so those accounts become `needs_reauth`, which the older code also refuses to publish through."""

from django.db import migrations, models


def _not_connected_without_credentials(apps, schema_editor):
    PlatformAccount = apps.get_model("scheduling", "PlatformAccount")
    PlatformAccount.objects.filter(state="connected", credentials_encrypted="").exclude(
        platform="manual").update(state="not_connected")


def _back_to_needs_reauth(apps, schema_editor):
    PlatformAccount = apps.get_model("scheduling", "PlatformAccount")
    PlatformAccount.objects.filter(state="not_connected").update(state="needs_reauth")


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0010_publication_creator_required"),
    ]

    operations = [
        migrations.AlterField(
            model_name="platformaccount",
            name="state",
            field=models.CharField(choices=[("not_connected", "Not connected"), ("connected", "Connected"),
                                            ("needs_reauth", "Needs re-authorisation"), ("disabled", "Disabled")],
                                   default="not_connected", max_length=16),
        ),
        migrations.RunPython(_not_connected_without_credentials, _back_to_needs_reauth),
    ]
