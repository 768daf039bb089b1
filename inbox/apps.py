from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        # Imported here, not at the top: an AppConfig module is loaded before the app registry is ready.
        from django.conf import settings
        from django.db.models.signals import post_save

        from analytics import extensions, ingest
        from core.api import routes
        from core.beat import BeatEntry, register
        from inbox import (
            admin_telegram,
            events,
            metrics,
            polling,
            receivers,  # noqa: F401 — connects the send pipeline's receivers (minor holds, purchase credits)
            services,
            signals,
            sync,  # connects the Fanvue chat events, declares the reconcile tasks
            telegram_updates,
            views_privacy,
            webhooks,
        )
        from inbox.models import ReportingEvent

        ingest.register_handler(webhooks.UPDATE_KIND, telegram_updates.process_update)
        ingest.register_batch_handler(ingest.MESSAGE, sync.on_message_events)
        admin_telegram.install()
        routes.register("inbox.api.views.register")
        register(
            BeatEntry("deliver queued messages", "inbox.tasks.deliver_due",
                      every_seconds=settings.INBOX_DELIVER_EVERY_SECONDS),
            BeatEntry("reap stuck message sends", "inbox.tasks.reap_sending",
                      every_seconds=settings.INBOX_REAP_EVERY_SECONDS),
            BeatEntry("settle unknown message sends", "inbox.tasks.settle_unknown",
                      every_seconds=settings.INBOX_SETTLE_EVERY_SECONDS),
            BeatEntry("reconcile fanvue chats", "inbox.sync.reconcile_fanvue_accounts",
                      every_seconds=settings.INBOX_FANVUE_RECONCILE_SECONDS),
            # Chats without webhooks (Bluesky, X) are polled; each account at most as often as its rate allows.
            BeatEntry("poll chat accounts", "inbox.polling.poll_chat_accounts", every_seconds=polling.BEAT_SECONDS),
            BeatEntry("purge expired inbox messages", "inbox.tasks.purge_expired_messages",
                      crontab={"minute": "40", "hour": "3"}),
        )
        # Outbound webhook events: message received / sent / purchased.
        signals.message_received.connect(events.on_message_received, dispatch_uid="inbox.events.received")
        signals.message_sent.connect(events.on_message_sent, dispatch_uid="inbox.events.sent")
        post_save.connect(events.on_reporting_event, sender=ReportingEvent, dispatch_uid="inbox.events.purchased")
        # What analytics shows of the inbox, read through its registry (analytics never imports inbox).
        extensions.register_panel("Revenue per chatter", metrics.revenue_panel)
        extensions.register_panel("First-response times", metrics.response_panel)
        extensions.register_fan_action(views_privacy.FAN_EXPORT_ACTION)
        extensions.register_fan_action(views_privacy.FAN_ERASE_ACTION)
        # A new fan's message goes to the next chatter on shift (round-robin), inside the receiving transaction.
        signals.message_received.connect(services.assign_on_arrival, dispatch_uid="inbox.assign_on_arrival")
