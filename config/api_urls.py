"""`/api/v1/`: one router, each app registers its viewsets in its own `api` module.

Any other path under `/api/v1/` answers 404 in the API's error format, never Django's HTML page."""

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from accounts.api import views as accounts_views
from analytics import api as analytics_api
from compliance.api import views as compliance_views
from content.api import views as content_views
from notifications import api as notifications_api
from scheduling import api as scheduling_api

router = DefaultRouter()
accounts_views.register(router)
compliance_views.register(router)
content_views.register(router)
scheduling_api.register(router)
notifications_api.register(router)
analytics_api.register(router)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request: Request, *args: object) -> Response:
    """A path under the API that no route matches (an id that is not a number, a typo)."""
    raise exceptions.NotFound("No such endpoint or row.")


urlpatterns = [*router.urls, re_path(r"^.*$", not_found)]
