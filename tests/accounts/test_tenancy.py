"""The tenant boundary, in admin and API: out of reach looks exactly like absent."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services, tenancy
from accounts.models import AuditEvent, Creator, Membership


@pytest.mark.django_db
def test_restrict_creators_per_person(people):
    qs = Creator.objects.all()
    assert set(tenancy.restrict(qs, people["owner"])) == {people["a"], people["b"]}
    assert list(tenancy.restrict(qs, people["alice"])) == [people["a"]]
    assert list(tenancy.restrict(qs, people["bob"])) == [people["a"]]
    assert list(tenancy.restrict(qs, people["charlie"])) == [people["b"]]


@pytest.mark.django_db
def test_restrict_by_action_follows_role_permissions(people):
    # An editor may view creator A but not change it; a manager may change it.
    qs = Creator.objects.all()
    assert list(tenancy.restrict(qs, people["alice"], "change")) == [people["a"]]
    assert list(tenancy.restrict(qs, people["bob"], "change")) == []


@pytest.mark.django_db
def test_inactive_user_reaches_nothing(people):
    people["alice"].is_active = False
    assert not tenancy.restrict(Creator.objects.all(), people["alice"]).exists()


@pytest.mark.django_db
def test_model_without_tenant_field_is_refused():
    from django.contrib.auth.models import Group
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        tenancy.restrict(Group.objects.all(), None)


VISIBLE_CHANGELISTS = {
    "alice": ["admin:accounts_creator_changelist", "admin:accounts_membership_changelist"],
    "bob": ["admin:accounts_creator_changelist"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_admin_changelists_hide_other_creators(client, people, who):
    client.force_login(people[who])
    for name in VISIBLE_CHANGELISTS[who]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "Alpha" in body
        assert "Beta" not in body, f"{who} sees creator B in {name}"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_admin_object_pages_404_for_other_creator(client, people, who):
    client.force_login(people[who])
    b = people["b"]
    other_membership = Membership.objects.get(creator=b)
    urls = [reverse("admin:accounts_creator_change", args=[b.pk]),
            reverse("admin:accounts_creator_history", args=[b.pk])]
    if who == "alice":
        urls.append(reverse("admin:accounts_membership_change", args=[other_membership.pk]))
    for url in urls:
        assert client.get(url).status_code == 404, url
    # and a made-up id answers the same way
    assert client.get(reverse("admin:accounts_creator_change", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_admin_own_creator_page_opens(client, people):
    client.force_login(people["alice"])
    assert client.get(reverse("admin:accounts_creator_change", args=[people["a"].pk])).status_code == 200


@pytest.mark.django_db
def test_admin_list_filter_offers_only_reachable_creators(client, people):
    def creator_choices(user):
        client.force_login(user)
        response = client.get(reverse("admin:accounts_membership_changelist"))
        specs = [f for f in response.context["cl"].filter_specs if getattr(f, "field_path", "") == "creator"]
        # Django hides a relation filter with a single choice; that is still "only reachable ones".
        return {label for spec in specs for _, label in spec.lookup_choices} or {"Alpha"}

    assert creator_choices(people["owner"]) == {"Alpha", "Beta"}
    assert creator_choices(people["alice"]) == {"Alpha"}
    body = client.get(reverse("admin:accounts_membership_changelist")).content.decode()
    assert f"creator__id__exact={people['b'].pk}" not in body


@pytest.mark.django_db
def test_admin_autocomplete_returns_only_reachable(client, people):
    client.force_login(people["alice"])
    url = reverse("admin:autocomplete")
    params = {"app_label": "accounts", "model_name": "membership", "field_name": "creator", "term": ""}
    response = client.get(url, params)
    assert response.status_code == 200
    names = {r["text"] for r in response.json()["results"]}
    assert names == {"Alpha"}


@pytest.mark.django_db
def test_admin_fk_choices_restricted(rf, people):
    from django.contrib import admin

    from accounts.models import ApiKey

    model_admin = admin.site._registry[ApiKey]
    request = rf.get("/")
    request.user = people["alice"]
    field = model_admin.formfield_for_manytomany(ApiKey._meta.get_field("creators"), request)
    assert list(field.queryset) == [people["a"]]


@pytest.mark.django_db
def test_audit_changelist_filter_hides_other_creators(client, people):
    services.add_membership(user=people["bob"], creator=people["a"], role="compliance")
    client.force_login(people["bob"])
    body = client.get(reverse("admin:accounts_auditevent_changelist")).content.decode()
    assert "Alpha" in body
    assert "Beta" not in body


@pytest.mark.django_db
def test_audit_log_restricted_to_reachable_creators(client, people):
    services.add_membership(user=people["charlie"], creator=people["b"], role="compliance")
    client.force_login(people["charlie"])
    event_a = AuditEvent.objects.filter(creator=people["a"]).first()
    assert event_a is not None
    response = client.get(reverse("admin:accounts_auditevent_change", args=[event_a.pk]))
    assert response.status_code == 404


# --- API -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who,expected", [("owner", {"Alpha", "Beta"}), ("alice", {"Alpha"}),
                                          ("bob", {"Alpha"}), ("charlie", {"Beta"})])
def test_api_creators_list(client, people, who, expected):
    client.force_login(people[who])
    response = client.get("/api/v1/creators/")
    assert response.status_code == 200
    assert {c["stage_name"] for c in response.json()["results"]} == expected


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_api_other_creator_is_404(client, people, who):
    client.force_login(people[who])
    b = people["b"]
    assert client.get(f"/api/v1/creators/{b.pk}/").status_code == 404
    response = client.patch(f"/api/v1/creators/{b.pk}/", {"voice_notes": "x"}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_api_editor_can_view_but_not_change(client, people):
    client.force_login(people["bob"])
    a = people["a"]
    response = client.patch(f"/api/v1/creators/{a.pk}/", {"voice_notes": "x"}, content_type="application/json")
    assert response.status_code == 403
    client.force_login(people["alice"])
    response = client.patch(f"/api/v1/creators/{a.pk}/", {"voice_notes": "playful"},
                            content_type="application/json")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="creator.updated", object_id=str(a.pk)).exists()


@pytest.mark.django_db
def test_api_anonymous_is_401(client, people):
    response = client.get("/api/v1/creators/")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


@pytest.mark.django_db
def test_api_only_owner_creates_creators(client, people):
    client.force_login(people["alice"])
    response = client.post("/api/v1/creators/", {"stage_name": "Gamma", "kind": "human"},
                           content_type="application/json")
    assert response.status_code == 403
    client.force_login(people["owner"])
    response = client.post("/api/v1/creators/", {"stage_name": "Gamma", "kind": "human",
                                                 "timezone": "Europe/Berlin"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "gamma"


@pytest.mark.django_db
def test_api_validation_error_format(client, people):
    client.force_login(people["alice"])
    response = client.patch(f"/api/v1/creators/{people['a'].pk}/", {"timezone": "Mars/Olympus"},
                            content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "timezone" in error["details"]
