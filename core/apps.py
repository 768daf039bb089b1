from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.beat import BeatEntry, register

        register(BeatEntry("purge idempotency records", "core.tasks.purge_idempotency_records",
                           crontab={"minute": "37", "hour": "*"}))
