"""The sidebar links the personal notification inbox and on-demand reports to those who may open them."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from analytics.dashboard import may_open_dashboard
from config import navigation

pytestmark = pytest.mark.django_db


def _items(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return {i["title"]: i["link"] for group in navigation.sidebar(request) for i in group.get("items", [])
            if i.get("permission", lambda r: True)(request)}


def test_every_staff_member_sees_their_notifications(team):
    for name in ("owner", "alice", "bob", "chloe", "ana", "charlie"):
        items = _items(team[name])
        assert items["My notifications"] == reverse("admin:notifications_inbox"), name


def test_reports_on_demand_only_for_who_may_open_them(client, team):
    seen = {name: "Reports on demand" in _items(team[name]) for name in ("owner", "alice", "bob", "chloe", "ana")}
    assert seen == {name: may_open_dashboard(team[name]) for name in seen}
    assert seen["owner"] and not all(seen.values())
    for name, shown in seen.items():
        client.force_login(team[name])
        status = client.get(reverse("admin:analytics_report_on_demand")).status_code
        assert (status == 200) == shown, (name, status)


def test_the_linked_inbox_opens(client, team):
    client.force_login(team["bob"])
    assert client.get(_items(team["bob"])["My notifications"]).status_code == 200
