"""Factories for notifications, built through `notifications.services`: an endpoint's secret is stored
encrypted and its creation audited, a notice is fanned out as the app fans it out."""

from __future__ import annotations

from typing import Any

import factory

from notifications import services
from notifications.models import Notification, WebhookEndpoint

HOOK = "https://hooks.example.test/atelier"


class WebhookEndpointFactory(factory.Factory):
    """An endpoint from `services.create_endpoint` (`creator=None`: agency-wide). The secret, shown only
    once, is dropped; tests of the secret create endpoints through the API."""

    class Meta:
        model = WebhookEndpoint

    creator = None
    name = factory.Sequence(lambda n: f"Endpoint {n}")
    url = HOOK
    events: Any = ()
    active = True
    actor = None

    @classmethod
    def _create(cls, model_class: type[WebhookEndpoint], *args: Any, creator: Any, name: str, url: str,
                events: Any = (), **kwargs: Any) -> WebhookEndpoint:
        endpoint, _secret = services.create_endpoint(creator, name, url, list(events), **kwargs)
        return endpoint


class NotificationFactory(factory.Factory):
    """A notice from `services.notify` (`creator_id=None`: agency-wide)."""

    class Meta:
        model = Notification

    kind = "publication.failed"
    creator_id = None
    title = factory.Sequence(lambda n: f"Notice {n}")

    @classmethod
    def _create(cls, model_class: type[Notification], *args: Any, kind: str, **kwargs: Any) -> Notification | None:
        return services.notify(kind, **kwargs)
