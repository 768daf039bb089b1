from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from core.api import routes
        from core.beat import BeatEntry, register

        routes.register("analytics.api.views.register")
        register(
            BeatEntry("process webhook events whose task was lost", "analytics.tasks.process_pending_events",
                      every_seconds=5),
            BeatEntry("sync publication metrics", "analytics.tasks.sync_metrics", every_seconds=1800),
            BeatEntry("nightly rollup", "analytics.tasks.nightly_rollup", crontab={"minute": "15", "hour": "2"}),
            BeatEntry("activate and expire offers", "analytics.tasks.tick_offers", every_seconds=300),
            BeatEntry("send due reports", "analytics.tasks.send_reports", crontab={"minute": "0", "hour": "6"}),
            BeatEntry("evaluate alert rules", "analytics.tasks.evaluate_alerts", every_seconds=3600),
        )
