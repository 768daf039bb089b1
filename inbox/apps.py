from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from analytics import extensions
        from core.api import routes
        from core.beat import BeatEntry, register
        from inbox import (
            admin_people,  # noqa: F401 — registers the chatter performance and review pages
            events,
            metrics,
            signals,
            views_privacy,
        )
        from inbox.models import ReportingEvent

        # [metrics/api/privacy]
        routes.register("inbox.api.views.register")
        register(BeatEntry("purge expired inbox messages", "inbox.tasks.purge_expired_messages",
                           crontab={"minute": "40", "hour": "3"}))
        # Outbound webhook events: message received / sent / purchased.
        signals.message_received.connect(events.on_message_received, dispatch_uid="inbox.events.received")
        signals.message_sent.connect(events.on_message_sent, dispatch_uid="inbox.events.sent")
        post_save.connect(events.on_reporting_event, sender=ReportingEvent, dispatch_uid="inbox.events.purchased")
        # What analytics shows of the inbox, read through its registry (analytics never imports inbox).
        extensions.register_panel("Revenue per chatter", metrics.revenue_panel)
        extensions.register_panel("First-response times", metrics.response_panel)
        extensions.register_fan_action(views_privacy.FAN_EXPORT_ACTION)
        extensions.register_fan_action(views_privacy.FAN_ERASE_ACTION)
