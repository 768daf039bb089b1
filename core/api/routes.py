"""The registry of `/api/v1/` routes: each app adds its own from AppConfig.ready(), config's urls read it.

An app names the function that registers its viewsets on a router (a dotted path, imported only when
the urls are built, so app loading never imports views). Routes keep the order apps add them in.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.module_loading import import_string
from rest_framework.routers import BaseRouter

ROUTE_REGISTRARS: list[str] = []


def register(registrar: str) -> None:
    """Add `registrar` ("app.api.views.register", a function taking the router); a path added twice counts once."""
    if registrar not in ROUTE_REGISTRARS:
        ROUTE_REGISTRARS.append(registrar)


def register_all(router: BaseRouter) -> BaseRouter:
    """Register every app's viewsets on `router`, in the order the apps added them."""
    for path in ROUTE_REGISTRARS:
        add: Callable[[BaseRouter], None] = import_string(path)
        add(router)
    return router
