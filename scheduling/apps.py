from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from config.beat import BeatEntry, register
        from scheduling import receivers  # noqa: F401 — connects the compliance signal handlers

        register(
            BeatEntry("dispatch due publications", "scheduling.tasks.dispatch_due", every_seconds=30),
            BeatEntry("reap expired leases", "scheduling.tasks.reap_leases", every_seconds=60),
            BeatEntry("reconcile unknown outcomes", "scheduling.tasks.reconcile_unknown", every_seconds=300),
            BeatEntry("refresh platform tokens", "scheduling.tasks.refresh_tokens", every_seconds=600),
        )
