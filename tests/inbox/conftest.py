"""Shared builders for the inbox's tests: a creator with a Fanvue and a Telegram account, a chatter on
shift and a manager."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Creator, Role, User
from accounts.services import add_membership
from inbox.models import Shift
from scheduling.models import PlatformAccount
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.send_fixtures import fake_chat, vault  # noqa: F401 — the send pipeline's fixtures
from tests.scheduling.factories import PlatformAccountFactory


@dataclass(frozen=True)
class Desk:
    creator: Creator
    fanvue: PlatformAccount
    telegram: PlatformAccount
    chatter: User
    manager: User


@pytest.fixture
def desk(db: None) -> Desk:
    creator = CreatorFactory(stage_name="Luna")
    chatter = UserFactory(username="chatty")
    manager = UserFactory(username="mara")
    # Through the service, as the admin does: the role's group comes with the membership.
    add_membership(user=chatter, creator=creator, role=Role.CHATTER)
    add_membership(user=manager, creator=creator, role=Role.MANAGER)
    now = timezone.now()
    Shift.objects.create(creator=creator, chatter=chatter, starts_at=now - timedelta(hours=1),
                         ends_at=now + timedelta(hours=7))
    return Desk(creator=creator, fanvue=PlatformAccountFactory(creator=creator, platform="fanvue", handle="luna"),
                telegram=PlatformAccountFactory(creator=creator, platform="telegram", handle="luna_bot",
                                                options={"chat_id": "@luna_channel"}),
                chatter=chatter, manager=manager)
