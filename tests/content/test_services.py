"""Content services: the review workflow and its four eyes, ingest's duplicate and refusal rules,
collections — each transition audited."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from content import services
from content.models import Asset, Collection, CollectionItem
from tests.content import media_samples
from tests.content.factories import (
    AssetFactory,
    CollectionFactory,
    jpeg_bytes,
    stored_files,
)

pytestmark = pytest.mark.django_db


def events(asset: Asset) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="content.asset", object_id=str(asset.pk))
                .order_by("id").values_list("action", flat=True))


# --- Review workflow -----------------------------------------------------------------------------


def test_submit_then_approve_by_someone_else_is_audited(people, media_dir):
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"])
    services.submit_for_review(asset, actor=people["bob"])
    services.approve(asset, actor=people["alice"])
    asset.refresh_from_db()
    assert asset.status == Asset.Status.APPROVED
    assert asset.reviewed_by == people["alice"] and asset.reviewed_at is not None and asset.submitted_at is not None
    assert events(asset) == ["asset.submitted", "asset.approved"]
    approved = AuditEvent.objects.get(action="asset.approved", object_id=str(asset.pk))
    assert approved.actor == people["alice"] and approved.creator == people["a"]
    assert approved.changes["from"] == "in_review" and approved.changes["to"] == "approved"


def test_the_uploader_cannot_approve_their_own_upload(people, media_dir):
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"])
    services.submit_for_review(asset, actor=people["bob"])
    with pytest.raises(ValidationError, match="four-eyes"):
        services.approve(asset, actor=people["bob"])
    asset.refresh_from_db()
    assert asset.status == Asset.Status.IN_REVIEW
    assert "asset.approved" not in events(asset)


def test_four_eyes_can_be_switched_off_per_creator(people, media_dir):
    creator = people["a"]
    creator.four_eyes_review = False
    creator.save()
    asset = AssetFactory(creator=creator, uploaded_by=people["bob"])
    services.submit_for_review(asset, actor=people["bob"])
    services.approve(asset, actor=people["bob"])
    asset.refresh_from_db()
    assert asset.status == Asset.Status.APPROVED


def test_reject_needs_a_reason_and_keeps_it(people, media_dir):
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"])
    services.submit_for_review(asset, actor=people["bob"])
    with pytest.raises(ValidationError, match="Say why"):
        services.reject(asset, actor=people["alice"], reason="   ")
    services.reject(asset, actor=people["alice"], reason="Watermark covers the face")
    asset.refresh_from_db()
    assert asset.status == Asset.Status.REJECTED and asset.review_reason == "Watermark covers the face"
    rejected = AuditEvent.objects.get(action="asset.rejected", object_id=str(asset.pk))
    assert rejected.changes["reason"] == "Watermark covers the face"


def test_every_transition_is_audited_and_illegal_ones_refused(people, media_dir):
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"])
    with pytest.raises(ValidationError, match="cannot become approved"):
        services.approve(asset, actor=people["alice"])
    services.submit_for_review(asset, actor=people["bob"])
    services.reject(asset, actor=people["alice"], reason="Too dark")
    services.reopen(asset, actor=people["bob"])
    services.archive(asset, actor=people["alice"])
    services.reopen(asset, actor=people["alice"])
    assert events(asset) == ["asset.submitted", "asset.rejected", "asset.reopened", "asset.archived",
                             "asset.reopened"]


def test_tagging_adds_shared_tags_and_audits(people, media_dir):
    one, two = AssetFactory(creator=people["a"]), AssetFactory(creator=people["a"])
    assert services.tag([one, two], ["Beach", " summer "], actor=people["bob"]) == 2
    assert sorted(one.tags.values_list("name", flat=True)) == ["beach", "summer"]
    assert AuditEvent.objects.filter(action="asset.tagged").count() == 2


# --- Ingest --------------------------------------------------------------------------------------


def test_the_same_file_twice_is_one_asset(people, media_dir, originals_dir, tmp_path,
                                          django_capture_on_commit_callbacks):
    data = jpeg_bytes("twice")
    with django_capture_on_commit_callbacks(execute=False):
        first = services.ingest(creator=people["a"], source=io.BytesIO(data), filename="one.jpg",
                                actor=people["bob"])
        second = services.ingest(creator=people["a"], source=io.BytesIO(data), filename="again.jpg",
                                 actor=people["bob"])
    assert first.created and not second.created
    assert second.asset.pk == first.asset.pk
    assert "already in the vault" in second.message
    assert Asset.objects.filter(creator=people["a"]).count() == 1
    assert len([n for n in stored_files(originals_dir) if n.startswith("assets/")]) == 1
    # Another creator storing the same bytes is another asset.
    with django_capture_on_commit_callbacks(execute=False):
        other = services.ingest(creator=people["b"], source=io.BytesIO(data), filename="one.jpg")
    assert other.created and other.asset.creator == people["b"]


@pytest.mark.parametrize("make", [media_samples.truncated_jpeg, media_samples.renamed_exe, media_samples.zero_bytes,
                                  media_samples.png_header_bomb], ids=["truncated", "exe", "empty", "bomb"])
def test_a_refused_file_leaves_nothing_behind(people, media_dir, tmp_path, make):
    path = make(tmp_path)
    before = stored_files(media_dir)
    with pytest.raises(ValidationError) as refused:
        services.ingest(creator=people["a"], source=path, filename=path.name, actor=people["bob"])
    assert refused.value.messages and all(m.strip() for m in refused.value.messages)
    assert not Asset.objects.exists()
    assert stored_files(media_dir) == before
    assert not AuditEvent.objects.filter(action="asset.uploaded").exists()


def test_ingest_stores_metadata_and_queues_processing(people, media_dir, tmp_path,
                                                      django_capture_on_commit_callbacks):
    path = media_samples.jpeg_with_gps(tmp_path)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = services.ingest(creator=people["a"], source=path, filename="beach.jpg", actor=people["bob"],
                                 rating=Asset.Rating.SUGGESTIVE, tags=["Beach"])
    asset = result.asset
    assert (asset.kind, asset.mime, asset.width, asset.height) == ("image", "image/jpeg", 96, 64)
    assert asset.rating == "suggestive" and asset.uploaded_by == people["bob"]
    assert list(asset.tags.values_list("name", flat=True)) == ["beach"]
    assert len(callbacks) == 1  # processing is queued once the row is committed


# --- Collections ---------------------------------------------------------------------------------


def test_collections_keep_order_and_refuse_foreign_assets(people, media_dir):
    collection = CollectionFactory(creator=people["a"])
    first, second, third = (AssetFactory(creator=people["a"]) for _ in range(3))
    assert services.add_to_collection(collection, [second, first], actor=people["bob"]) == 2
    assert services.add_to_collection(collection, [third, first], actor=people["bob"]) == 1
    assert list(collection.items.values_list("asset_id", flat=True)) == [second.pk, first.pk, third.pk]
    foreign = AssetFactory(creator=people["b"])
    with pytest.raises(ValidationError, match="only its own creator"):
        services.add_to_collection(collection, [foreign], actor=people["bob"])
    assert not CollectionItem.objects.filter(asset=foreign).exists()


def test_a_pack_needs_a_price_and_a_currency(people):
    pack = Collection(creator=people["a"], kind=Collection.Kind.PACK, title="Summer pack")
    with pytest.raises(ValidationError, match="price and a currency"):
        services.save_collection(pack, actor=people["alice"])
    pack.price_minor, pack.currency = 1499, "usd"
    with pytest.raises(ValidationError, match="ISO 4217"):
        services.save_collection(pack, actor=people["alice"])
    pack.currency = "USD"
    services.save_collection(pack, actor=people["alice"])
    assert AuditEvent.objects.filter(action="collection.created", object_id=str(pack.pk)).exists()
