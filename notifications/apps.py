from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from config.beat import BeatEntry, register
        from config.dashboard_counts import DASHBOARD_COUNTS

        DASHBOARD_COUNTS.append(
            ("Open notifications", lambda creator: creator.notifications.filter(resolved_at__isnull=True).count()))
        register(BeatEntry("retry due webhooks", "notifications.tasks.retry_due_webhooks", every_seconds=60))
