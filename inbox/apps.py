from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        # Local imports: this module loads before the app registry is ready (models, admin, analytics).
        from analytics import ingest
        from inbox import admin_telegram, telegram_updates, webhooks

        ingest.register_handler(webhooks.UPDATE_KIND, telegram_updates.process_update)
        admin_telegram.install()
