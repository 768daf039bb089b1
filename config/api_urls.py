"""`/api/v1/`: one router, filled from the route registry (`core.api.routes`) each app adds to.

Any other path under `/api/v1/` answers 404 in the API's error format, never Django's HTML page."""

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from core.api import routes

router = routes.register_all(DefaultRouter())


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request: Request, *args: object) -> Response:
    """A path under the API that no route matches (an id that is not a number, a typo)."""
    raise exceptions.NotFound("No such endpoint or row.")


urlpatterns = [*router.urls, re_path(r"^.*$", not_found)]
