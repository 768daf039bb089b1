from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from config.beat import BeatEntry, register
        from config.dashboard_counts import DASHBOARD_COUNTS, per_creator
        from notifications.models import Notification

        DASHBOARD_COUNTS.append(("Open notifications", per_creator(
            lambda ids: Notification.objects.filter(creator_id__in=ids, resolved_at__isnull=True))))
        register(BeatEntry("retry due webhooks", "notifications.tasks.retry_due_webhooks", every_seconds=60))
