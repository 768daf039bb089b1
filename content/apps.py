from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self) -> None:
        from config.dashboard_counts import DASHBOARD_COUNTS

        DASHBOARD_COUNTS.extend([
            ("Assets", lambda creator: creator.assets.exclude(status="archived").count()),
            ("In review", lambda creator: creator.assets.filter(status="in_review").count()),
        ])
