"""One Django group per role. Their permissions are set from accounts.roles after each migrate,
once every app's permissions exist."""

from django.db import migrations

ROLE_LABELS = ["Account manager", "Editor", "Chatter", "Compliance officer", "Analyst"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for label in ROLE_LABELS:
        Group.objects.get_or_create(name=label)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_LABELS).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, delete_groups)]
