from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs) -> None:  # noqa: ANN001
    # Runs once per migrate, after the last app's permissions exist. Django sends post_migrate only
    # for apps with a models module, so "last" is the last of those (the demo app has none).
    from django.apps import apps

    if sender.label != [c for c in apps.get_app_configs() if c.models_module is not None][-1].label:
        return
    from accounts.roles import sync_role_groups
    from core.beat import sync_beat_schedule

    sync_role_groups()
    sync_beat_schedule()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Creators & team"

    def ready(self) -> None:
        from core import beat
        from core.api import routes

        post_migrate.connect(_after_migrate, dispatch_uid="accounts.after_migrate")
        routes.register("accounts.api.views.register")
        beat.register(
            beat.BeatEntry("heartbeat", "accounts.tasks.record_heartbeat", every_seconds=60),
            beat.BeatEntry("expire lockouts", "accounts.tasks.clean_login_lockouts",
                           crontab={"minute": "17", "hour": "3"}),
        )
