"""Accounts that tell the truth: an account is `not connected` until credentials the platform accepted
are stored; a publication placed on an account that cannot publish says so at once — in the schedule
answer (API, admin actions, calendar drag), on the calendar chip, in the lists — and the creator's
managers are notified once per account, not when the publication fails at its due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from scheduling import services
from scheduling.models import PlatformAccount, Publication
from tests.scheduling.fixtures import approved_target as approved_publication

pytestmark = pytest.mark.django_db

S = Publication.Status
NEXT_YEAR = timezone.now().year + 1
CHANGELIST = "admin:scheduling_publication_changelist"


def never_connected(account: PlatformAccount) -> PlatformAccount:
    PlatformAccount.objects.filter(pk=account.pk).update(state=PlatformAccount.State.NOT_CONNECTED)
    account.refresh_from_db()
    return account


def connect(account: PlatformAccount) -> None:
    services.store_credentials(account, {"access_token": "tok"}, expires_at=timezone.now() + timedelta(hours=2))


def test_a_new_account_is_not_connected_until_credentials_are_stored(world):
    fresh = services.save_account(PlatformAccount(creator=world.creator, platform="reddit", handle="luna_r"))
    assert fresh.state == PlatformAccount.State.NOT_CONNECTED
    assert fresh.publish_warning and "not connected" in fresh.publish_warning
    assert services.initial_state("x") == PlatformAccount.State.NOT_CONNECTED
    assert services.initial_state("manual") == PlatformAccount.State.CONNECTED  # nothing to connect
    connect(fresh)
    fresh.refresh_from_db()
    assert fresh.state == PlatformAccount.State.CONNECTED and fresh.publish_warning is None


def test_the_admin_add_form_never_offers_connected(client, world):
    client.force_login(world.owner)
    page = client.get(reverse("admin:scheduling_platformaccount_add")).content.decode()
    assert "Not connected" in page
    assert ">Connected<" not in page.replace("\n", "").replace(" ", "")
    response = client.post(reverse("admin:scheduling_platformaccount_add"), {
        "creator": world.creator.pk, "platform": "x", "handle": "luna_second", "options": "{}",
        "queue_slots-TOTAL_FORMS": "0", "queue_slots-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PlatformAccount.objects.get(handle="luna_second").state == PlatformAccount.State.NOT_CONNECTED


def test_the_api_creates_accounts_not_connected(client, world):
    client.force_login(world.alice)
    created = client.post("/api/v1/platform-accounts/", {"creator": world.creator.pk, "platform": "x",
                                                         "handle": "luna_api"}, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["state"] == "not_connected"


def test_scheduling_on_an_account_that_is_not_connected_warns_at_once(client, world):
    never_connected(world.fanvue)
    pub = approved_publication(world)
    client.force_login(world.alice)
    answer = client.post(f"/api/v1/publications/{pub.pk}/schedule/", {"at": f"{NEXT_YEAR}-12-24T20:00"},
                         content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "scheduled"
    assert "not connected" in body["account_warning"]
    notes = Notification.objects.filter(kind="account.not_ready", creator=world.creator, resolved_at__isnull=True)
    assert notes.count() == 1 and str(world.fanvue) in notes.get().title
    # Another publication on the same account: still one notice until the account is connected.
    other = approved_publication(world)
    services.schedule(other, at=datetime(NEXT_YEAR, 12, 25, 20, 0, tzinfo=UTC))
    assert notes.count() == 1
    # The list and the calendar both show the warning as soon as it is scheduled.
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert 'data-testid="account-warning"' in listing
    month = client.get(reverse("admin:scheduling_calendar"), {"view": "month", "date": f"{NEXT_YEAR}-12-24"})
    html = month.content.decode()
    assert 'data-testid="chip-warning"' in html and "cal-chip--account-warning" in html
    assert client.get(f"/api/v1/publications/{pub.pk}/").json()["account_warning"]
    moved = client.post(reverse("admin:scheduling_calendar_move"), {"publication": pub.pk,
                                                                     "date": f"{NEXT_YEAR}-12-26"})
    assert moved.status_code == 200 and "not connected" in moved.json()["warning"]
    # Connected: the warnings go, and so does the notice.
    connect(world.fanvue)
    assert client.get(f"/api/v1/publications/{pub.pk}/").json()["account_warning"] is None
    assert 'data-testid="chip-warning"' not in client.get(
        reverse("admin:scheduling_calendar"), {"view": "month", "date": f"{NEXT_YEAR}-12-24"}).content.decode()
    assert notes.count() == 0


def test_a_connected_account_schedules_without_a_warning(client, world):
    connect(world.fanvue)
    pub = approved_publication(world)
    outcome = services.schedule(pub, at=datetime(NEXT_YEAR, 12, 24, 19, 0, tzinfo=UTC))
    assert outcome.verdict.passed and outcome.warning is None
    assert not Notification.objects.filter(kind="account.not_ready").exists()


def test_an_account_needing_reauthorisation_warns_in_the_admin_actions(client, world):
    never_connected(world.fanvue)
    connect(world.fanvue)
    services.mark_needs_reauth(world.fanvue, "token revoked")
    pub = approved_publication(world)
    client.force_login(world.alice)
    response = client.post(reverse(CHANGELIST), {
        "action": "reschedule_selected", "apply": "1", ACTION_CHECKBOX_NAME: [pub.pk],
        "day": f"{NEXT_YEAR}-12-24", "at": "20:00"}, follow=True)
    assert response.status_code == 200
    texts = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert any(tag == "warning" and "needs re-authorisation" in text for tag, text in texts), texts
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED and "needs re-authorisation" in pub.account_warning
    # The platform's refusal was already notified; scheduling adds no second notice.
    assert not Notification.objects.filter(kind="account.not_ready").exists()
