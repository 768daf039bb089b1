"""Factories for memberships and API keys, built through `accounts.services` (roles kept in step with
the user's groups, keys hashed and audited) — users and creators are in tests/factories.py."""

from __future__ import annotations

from typing import Any

import factory

from accounts import services
from accounts.models import ApiKey, Membership
from tests.factories import CreatorFactory, UserFactory


class MembershipFactory(factory.Factory):
    """A role on a creator, given by `services.add_membership`."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    creator = factory.SubFactory(CreatorFactory)
    role = "manager"
    actor = None

    @classmethod
    def _create(cls, model_class: type[Membership], *args: Any, **kwargs: Any) -> Membership:
        return services.add_membership(**kwargs)


class ApiKeyFactory(factory.Factory):
    """A key issued by `services.issue_api_key`; what it returns carries the secret, shown once
    (`.raw`), beside the stored row (`.key`)."""

    class Meta:
        model = ApiKey

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"key {n}")
    creators: Any = ()
    scope = ApiKey.Scope.READ
    expires_at = None
    actor = None

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, creators: Any = (), **kwargs: Any) -> Any:
        return services.issue_api_key(creators=list(creators), **kwargs)
