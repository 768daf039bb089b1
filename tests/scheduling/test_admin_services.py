"""Post and publication admin change state only through the scheduling services: a post's form and its
inlines (media, targets) save through update_post/create_post (lock, refusal while publishing, version,
audit, approval of a version); a publication's post, account and due time cannot be written by a form;
actions declare their permission and act only on rows in reach for "change"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.forms import BooleanField
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import AuditEvent
from content.models import Asset
from scheduling.models import Post, PostAsset, Publication
from tests.factories import UserFactory
from tests.scheduling.factories import PlatformAccountFactory
from tests.scheduling.fixtures import approved_asset
from tests.scheduling.test_approval_version import EDITS, nothing_goes_out

S = Publication.Status
POST_CHANGE = "admin:scheduling_post_change"
PUB_CHANGE = "admin:scheduling_publication_change"
PUB_CHANGELIST = "admin:scheduling_publication_changelist"


def admin_form_data(response: Any) -> dict[str, Any]:
    """The change form as a browser posts it back untouched: main form, every inline row, management forms."""
    forms = [response.context["adminform"].form]
    data: dict[str, Any] = {}
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms += list(inline.formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if field.disabled or value is None:
                continue
            if isinstance(field, BooleanField):
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            data[form.add_prefix(name)] = [str(v) for v in value] if isinstance(value, list | tuple) else value
    return data


def form_errors(response: Any) -> Any:
    if not response.context:
        return response
    return (response.context["adminform"].form.errors,
            [inline.formset.errors for inline in response.context["inline_admin_formsets"]])


def add_row(data: dict[str, Any], prefix: str, **fields: Any) -> None:
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = index + 1
    data.update({f"{prefix}-{index}-{name}": value for name, value in fields.items()})


def row_index(data: dict[str, Any], prefix: str, field: str, value: int) -> int:
    return next(i for i in range(int(data[f"{prefix}-TOTAL_FORMS"])) if data.get(f"{prefix}-{i}-{field}") == value)


def post_form(client: Any, post: Post) -> dict[str, Any]:
    page = client.get(reverse(POST_CHANGE, args=[post.pk]))
    assert page.status_code == 200
    return admin_form_data(page)


ADMIN_EDITS = {
    "caption": lambda w, d: d.update(caption="New set tonight — typo fixed"),
    "price": lambda w, d: d.update(price="14.99"),
    "currency": lambda w, d: d.update(currency="EUR"),
    "collection": lambda w, d: d.update(collection=w.collection.pk),
    "asset added": lambda w, d: add_row(d, "post_assets", asset=approved_asset(w, "f").pk, position=5),
    "asset removed": lambda w, d: d.update(
        {f"post_assets-{row_index(d, 'post_assets', 'asset', w.second.pk)}-DELETE": "on"}),
    "assets reordered": lambda w, d: d.update(
        {f"post_assets-{row_index(d, 'post_assets', 'asset', w.asset.pk)}-position": 2}),
    "target added": lambda w, d: add_row(d, "publications", account=w.reddit.pk, caption_override=""),
    "target removed": lambda w, d: d.update(
        {f"publications-{row_index(d, 'publications', 'id', w.on_fanvue.pk)}-DELETE": "on"}),
    "per-target caption": lambda w, d: d.update(
        {f"publications-{row_index(d, 'publications', 'id', w.on_x.pk)}-caption_override": "Only on X"}),
}


def test_every_api_edit_has_its_admin_twin():
    assert set(ADMIN_EDITS) == set(EDITS)


@pytest.mark.django_db
@pytest.mark.parametrize("edit", sorted(ADMIN_EDITS))
def test_an_admin_edit_goes_through_the_service_and_nothing_is_published(client, scheduled, edit):
    client.force_login(scheduled.alice)
    post = scheduled.post
    data = post_form(client, post)
    ADMIN_EDITS[edit](scheduled, data)
    response = client.post(reverse(POST_CHANGE, args=[post.pk]), data)
    assert response.status_code == 302, form_errors(response)
    post.refresh_from_db()
    assert post.version == 2 and post.approved_at is None
    updated = AuditEvent.objects.get(action="post.updated", object_id=str(post.pk))
    assert updated.actor == scheduled.alice
    on_x = Publication.objects.get(pk=scheduled.on_x.pk)
    assert on_x.status == S.PENDING_APPROVAL and [r["code"] for r in on_x.block_reasons] == ["approval_stale"]
    # Visible in the changelist, on the publication's page and in the post's targets.
    assert "approval_stale" in client.get(reverse(PUB_CHANGELIST)).content.decode()
    assert "approval_stale" in client.get(reverse(PUB_CHANGE, args=[on_x.pk])).content.decode()
    assert "approval_stale" in client.get(reverse(POST_CHANGE, args=[post.pk])).content.decode()
    nothing_goes_out(scheduled)


@pytest.mark.django_db
def test_the_publication_form_writes_the_caption_through_the_service(client, scheduled):
    client.force_login(scheduled.alice)
    pub = scheduled.on_fanvue
    data = admin_form_data(client.get(reverse(PUB_CHANGE, args=[pub.pk])))
    data["caption_override"] = "Fanvue exclusive"
    assert client.post(reverse(PUB_CHANGE, args=[pub.pk]), data).status_code == 302
    pub.refresh_from_db()
    assert pub.caption_override == "Fanvue exclusive" and pub.status == S.PENDING_APPROVAL
    assert AuditEvent.objects.filter(action="publication.caption_changed", object_id=str(pub.pk),
                                     actor=scheduled.alice).exists()
    nothing_goes_out(scheduled)


@pytest.mark.django_db
def test_a_refusal_shows_on_the_form_and_changes_nothing(client, scheduled):
    Publication.objects.filter(pk=scheduled.on_x.pk).update(status=S.CLAIMED)
    client.force_login(scheduled.alice)
    post = scheduled.post
    data = post_form(client, post)
    data["caption"] = "Too late"
    response = client.post(reverse(POST_CHANGE, args=[post.pk]), data)
    assert response.status_code == 200
    assert "being published right now" in response.content.decode()
    post.refresh_from_db()
    assert post.caption == "New set tonight" and post.version == 1 and post.approved_at is not None
    assert not AuditEvent.objects.filter(action="post.updated", object_id=str(post.pk)).exists()


@pytest.mark.django_db
def test_adding_a_post_in_admin_goes_through_create_post(client, scheduled):
    client.force_login(scheduled.alice)
    url = reverse("admin:scheduling_post_add")
    data = admin_form_data(client.get(url))
    data.update(creator=scheduled.creator.pk, caption="Fresh", price="", currency="")
    add_row(data, "post_assets", asset=scheduled.asset.pk, position=0)
    add_row(data, "publications", account=scheduled.x.pk, caption_override="")
    assert client.post(url, data).status_code == 302
    post = Post.objects.get(caption="Fresh")
    assert list(post.post_assets.values_list("asset_id", flat=True)) == [scheduled.asset.pk]
    assert list(post.publications.values_list("account_id", "status")) == [(scheduled.x.pk, S.DRAFT)]
    assert AuditEvent.objects.filter(action="post.created", object_id=str(post.pk), actor=scheduled.alice).exists()


@pytest.mark.django_db
def test_an_admin_form_cannot_mix_creators(client, scheduled):
    """The owner reaches both creators; the service still keeps a post's parts with its creator."""
    b_account = PlatformAccountFactory(creator=scheduled.creator_b, platform="fanvue", handle="bea")
    b_asset = Asset.objects.create(creator=scheduled.creator_b, file="assets/b.jpg", kind="image", mime="image/jpeg",
                                   sha256="b" * 64, size_bytes=10, status=Asset.Status.APPROVED)
    client.force_login(scheduled.owner)
    post = scheduled.post
    for part in ({"prefix": "publications", "account": b_account.pk, "caption_override": ""},
                 {"prefix": "post_assets", "asset": b_asset.pk, "position": 9}):
        data = post_form(client, post)
        add_row(data, part.pop("prefix"), **part)
        response = client.post(reverse(POST_CHANGE, args=[post.pk]), data)
        assert response.status_code == 200 and "own creator" in response.content.decode()
    # An existing target's account cannot be switched in the inline either: the field is not writable.
    data = post_form(client, post)
    data[f"publications-{row_index(data, 'publications', 'id', scheduled.on_x.pk)}-account"] = b_account.pk
    assert client.post(reverse(POST_CHANGE, args=[post.pk]), data).status_code == 302
    assert not Publication.objects.filter(account=b_account).exists()
    assert not PostAsset.objects.filter(asset=b_asset).exists()
    assert Post.objects.get(pk=post.pk).version == 1


# --- Publication admin: no moving rows by form ---------------------------------------------------


@pytest.mark.django_db
def test_a_manager_cannot_move_a_publication_to_another_creators_account_or_time(client, scheduled):
    b_account = PlatformAccountFactory(creator=scheduled.creator_b, platform="fanvue", handle="bea")
    b_post = Post.objects.create(creator=scheduled.creator_b, caption="Beta")
    both = UserFactory(username="dave")  # manages A and B: both accounts are in his reach
    accounts_services.add_membership(user=both, creator=scheduled.creator, role="manager")
    accounts_services.add_membership(user=both, creator=scheduled.creator_b, role="manager")
    pub = scheduled.on_x
    before = Publication.objects.values("post_id", "account_id", "scheduled_at", "status").get(pk=pub.pk)
    events = AuditEvent.objects.filter(object_type="scheduling.publication", object_id=str(pub.pk))
    logged = events.count()
    for user in (scheduled.alice, both):
        client.force_login(user)
        data = admin_form_data(client.get(reverse(PUB_CHANGE, args=[pub.pk])))
        assert "account" not in data and "post" not in data and "scheduled_at" not in data  # read-only
        data.update(account=b_account.pk, post=b_post.pk, scheduled_at=timezone.now() + timedelta(days=3),
                    status=S.PUBLISHED)
        client.post(reverse(PUB_CHANGE, args=[pub.pk]), data)
        assert Publication.objects.values("post_id", "account_id", "scheduled_at", "status").get(pk=pub.pk) == before
    assert events.count() == logged


@pytest.mark.django_db
def test_publications_are_neither_added_nor_deleted_by_form(client, scheduled):
    client.force_login(scheduled.alice)
    assert client.get(reverse("admin:scheduling_publication_add")).status_code == 403
    pub = scheduled.on_x
    assert client.post(reverse("admin:scheduling_publication_delete", args=[pub.pk]), {"post": "yes"}).status_code \
        == 403
    client.post(reverse(PUB_CHANGELIST), {"action": "delete_selected", "_selected_action": [pub.pk], "post": "yes"})
    assert Publication.objects.filter(pk=pub.pk).exists()


def member(creator: Any, role: str, name: str) -> Any:
    user = UserFactory(username=name)
    accounts_services.add_membership(user=user, creator=creator, role=role)
    return user


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["analyst", "compliance", "chatter", "editor"])
def test_view_only_roles_cannot_cancel(client, scheduled, role):
    client.force_login(member(scheduled.creator, role, f"{role}-of-a"))
    pub = scheduled.on_x
    client.post(reverse(PUB_CHANGELIST), {"action": "cancel_selected", "_selected_action": [pub.pk]})
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED


@pytest.mark.django_db
def test_cancel_acts_only_on_rows_in_reach_for_change(client, scheduled):
    """A manager of B who only views A (analyst there) cancels nothing of A's."""
    mixed = member(scheduled.creator_b, "manager", "mixed")
    accounts_services.add_membership(user=mixed, creator=scheduled.creator, role="analyst")
    client.force_login(mixed)
    pub = scheduled.on_x
    client.post(reverse(PUB_CHANGELIST), {"action": "cancel_selected", "_selected_action": [pub.pk]})
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED
    client.force_login(scheduled.alice)
    client.post(reverse(PUB_CHANGELIST), {"action": "cancel_selected", "_selected_action": [pub.pk]})
    pub.refresh_from_db()
    assert pub.status == S.CANCELLED


@pytest.mark.django_db
def test_a_post_seen_but_not_changeable_cannot_be_changed_by_form(client, scheduled):
    """Managing B grants the model permission; viewing A must not let that permission write A's post."""
    mixed = member(scheduled.creator_b, "manager", "mixed")
    accounts_services.add_membership(user=mixed, creator=scheduled.creator, role="analyst")
    client.force_login(mixed)
    post = scheduled.post
    page = client.get(reverse(POST_CHANGE, args=[post.pk]))
    assert page.status_code == 200 and "caption" not in page.context["adminform"].form.fields
    data = {"caption": "Hijacked", "post_assets-TOTAL_FORMS": 0, "post_assets-INITIAL_FORMS": 0,
            "publications-TOTAL_FORMS": 0, "publications-INITIAL_FORMS": 0}
    assert client.post(reverse(POST_CHANGE, args=[post.pk]), data).status_code == 403
    client.post(reverse("admin:scheduling_publication_change", args=[scheduled.on_x.pk]),
                {"caption_override": "Hijacked"})
    post.refresh_from_db()
    assert post.caption == "New set tonight" and not Publication.objects.filter(caption_override="Hijacked").exists()


@pytest.mark.django_db
def test_deleting_a_published_post_in_admin_is_refused_with_a_message(client, scheduled):
    Publication.objects.filter(pk=scheduled.on_fanvue.pk).update(status=S.PUBLISHED)
    client.force_login(scheduled.alice)
    post = scheduled.post
    response = client.post(reverse("admin:scheduling_post_delete", args=[post.pk]), {"post": "yes"}, follow=True)
    assert response.status_code == 200 and "published" in response.content.decode()
    assert Post.objects.filter(pk=post.pk).exists()
    Publication.objects.filter(pk=scheduled.on_fanvue.pk).update(status=S.CANCELLED)
    assert client.post(reverse("admin:scheduling_post_delete", args=[post.pk]), {"post": "yes"}).status_code == 302
    assert not Post.objects.filter(pk=post.pk).exists()
    assert AuditEvent.objects.filter(action="post.deleted", object_id=str(post.pk), actor=scheduled.alice).exists()
