from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        from django.conf import settings

        from core.beat import BeatEntry, register
        from inbox import sync  # noqa: F401 — connects the Fanvue chat events and declares the reconcile tasks

        register(BeatEntry("reconcile fanvue chats", "inbox.sync.reconcile_fanvue_accounts",
                           every_seconds=settings.INBOX_FANVUE_RECONCILE_SECONDS))
