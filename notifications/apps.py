from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core import dashboard
        from core.api import routes
        from core.beat import BeatEntry, register
        from notifications import receivers  # noqa: F401 — connects content's signal handlers
        from notifications.models import Notification

        dashboard.register("Open notifications", dashboard.per_creator(
            lambda ids: Notification.objects.filter(creator_id__in=ids, resolved_at__isnull=True)))
        routes.register("notifications.api.register")
        register(BeatEntry("retry due webhooks", "notifications.tasks.retry_due_webhooks", every_seconds=60))
