from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        from core.beat import BeatEntry, register
        from inbox import polling

        # Chats without webhooks (Bluesky, X) are polled; each account at most as often as its rate allows.
        register(BeatEntry("poll chat accounts", "inbox.polling.poll_chat_accounts",
                           every_seconds=polling.BEAT_SECONDS))
