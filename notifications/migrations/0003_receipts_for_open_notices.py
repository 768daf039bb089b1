"""Open notices raised before each person had a copy: the people in charge get theirs, unread, so
the bell shows them. A notice already emailed (to the managers) counts as emailed for everyone, so
nobody is emailed about it again. Going back drops the copies with their table (0002)."""

from django.conf import settings
from django.db import migrations


def give_copies(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    Receipt = apps.get_model("notifications", "NotificationReceipt")
    Membership = apps.get_model("accounts", "Membership")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    owners = list(User.objects.filter(is_superuser=True, is_active=True).values_list("pk", flat=True))
    managers: dict[int, list[int]] = {}
    for creator_id, user_id in Membership.objects.filter(role="manager", user__is_active=True).values_list(
            "creator_id", "user_id"):
        managers.setdefault(creator_id, []).append(user_id)
    rows = []
    for note in Notification.objects.filter(resolved_at__isnull=True).only("pk", "creator_id", "created_at",
                                                                           "emailed_at"):
        people = set(owners) | set(managers.get(note.creator_id, []) if note.creator_id else [])
        rows += [Receipt(notification_id=note.pk, user_id=uid, created_at=note.created_at,
                         emailed_at=note.emailed_at) for uid in sorted(people)]
    Receipt.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_receipts"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(give_copies, migrations.RunPython.noop)]
