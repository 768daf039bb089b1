from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        from django.conf import settings

        from core.beat import BeatEntry, register
        from inbox import receivers  # noqa: F401 — connects the send pipeline's receivers

        register(
            BeatEntry("deliver queued messages", "inbox.tasks.deliver_due",
                      every_seconds=settings.INBOX_DELIVER_EVERY_SECONDS),
            BeatEntry("reap stuck message sends", "inbox.tasks.reap_sending",
                      every_seconds=settings.INBOX_REAP_EVERY_SECONDS),
            BeatEntry("settle unknown message sends", "inbox.tasks.settle_unknown",
                      every_seconds=settings.INBOX_SETTLE_EVERY_SECONDS),
        )
