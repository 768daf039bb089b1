from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from compliance import checks, crypto  # noqa: F401 — checks registers the deadline settings check
        from compliance.models import CreatorPerformer, Performer
        from core import dashboard, idempotency
        from core.api import routes
        from core.beat import BeatEntry, register

        dashboard.register("Performers", dashboard.per_creator(
            lambda ids: CreatorPerformer.objects.filter(creator_id__in=ids), permission=Performer))
        routes.register("compliance.api.views.register")

        # Stored API answers may carry a secret shown once: the same key ring encrypts them.
        idempotency.set_cipher(crypto.encrypt_text, crypto.decrypt_text)
        crypto.register_encrypted_field("core.IdempotencyRecord", "response_encrypted", "stored API answer")

        register(
            BeatEntry("expire consents", "compliance.tasks.expire_consents", crontab={"minute": "5"}),
            BeatEntry("expire identity checks", "compliance.tasks.expire_verifications", crontab={"minute": "10"}),
            BeatEntry(
                "sweep orphan documents",
                "compliance.tasks.sweep_orphan_documents",
                crontab={"minute": "45", "hour": "2"},
            ),
        )
