from django.contrib.admin.apps import AdminConfig


class AtelierAdminConfig(AdminConfig):
    default_site = "config.admin_site.AtelierAdminSite"
