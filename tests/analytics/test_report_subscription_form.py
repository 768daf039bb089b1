"""The report-subscription admin form asks for what its help text says: the creator is required for
staff (their help says so) and optional for the owner (empty means agency-wide)."""

from __future__ import annotations

import pytest

from analytics.admin_main import SUBSCRIPTION_CREATOR_HELP_OWNER, SUBSCRIPTION_CREATOR_HELP_STAFF
from analytics.models import ReportSubscription

pytestmark = pytest.mark.django_db
ADD = "/admin/analytics/reportsubscription/add/"


def _form(client, user):
    client.force_login(user)
    response = client.get(ADD)
    assert response.status_code == 200
    return response.context["adminform"].form


def _says_optional(help_text: str) -> bool:
    return "empty" in help_text.lower()


@pytest.mark.parametrize("username", ["owner", "alice", "charlie"])
def test_every_required_field_is_asked_for_and_no_help_says_otherwise(client, people, username):
    form = _form(client, people[username])
    for name, field in form.fields.items():
        assert not (field.required and _says_optional(str(field.help_text))), name
    creator = form.fields["creator"]
    if username == "owner":
        assert not creator.required and str(creator.help_text) == SUBSCRIPTION_CREATOR_HELP_OWNER
        assert form.fields["user"].required
    else:
        assert creator.required and str(creator.help_text) == SUBSCRIPTION_CREATOR_HELP_STAFF
        assert "user" not in form.fields
    assert form.fields["period"].required and form.fields["format"].required


def test_the_help_shows_on_the_page(client, people):
    client.force_login(people["alice"])
    html = client.get(ADD).content.decode()
    assert SUBSCRIPTION_CREATOR_HELP_STAFF in html and "Empty: agency-wide" not in html


def test_staff_without_a_creator_get_the_field_error_and_nothing_is_saved(client, people):
    client.force_login(people["alice"])
    response = client.post(ADD, {"period": "weekly", "format": "pdf", "active": "on"})
    assert response.status_code == 200
    assert "creator" in response.context["adminform"].form.errors
    assert not ReportSubscription.objects.exists()


def test_the_owner_leaves_the_creator_empty_for_an_agency_wide_report(client, people):
    client.force_login(people["owner"])
    response = client.post(ADD, {"user": people["owner"].pk, "period": "monthly", "format": "csv", "active": "on"})
    assert response.status_code == 302
    sub = ReportSubscription.objects.get()
    assert sub.creator is None and sub.user == people["owner"]


def test_the_owner_must_still_say_who_receives_it(client, people):
    client.force_login(people["owner"])
    response = client.post(ADD, {"period": "monthly", "format": "csv", "active": "on"})
    assert response.status_code == 200 and "user" in response.context["adminform"].form.errors
    assert not ReportSubscription.objects.exists()
