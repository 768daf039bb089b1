from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        # Imported here, not at the top: an AppConfig module is loaded before the app registry is ready.
        from django.conf import settings

        from analytics import ingest
        from core.beat import BeatEntry, register
        from inbox import (
            admin_telegram,
            polling,
            receivers,  # noqa: F401 — connects the send pipeline's receivers (minor holds, purchase credits)
            sync,  # noqa: F401 — connects the Fanvue chat events, declares the reconcile tasks
            telegram_updates,
            webhooks,
        )

        ingest.register_handler(webhooks.UPDATE_KIND, telegram_updates.process_update)
        admin_telegram.install()
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
        )
