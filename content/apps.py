from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self) -> None:
        from compliance.crypto import register_encrypted_field
        from config.beat import BeatEntry, register
        from config.dashboard_counts import DASHBOARD_COUNTS, per_creator
        from content.models import Asset

        DASHBOARD_COUNTS.extend([
            ("Assets", per_creator(lambda ids: Asset.objects.filter(creator_id__in=ids).exclude(status="archived"))),
            ("In review", per_creator(lambda ids: Asset.objects.filter(creator_id__in=ids, status="in_review"))),
        ])
        register_encrypted_field("content.GenerationBackend", "api_key_encrypted", "generation backend")
        register(BeatEntry("reap generation jobs", "content.tasks.reap_generation_jobs", every_seconds=300),
                 BeatEntry("reap stalled asset processing", "content.tasks.reap_stalled_processing",
                           every_seconds=300))
