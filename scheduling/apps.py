from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from django.conf import settings

        from compliance.crypto import register_encrypted_field
        from compliance.records import register_depiction_provider
        from core import dashboard
        from core.api import routes
        from core.beat import BeatEntry, register
        from notifications.services import register_recipients
        from scheduling import receivers  # noqa: F401 — connects the compliance signal handlers
        from scheduling.depictions import depictions_of
        from scheduling.models import Post, Publication
        from scheduling.notices import recipients_of
        from scheduling.takedowns import register_target_resolvers

        register_encrypted_field("scheduling.PlatformAccount", "credentials_encrypted", "platform account")
        # The 2257 record and the data-subject export list assets and publications through this.
        register_depiction_provider(depictions_of)
        register_target_resolvers()
        # The people who scheduled a post hear about it too, whichever app raised the notice.
        register_recipients(recipients_of)
        routes.register("scheduling.api.views.register")
        dashboard.register("Posts in review", dashboard.per_creator(lambda ids: Post.objects.filter(
            creator_id__in=ids, pk__in=Publication.objects.filter(status="pending_approval").values("post_id"))))
        # The home's review columns open the review inbox on that creator.
        dashboard.link("In review", "admin:scheduling_review_inbox", kind="asset")
        dashboard.link("Posts in review", "admin:scheduling_review_inbox", kind="post")

        register(
            BeatEntry("dispatch due publications", "scheduling.tasks.dispatch_due",
                      every_seconds=settings.SCHEDULING_DISPATCH_EVERY_SECONDS),
            BeatEntry("reap expired leases", "scheduling.tasks.reap_leases",
                      every_seconds=settings.SCHEDULING_REAP_EVERY_SECONDS),
            BeatEntry("reconcile unknown outcomes", "scheduling.tasks.reconcile_unknown",
                      every_seconds=settings.SCHEDULING_RECONCILE_EVERY_SECONDS),
            BeatEntry("refresh platform tokens", "scheduling.tasks.refresh_tokens", every_seconds=600),
        )
