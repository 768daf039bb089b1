from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.api_docs import DocsView, SchemaView
from config.health import health
from config.observability import metrics_view
from core.files import serve_signed
from scheduling.views_calendar import feed as calendar_feed

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(), name="api-docs"),
    path("calendar/<int:creator_id>/<str:token>.ics", calendar_feed, name="scheduling_calendar_feed"),
    path("hooks/", include("analytics.webhooks")),
    path("hooks/", include("inbox.webhooks")),
    path("health/", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    # Signed, expiring links to stored files (core.files). Nothing under MEDIA_ROOT or the private
    # storage is served by its path, in DEBUG either.
    path("files/<str:token>/<str:filename>", serve_signed, name="signed_file"),
]
