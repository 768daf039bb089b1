from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self) -> None:
        from compliance.crypto import register_encrypted_field
        from content.models import Asset
        from core import dashboard
        from core.api import routes
        from core.beat import BeatEntry, register

        dashboard.register("Assets", dashboard.per_creator(
            lambda ids: Asset.objects.filter(creator_id__in=ids).exclude(status="archived")))
        dashboard.register("In review", dashboard.per_creator(
            lambda ids: Asset.objects.filter(creator_id__in=ids, status="in_review")))
        routes.register("content.api.views.register")
        register_encrypted_field("content.GenerationBackend", "api_key_encrypted", "generation backend")
        register(BeatEntry("reap generation jobs", "content.tasks.reap_generation_jobs", every_seconds=300),
                 BeatEntry("reap stalled asset processing", "content.tasks.reap_stalled_processing",
                           every_seconds=300))
