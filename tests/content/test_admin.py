"""The content admin: the tenant boundary on every page, bulk actions through the services,
the multi-file upload, and the asset page's panels."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import services as account_services
from accounts.models import AuditEvent
from content import services
from content.models import Asset, Collection, CollectionItem
from tests.compliance.factories import ConsentFactory, PerformerFactory, VerificationFactory, use_private_storage
from tests.content import media_samples
from tests.content.factories import (
    AssetFactory,
    CollectionFactory,
    add_rendition,
    jpeg_bytes,
    stored_files,
)
from tests.factories import CreatorFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:content_asset_changelist"


@pytest.fixture
def vault(people, media_dir):
    """Two assets of A (bob uploaded one), one of B, a thumb each, a tag and a performer each side."""
    a1 = AssetFactory(creator=people["a"], uploaded_by=people["bob"], title="Alpha beach")
    a2 = AssetFactory(creator=people["a"], uploaded_by=people["alice"], title="Alpha studio")
    b1 = AssetFactory(creator=people["b"], uploaded_by=people["charlie"], title="Beta secret")
    for asset in (a1, a2, b1):
        add_rendition(asset)
    services.tag([a1], ["alpha-tag"])
    services.tag([b1], ["beta-only-tag"])
    return {**people, "a1": a1, "a2": a2, "b1": b1}


def login(client, user):
    client.force_login(user)
    return client


def post_action(client, action: str, assets, **extra):
    return client.post(reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in assets],
                                             **extra}, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Tenancy -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_changelist_shows_only_reachable_assets(client, vault, who):
    response = login(client, vault[who]).get(reverse(CHANGELIST))
    assert response.status_code == 200
    shown = {a.pk for a in response.context["cl"].result_list}
    assert shown == {vault["a1"].pk, vault["a2"].pk}
    assert b"Beta secret" not in response.content


def test_charlie_sees_only_b_and_the_owner_everything(client, vault):
    response = login(client, vault["charlie"]).get(reverse(CHANGELIST))
    assert {a.pk for a in response.context["cl"].result_list} == {vault["b1"].pk}
    response = login(client, vault["owner"]).get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == 3


@pytest.mark.parametrize("who", ["alice", "bob"])
@pytest.mark.parametrize("name,args", [
    ("admin:content_asset_change", lambda a: [a.pk]),
    ("admin:content_asset_renditions", lambda a: [a.pk]),
    ("admin:content_asset_rendition_file", lambda a: [a.pk, "thumb"]),
    ("admin:content_asset_submit_detail", lambda a: [a.pk]),
    ("admin:content_asset_approve_detail", lambda a: [a.pk]),
    ("admin:content_asset_reject_detail", lambda a: [a.pk]),
])
def test_b_asset_pages_are_404_for_a_people(client, vault, who, name, args):
    login(client, vault[who])
    assert client.get(reverse(name, args=args(vault["b1"]))).status_code == 404
    assert client.get(reverse(name, args=args(vault["a1"]))).status_code == 200


def test_b_asset_is_absent_from_filters_and_autocomplete(client, vault):
    # A second creator of alice's, so the creator filter has choices to show (one alone hides it).
    account_services.add_membership(user=vault["alice"], creator=CreatorFactory(stage_name="Gamma"), role="manager")
    login(client, vault["alice"])
    response = client.get(reverse(CHANGELIST))
    filters = {str(spec.title).lower(): [str(c.get("display")) for c in spec.choices(response.context["cl"])]
               for spec in response.context["cl"].filter_specs}
    assert "Alpha" in filters["creator"] and "Gamma" in filters["creator"] and "Beta" not in filters["creator"]
    assert "alpha-tag" in filters["tag"] and "beta-only-tag" not in filters["tag"]
    # Autocomplete of an asset on a collection item goes through the asset admin's restricted queryset.
    url = reverse("admin:autocomplete")
    response = client.get(url, {"term": "", "app_label": "content", "model_name": "collectionitem",
                                "field_name": "asset"})
    ids = {int(r["id"]) for r in response.json()["results"]}
    assert ids == {vault["a1"].pk, vault["a2"].pk}
    response = client.get(url, {"term": "Beta", "app_label": "content", "model_name": "collectionitem",
                                "field_name": "asset"})
    assert response.json()["results"] == []


def test_performer_filter_offers_only_reachable_performers(client, vault, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    mine = PerformerFactory(legal_name="Ana Alpha", creators=[vault["a"]])
    theirs = PerformerFactory(legal_name="Bea Beta", creators=[vault["b"]])
    vault["a1"].performers.add(mine)
    vault["b1"].performers.add(theirs)
    response = login(client, vault["bob"]).get(reverse(CHANGELIST))
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "performer")
    names = [str(c["display"]) for c in spec.choices(response.context["cl"])]
    assert "Ana Alpha" in names and "Bea Beta" not in names
    response = client.get(reverse(CHANGELIST), {"performer": mine.pk})
    assert [a.pk for a in response.context["cl"].result_list] == [vault["a1"].pk]
    # A performer of B as a filter value finds nothing reachable.
    response = client.get(reverse(CHANGELIST), {"performer": theirs.pk})
    assert list(response.context["cl"].result_list) == []


def test_changelist_filters_by_status_and_tag(client, vault):
    services.submit_for_review(vault["a2"], actor=vault["alice"])
    login(client, vault["alice"])
    response = client.get(reverse(CHANGELIST), {"status__exact": "in_review"})
    assert [a.pk for a in response.context["cl"].result_list] == [vault["a2"].pk]
    tag_id = vault["a1"].tags.get().pk
    response = client.get(reverse(CHANGELIST), {"tag": tag_id})
    assert [a.pk for a in response.context["cl"].result_list] == [vault["a1"].pk]


# --- Changelist: thumbnails, grid, query count ---------------------------------------------------


def test_changelist_thumbnails_cost_a_fixed_number_of_queries(client, people, media_dir,
                                                              django_assert_max_num_queries):
    for n in range(30):
        asset = AssetFactory(creator=people["a"])
        if n % 2:
            add_rendition(asset)
    login(client, people["alice"])
    client.get(reverse(CHANGELIST))  # warm the session and permission caches
    with django_assert_max_num_queries(20):
        response = client.get(reverse(CHANGELIST))
    assert response.content.count(b'data-testid="asset-thumb"') == 15
    with django_assert_max_num_queries(20):
        response = client.get(reverse(CHANGELIST), {"view": "grid"})
    assert response.content.count(b'data-testid="asset-card"') == 30


def test_grid_view_keeps_filters_and_shows_cards(client, vault):
    login(client, vault["alice"])
    response = client.get(reverse(CHANGELIST), {"view": "grid", "kind__exact": "image"})
    assert response.status_code == 200
    assert response.content.count(b'data-testid="asset-card"') == 2
    assert b"Beta secret" not in response.content
    assert b'data-testid="asset-view-toggle"' in response.content


def test_an_asset_without_renditions_shows_its_kind_icon(client, people, media_dir):
    AssetFactory(creator=people["a"])
    response = login(client, people["alice"]).get(reverse(CHANGELIST))
    assert b"asset-thumb" not in response.content
    assert b">image</span>" in response.content


# --- Bulk actions --------------------------------------------------------------------------------


def test_bulk_approve_refuses_own_uploads_under_four_eyes(client, vault):
    for asset in (vault["a1"], vault["a2"]):
        services.submit_for_review(asset, actor=vault["bob"])
    response = post_action(login(client, vault["bob"]), "approve_selected", [vault["a1"], vault["a2"]])
    text = " ".join(messages_of(response))
    assert "Alpha beach" in text and "four-eyes" in text  # bob uploaded a1
    assert "1 asset approved" in text
    vault["a1"].refresh_from_db()
    vault["a2"].refresh_from_db()
    assert vault["a1"].status == "in_review" and vault["a2"].status == "approved"


def test_bulk_actions_never_reach_another_creators_assets(client, vault):
    response = post_action(login(client, vault["alice"]), "submit_selected", [vault["a1"], vault["b1"]])
    assert response.status_code == 200
    vault["b1"].refresh_from_db()
    assert vault["b1"].status == "draft"
    assert not AuditEvent.objects.filter(action="asset.submitted", object_id=str(vault["b1"].pk)).exists()


def test_bulk_reject_asks_for_a_reason_first(client, vault):
    services.submit_for_review(vault["a1"], actor=vault["bob"])
    login(client, vault["alice"])
    page = client.post(reverse(CHANGELIST), {"action": "reject_selected", ACTION_CHECKBOX_NAME: [vault["a1"].pk]})
    assert page.status_code == 200 and b'data-testid="action-form"' in page.content
    vault["a1"].refresh_from_db()
    assert vault["a1"].status == "in_review"
    page = client.post(reverse(CHANGELIST), {"action": "reject_selected", ACTION_CHECKBOX_NAME: [vault["a1"].pk],
                                              "apply": "1", "reason": ""})
    assert b"This field is required" in page.content
    post_action(client, "reject_selected", [vault["a1"]], apply="1", reason="Face blurred")
    vault["a1"].refresh_from_db()
    assert vault["a1"].status == "rejected" and vault["a1"].review_reason == "Face blurred"


def test_bulk_tag_and_archive(client, vault):
    login(client, vault["bob"])
    page = client.post(reverse(CHANGELIST), {"action": "tag_selected", ACTION_CHECKBOX_NAME: [vault["a2"].pk]})
    assert b'name="tags"' in page.content
    post_action(client, "tag_selected", [vault["a1"], vault["a2"]], apply="1", tags="Summer, pool")
    assert set(vault["a2"].tags.values_list("name", flat=True)) == {"summer", "pool"}
    post_action(client, "archive_selected", [vault["a2"]])
    vault["a2"].refresh_from_db()
    assert vault["a2"].status == "archived"


def test_bulk_add_to_collection_offers_only_the_creators_collections(client, vault):
    mine = CollectionFactory(creator=vault["a"], title="Alpha folder")
    CollectionFactory(creator=vault["b"], title="Beta folder")
    login(client, vault["alice"])
    page = client.post(reverse(CHANGELIST), {"action": "add_to_collection",
                                              ACTION_CHECKBOX_NAME: [vault["a2"].pk, vault["a1"].pk]})
    assert b"Alpha folder" in page.content and b"Beta folder" not in page.content
    post_action(client, "add_to_collection", [vault["a2"], vault["a1"]], apply="1", collection=mine.pk)
    assert set(mine.items.values_list("asset_id", flat=True)) == {vault["a1"].pk, vault["a2"].pk}


def test_add_to_collection_refuses_a_mixed_selection(client, vault):
    response = post_action(login(client, vault["owner"]), "add_to_collection", [vault["a1"], vault["b1"]])
    assert any("one creator" in m for m in messages_of(response))
    assert not CollectionItem.objects.exists()


# --- Review buttons on the asset page ------------------------------------------------------------


def test_review_buttons_confirm_then_call_the_services(client, vault):
    asset = vault["a1"]
    login(client, vault["bob"])
    url = reverse("admin:content_asset_submit_detail", args=[asset.pk])
    assert b'data-testid="action-form"' in client.get(url).content
    asset.refresh_from_db()
    assert asset.status == "draft"  # a GET never changes anything
    client.post(url)
    asset.refresh_from_db()
    assert asset.status == "in_review"
    response = client.post(reverse("admin:content_asset_approve_detail", args=[asset.pk]), follow=True)
    assert any("four-eyes" in m for m in messages_of(response))
    login(client, vault["alice"])
    reject = reverse("admin:content_asset_reject_detail", args=[asset.pk])
    assert b"This field is required" in client.post(reject, {"reason": ""}).content
    client.post(reject, {"reason": "Logo visible"})
    asset.refresh_from_db()
    assert asset.status == "rejected" and asset.review_reason == "Logo visible"


# --- Asset page ----------------------------------------------------------------------------------


def test_asset_page_shows_preview_renditions_metadata_consent_and_history(client, vault, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    asset = vault["a1"]
    verified = PerformerFactory(legal_name="Vera Verified", creators=[vault["a"]])
    VerificationFactory(performer=verified)
    ConsentFactory(performer=verified, platforms=("fanvue", "x"), max_rating="explicit")
    unverified = PerformerFactory(legal_name="Una Unverified", creators=[vault["a"]])
    asset.performers.add(verified, unverified)
    services.submit_for_review(asset, actor=vault["bob"])
    response = login(client, vault["alice"]).get(reverse("admin:content_asset_change", args=[asset.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("admin:content_asset_rendition_file", args=[asset.pk, "thumb"]) in body
    assert asset.sha256 in body and "image/jpeg" in body
    assert "Vera Verified" in body and "Una Unverified" in body
    standing = {row["performer"].legal_name: row["checks"] for row in response.context["asset_panel"]["performers"]}
    assert all(check["allowed"] for check in standing["Vera Verified"])
    assert not any(check["allowed"] for check in standing["Una Unverified"])
    codes = {r["code"] for check in standing["Una Unverified"] for r in check["reasons"]}
    assert codes and all(code in body for code in codes)
    assert "asset.submitted" in body


def test_renditions_feed_reports_state_and_files(client, vault):
    asset = vault["a1"]
    login(client, vault["bob"])
    data = client.get(reverse("admin:content_asset_renditions", args=[asset.pk])).json()
    assert data["processing"] == "pending" and data["polling"] is True
    assert [r["preset"] for r in data["renditions"]] == ["thumb"]
    file_response = client.get(data["renditions"][0]["url"])
    assert file_response.status_code == 200 and file_response["Content-Type"] == "image/webp"
    assert b"".join(file_response.streaming_content)[:4] == b"RIFF"
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.READY)
    assert client.get(reverse("admin:content_asset_renditions", args=[asset.pk])).json()["polling"] is False


def test_metadata_edits_are_audited_and_choices_restricted(client, vault):
    asset = vault["a1"]
    login(client, vault["bob"])
    url = reverse("admin:content_asset_change", args=[asset.pk])
    form = client.get(url).context["adminform"].form
    assert set(form.fields["tags"].queryset.values_list("name", flat=True)) == {"alpha-tag"}
    response = client.post(url, {"title": "Renamed", "rating": "suggestive", "notes": "", "production_date": "",
                                 "disclosure_label": "", "tags": list(asset.tags.values_list("pk", flat=True))})
    assert response.status_code == 302, response.content[:2000]
    asset.refresh_from_db()
    assert asset.title == "Renamed" and asset.rating == "suggestive"
    event = AuditEvent.objects.get(action="asset.updated", object_id=str(asset.pk))
    assert "title" in event.changes["fields"]


def test_the_add_page_leads_to_upload(client, people):
    response = login(client, people["bob"]).get(reverse("admin:content_asset_add"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:content_asset_upload")


# --- Upload --------------------------------------------------------------------------------------


def test_upload_page_offers_only_creators_the_user_may_add_to(client, people):
    login(client, people["bob"])
    form = client.get(reverse("admin:content_asset_upload")).context["form"]
    assert list(form.fields["creator"].queryset) == [people["a"]]
    response = client.post(reverse("admin:content_asset_upload"), {
        "creator": people["b"].pk, "rating": "sfw",
        "files": SimpleUploadedFile("x.jpg", jpeg_bytes("x"), content_type="image/jpeg")})
    assert "creator" in response.context["form"].errors
    assert not Asset.objects.exists()


def test_upload_reports_each_file(client, people, media_dir, originals_dir, tmp_path,
                                  django_capture_on_commit_callbacks):
    existing = jpeg_bytes("already")
    services.ingest(creator=people["a"], source=__import__("io").BytesIO(existing), filename="old.jpg")
    before = stored_files(originals_dir)
    files = [
        SimpleUploadedFile("new.jpg", jpeg_bytes("new"), content_type="image/jpeg"),
        SimpleUploadedFile("again.jpg", existing, content_type="image/jpeg"),
        SimpleUploadedFile("truncated.jpg", media_samples.truncated_jpeg(tmp_path).read_bytes()),
        SimpleUploadedFile("holiday.jpg", media_samples.renamed_exe(tmp_path).read_bytes()),
        SimpleUploadedFile("empty.jpg", b""),
    ]
    login(client, people["bob"])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("admin:content_asset_upload"), {
            "creator": people["a"].pk, "rating": "suggestive", "tags": "beach, summer", "files": files})
    assert response.status_code == 200
    states = [(o.filename, o.state) for o in response.context["outcomes"]]
    assert states == [("new.jpg", "uploaded"), ("again.jpg", "duplicate"), ("truncated.jpg", "refused"),
                      ("holiday.jpg", "refused"), ("empty.jpg", "refused")]
    assert all(o.message for o in response.context["outcomes"])
    assert Asset.objects.count() == 2
    new = Asset.objects.get(original_name="new.jpg")
    assert new.uploaded_by == people["bob"] and new.rating == "suggestive"
    assert set(new.tags.values_list("name", flat=True)) == {"beach", "summer"}
    # Exactly one new original stored; nothing of the refused files.
    assert len(stored_files(originals_dir) - before) == 1


def test_upload_without_files_says_so(client, people):
    login(client, people["bob"])
    response = client.post(reverse("admin:content_asset_upload"), {"creator": people["a"].pk, "rating": "sfw"})
    assert "Choose or drop at least one file." in response.content.decode()


# --- Collections ---------------------------------------------------------------------------------


def test_collection_admin_is_tenant_scoped_and_inline_assets_restricted(client, vault):
    mine = CollectionFactory(creator=vault["a"], title="Alpha folder")
    theirs = CollectionFactory(creator=vault["b"], title="Beta folder")
    login(client, vault["alice"])
    response = client.get(reverse("admin:content_collection_changelist"))
    assert b"Alpha folder" in response.content and b"Beta folder" not in response.content
    assert client.get(reverse("admin:content_collection_change", args=[theirs.pk])).status_code == 404
    page = client.get(reverse("admin:content_collection_change", args=[mine.pk]))
    inline_form = page.context["inline_admin_formsets"][0].formset.form
    assert set(inline_form.base_fields["asset"].queryset.values_list("pk", flat=True)) == {
        vault["a1"].pk, vault["a2"].pk}


def test_collection_admin_creates_a_pack_through_the_service(client, vault):
    login(client, vault["alice"])
    url = reverse("admin:content_collection_add")
    form = client.get(url).context["adminform"].form
    assert list(form.fields["creator"].queryset) == [vault["a"]]
    data = {"creator": vault["a"].pk, "kind": "pack", "title": "Summer pack", "description": "",
            "price": "", "currency": "", "cover": "",
            "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000", "items-0-position": "1", "items-0-asset": vault["a2"].pk}
    response = client.post(url, data)
    assert response.status_code == 200 and not Collection.objects.exists()
    response = client.post(url, {**data, "price": "14.99", "currency": "USD"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    pack = Collection.objects.get()
    assert (pack.price_minor, pack.currency) == (1499, "USD")
    assert list(pack.items.values_list("asset_id", flat=True)) == [vault["a2"].pk]
    assert AuditEvent.objects.filter(action="collection.created", object_id=str(pack.pk)).exists()
    assert AuditEvent.objects.filter(action="collection.assets_added", object_id=str(pack.pk)).exists()


def test_renditions_json_is_plain_json(client, vault):
    response = login(client, vault["alice"]).get(reverse("admin:content_asset_renditions", args=[vault["a2"].pk]))
    assert response["Content-Type"] == "application/json" and "no-store" in response["Cache-Control"]
    assert json.loads(response.content)["id"] == vault["a2"].pk


def test_collection_inline_refuses_another_creators_asset(client, vault):
    login(client, vault["owner"])  # the owner reaches both creators, so only the rule stands in the way
    data = {"creator": vault["a"].pk, "kind": "folder", "title": "Mixed", "description": "", "price": "",
            "currency": "", "cover": "", "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000", "items-0-position": "1",
            "items-0-asset": vault["b1"].pk}
    response = client.post(reverse("admin:content_collection_add"), data)
    assert response.status_code == 200
    assert "only its own creator" in response.content.decode()
    assert not Collection.objects.exists()
