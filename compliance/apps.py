from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from config.beat import BeatEntry, register
        from config.dashboard_counts import DASHBOARD_COUNTS

        DASHBOARD_COUNTS.append(("Performers", lambda creator: creator.performer_links.count()))

        register(
            BeatEntry("expire consents", "compliance.tasks.expire_consents", crontab={"minute": "5"}),
            BeatEntry(
                "sweep orphan documents",
                "compliance.tasks.sweep_orphan_documents",
                crontab={"minute": "45", "hour": "2"},
            ),
        )
