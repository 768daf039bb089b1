"""Admin pages show times in the zone the viewer set on their account, else the agency's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import User

pytestmark = pytest.mark.django_db
SEEN = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)


def users_page(client, viewer: User) -> str:
    User.objects.filter(username="owner").update(last_login=SEEN)
    client.force_login(viewer)
    User.objects.filter(username="owner").update(last_login=SEEN)  # force_login stamped it
    return client.get(reverse("admin:accounts_user_changelist")).content.decode()


def test_times_follow_the_viewers_timezone(client, people):
    owner = people["owner"]
    assert "1:30 a.m." in users_page(client, owner)  # agency zone (UTC in tests)
    owner.timezone = "Asia/Tokyo"
    services.save_user(owner, actor=owner, changed=["timezone"])
    assert "10:30 a.m." in users_page(client, owner)


def test_agency_zone_is_the_default(client, people, settings):
    settings.AGENCY_TIMEZONE = "America/New_York"
    assert "8:30 p.m." in users_page(client, people["owner"])  # 2 Dec, 20:30 EST


def test_a_zone_that_does_not_exist_is_refused(people):
    alice = people["alice"]
    alice.timezone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        services.save_user(alice, actor=people["owner"], changed=["timezone"])


def test_the_owner_sets_a_persons_timezone_in_the_admin(client, people):
    alice = people["alice"]
    client.force_login(people["owner"])
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    assert 'name="timezone"' in client.get(url).content.decode()
