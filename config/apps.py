from django.contrib.admin.apps import AdminConfig


class AtelierAdminConfig(AdminConfig):
    default_site = "config.admin_site.AtelierAdminSite"

    def ready(self) -> None:
        # unfold's own ready() installs its site instance; put ours in place before autodiscovery.
        from django.contrib import admin
        from django.contrib.admin import sites

        from config import checks  # noqa: F401 — registers the production checks
        from config.admin_site import AtelierAdminSite

        admin.site = sites.site = AtelierAdminSite()
        super().ready()
