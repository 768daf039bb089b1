"""The content API as the owner, alice (manager of A), bob (editor of A), charlie (B) and keys scoped to A:
lists and filters within reach, uploads through ingest, presigned S3 uploads, review, collections."""

from __future__ import annotations

import io

import pytest
import requests

from accounts import services as accounts_services
from accounts.models import AuditEvent
from content.models import Asset, Collection
from tests.api import auth
from tests.content import media_samples
from tests.content.factories import (
    CollectionFactory,
    bucket_keys,
    jpeg_bytes,
    stored_files,
)

# Every test starts from A's two photos (one with a rendition), B's photo, a performer on each side's
# beach photo, and the owner's write key over A.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("asset_a", "asset_a2", "asset_b", "asset_performers",
                                                             "principals")]

ASSETS = "/api/v1/assets/"
COLLECTIONS = "/api/v1/collections/"
SEES = {"owner": {"a1", "a2", "b1"}, "alice": {"a1", "a2"}, "bob": {"a1", "a2"}, "charlie": {"b1"},
        "key_a": {"a1", "a2"}}


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


def assert_not_found(response) -> None:
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- Lists, detail, filters ----------------------------------------------------------------------


@pytest.mark.parametrize("who", list(SEES))
def test_assets_within_reach_only(client, principals, asset_a, asset_a2, asset_b, who):
    assets = {"a1": asset_a, "a2": asset_a2, "b1": asset_b}
    headers = auth(client, principals, who)
    assert listed(client.get(ASSETS, **headers)) == {assets[n].pk for n in SEES[who]}
    for name in ("a1", "a2", "b1"):
        for suffix in ("", "renditions/"):
            response = client.get(f"{ASSETS}{assets[name].pk}/{suffix}", **headers)
            if name in SEES[who]:
                assert response.status_code == 200
            else:
                assert_not_found(response)


@pytest.mark.parametrize("who", ["alice", "bob", "key_a"])
def test_filters_never_reach_into_b(client, principals, asset_a, asset_performers, people, who):
    headers = auth(client, principals, who)
    assert listed(client.get(ASSETS, {"tag": "beach"}, **headers)) == {asset_a.pk}
    assert listed(client.get(ASSETS, {"performer": asset_performers.a.pk}, **headers)) == {asset_a.pk}
    assert listed(client.get(ASSETS, {"performer": asset_performers.b.pk}, **headers)) == set()
    assert listed(client.get(ASSETS, {"creator": people["b"].pk}, **headers)) == set()
    assert listed(client.get(ASSETS, {"creator": 999999}, **headers)) == set()
    assert listed(client.get(ASSETS, {"rating": "suggestive", "kind": "image", "status": "draft",
                                      "origin": "upload"}, **headers)) == {asset_a.pk}


def test_asset_detail_carries_renditions_and_the_list_is_cursor_paginated(client, principals, asset_a,
                                                                          asset_performers):
    headers = auth(client, principals, "alice")
    detail = client.get(f"{ASSETS}{asset_a.pk}/", **headers).json()
    assert [r["preset"] for r in detail["renditions"]] == ["thumb"]
    assert detail["tags"] == ["beach"] and detail["performers"] == [asset_performers.a.pk]
    page = client.get(ASSETS, {"page_size": 1}, **headers).json()
    assert len(page["results"]) == 1 and "cursor=" in page["next"]
    assert len(client.get(page["next"], **headers).json()["results"]) == 1


# --- Upload --------------------------------------------------------------------------------------


def test_upload_creates_a_draft_and_queues_processing(client, principals, people, asset_performers, media_dir,
                                                      django_capture_on_commit_callbacks):
    headers = auth(client, principals, "bob")
    upload = io.BytesIO(jpeg_bytes("api-upload"))
    upload.name = "api.jpg"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(ASSETS, {"creator": people["a"].pk, "file": upload, "rating": "explicit",
                                        "tags": ["pool"], "performers": [asset_performers.a.pk]}, **headers)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duplicate"] is False and body["asset"]["status"] == "draft"
    assert body["asset"]["processing"] == "pending" and body["asset"]["rating"] == "explicit"
    asset = Asset.objects.get(pk=body["asset"]["id"])
    assert asset.uploaded_by == people["bob"] and list(asset.performers.all()) == [asset_performers.a]
    assert len(callbacks) == 1
    # The same bytes again: 200 and the existing asset.
    upload.seek(0)
    again = client.post(ASSETS, {"creator": people["a"].pk, "file": upload}, **headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["asset"]["id"] == asset.pk
    assert Asset.objects.filter(creator=people["a"]).count() == 3


def test_upload_runs_the_real_pipeline_when_eager(client, principals, people, eager_celery,
                                                  django_capture_on_commit_callbacks, tmp_path):
    headers = auth(client, principals, "bob")
    with media_samples.jpeg_with_gps(tmp_path).open("rb") as handle, \
            django_capture_on_commit_callbacks(execute=True):
        response = client.post(ASSETS, {"creator": people["a"].pk, "file": handle}, **headers)
    assert response.status_code == 201, response.content
    asset_id = response.json()["asset"]["id"]
    renditions = client.get(f"{ASSETS}{asset_id}/renditions/", **headers).json()
    assert {"thumb"} <= {r["preset"] for r in renditions}
    assert Asset.objects.get(pk=asset_id).processing == Asset.Processing.READY


@pytest.mark.parametrize("who", ["bob", "key_a"])
def test_upload_to_another_creator_is_refused_as_unknown(client, principals, people, who, media_dir):
    headers = auth(client, principals, who)
    upload = io.BytesIO(jpeg_bytes("elsewhere"))
    upload.name = "x.jpg"
    response = client.post(ASSETS, {"creator": people["b"].pk, "file": upload}, **headers)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"creator": ["Unknown creator."]}
    assert Asset.objects.count() == 3


def test_a_performer_of_another_creator_is_refused(client, principals, people, asset_performers):
    headers = auth(client, principals, "alice")
    upload = io.BytesIO(jpeg_bytes("foreign-performer"))
    upload.name = "x.jpg"
    response = client.post(ASSETS, {"creator": people["a"].pk, "file": upload, "performers": [asset_performers.b.pk]},
                           **headers)
    assert response.status_code == 400 and "performers" in response.json()["error"]["details"]


@pytest.mark.parametrize("make", [media_samples.truncated_jpeg, media_samples.renamed_exe, media_samples.zero_bytes],
                         ids=["truncated", "exe", "empty"])
def test_a_refused_upload_leaves_no_row_and_no_file(client, principals, people, media_dir, tmp_path, make):
    headers = auth(client, principals, "bob")
    before_rows, before_files = Asset.objects.count(), stored_files(media_dir)
    with make(tmp_path).open("rb") as handle:
        response = client.post(ASSETS, {"creator": people["a"].pk, "file": handle}, **headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["details"]["file"][0]
    assert Asset.objects.count() == before_rows
    assert stored_files(media_dir) == before_files


# --- Review --------------------------------------------------------------------------------------


def test_review_endpoints_call_the_services(client, principals, asset_a, people):
    asset = asset_a  # uploaded by bob
    bob = auth(client, principals, "bob")
    assert client.post(f"{ASSETS}{asset.pk}/submit/", **bob).json()["status"] == "in_review"
    refused = client.post(f"{ASSETS}{asset.pk}/approve/", **bob)
    assert refused.status_code == 400 and "four-eyes" in str(refused.json()["error"]["details"])
    alice = auth(client, principals, "alice")
    no_reason = client.post(f"{ASSETS}{asset.pk}/reject/", {}, content_type="application/json", **alice)
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["details"]
    rejected = client.post(f"{ASSETS}{asset.pk}/reject/", {"reason": "Too dark"}, content_type="application/json",
                           **alice)
    assert rejected.status_code == 200 and rejected.json()["review_reason"] == "Too dark"
    assert AuditEvent.objects.filter(action="asset.rejected", object_id=str(asset.pk), actor=people["alice"]).exists()


def test_review_of_another_creators_asset_is_404(client, principals, asset_b):
    headers = auth(client, principals, "alice")
    for verb in ("submit", "approve", "reject"):
        assert_not_found(client.post(f"{ASSETS}{asset_b.pk}/{verb}/", {"reason": "x"},
                                     content_type="application/json", **headers))
    asset_b.refresh_from_db()
    assert asset_b.status == "draft"


def test_a_read_only_key_cannot_review(client, people, asset_a2):
    raw = accounts_services.issue_api_key(owner=people["owner"], name="ro", creators=[people["a"]]).raw
    response = client.post(f"{ASSETS}{asset_a2.pk}/submit/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403


# --- Presigned uploads ---------------------------------------------------------------------------


def test_presign_needs_s3_storage(client, principals, people):
    headers = auth(client, principals, "alice")
    response = client.post(f"{ASSETS}presign/", {"creator": people['a'].pk, "filename": "big.mp4", "size": 1000},
                           content_type="application/json", **headers)
    assert response.status_code == 400
    assert "S3" in str(response.json()["error"]["details"])


def _presign(client, headers, creator, data: bytes, filename: str = "big.jpg") -> dict:
    response = client.post(f"{ASSETS}presign/", {"creator": creator.pk, "filename": filename, "size": len(data)},
                           content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def _send(post: dict, data: bytes, filename: str = "big.jpg") -> None:
    sent = requests.post(post["url"], data=post["fields"], files={"file": (filename, data)}, timeout=10)
    assert sent.status_code in (200, 201, 204), sent.text


@pytest.mark.s3
def test_presigned_upload_then_confirm_ingests_and_drops_the_staging_copy(client, principals, people, s3_storage,
                                                                         django_capture_on_commit_callbacks):
    headers = auth(client, principals, "bob")
    data = jpeg_bytes("presigned", size=(120, 90))
    post = _presign(client, headers, people["a"], data)
    assert post["key"].startswith(f"uploads/{people['a'].pk}/")
    _send(post, data)
    staged = f"private/{post['key']}"  # a staged upload is an original: it waits in the private bucket
    assert staged in bucket_keys(s3_storage, "atelier-private")
    assert not bucket_keys(s3_storage)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"{ASSETS}confirm/", {"creator": people["a"].pk, "key": post["key"],
                                                     "filename": "big.jpg", "rating": "suggestive"},
                               content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    asset = Asset.objects.get(pk=response.json()["asset"]["id"])
    assert (asset.width, asset.height, asset.rating) == (120, 90, "suggestive")
    assert staged not in bucket_keys(s3_storage, "atelier-private")
    assert f"private/{asset.file.name}" in bucket_keys(s3_storage, "atelier-private")  # originals are private


@pytest.mark.s3
def test_a_staging_key_of_another_creator_is_refused(client, principals, people, s3_storage):
    data = jpeg_bytes("charlies")
    post = _presign(client, auth(client, principals, "charlie"), people["b"], data)
    _send(post, data)
    headers = auth(client, principals, "alice")
    response = client.post(f"{ASSETS}confirm/", {"creator": people['a'].pk, "key": post["key"]},
                           content_type="application/json", **headers)
    assert response.status_code == 400 and "Unknown upload." in str(response.json()["error"]["details"])
    response = client.post(f"{ASSETS}confirm/", {"creator": people['b'].pk, "key": post["key"]},
                           content_type="application/json", **headers)
    assert response.json()["error"]["details"] == {"creator": ["Unknown creator."]}
    assert f"private/{post['key']}" in bucket_keys(s3_storage, "atelier-private")  # still charlie's to confirm
    assert Asset.objects.count() == 3


@pytest.mark.s3
def test_a_refused_presigned_file_leaves_nothing_in_the_bucket(client, principals, people, s3_storage, tmp_path):
    headers = auth(client, principals, "bob")
    data = media_samples.truncated_jpeg(tmp_path).read_bytes()
    before = bucket_keys(s3_storage) | bucket_keys(s3_storage, "atelier-private")
    post = _presign(client, headers, people["a"], data)
    _send(post, data)
    response = client.post(f"{ASSETS}confirm/", {"creator": people['a'].pk, "key": post["key"], "filename": "t.jpg"},
                           content_type="application/json", **headers)
    assert response.status_code == 400 and response.json()["error"]["details"]["key"][0]
    assert bucket_keys(s3_storage) | bucket_keys(s3_storage, "atelier-private") == before
    assert Asset.objects.count() == 3


# --- Collections ---------------------------------------------------------------------------------


def test_collections_crud_keeps_order_and_refuses_foreign_assets(client, principals, people, asset_a2, asset_a,
                                                                 asset_b):
    headers = auth(client, principals, "alice")
    created = client.post(COLLECTIONS, {"creator": people["a"].pk, "title": "Summer", "kind": "pack",
                                        "price_minor": 1999, "currency": "EUR",
                                        "asset_ids": [asset_a2.pk, asset_a.pk]},
                          content_type="application/json", **headers)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["asset_ids"] == [asset_a2.pk, asset_a.pk]
    url = f"{COLLECTIONS}{body['id']}/"
    reordered = client.patch(url, {"asset_ids": [asset_a.pk, asset_a2.pk]}, content_type="application/json",
                             **headers)
    assert reordered.json()["asset_ids"] == [asset_a.pk, asset_a2.pk]
    foreign = client.patch(url, {"asset_ids": [asset_b.pk]}, content_type="application/json", **headers)
    assert foreign.status_code == 400
    assert client.get(url, **headers).json()["asset_ids"] == [asset_a.pk, asset_a2.pk]
    no_price = client.post(COLLECTIONS, {"creator": people["a"].pk, "title": "Pack", "kind": "pack"},
                           content_type="application/json", **headers)
    assert no_price.status_code == 400 and "price" in str(no_price.json()["error"]["details"])
    assert client.delete(url, **headers).status_code == 204
    assert not Collection.objects.filter(pk=body["id"]).exists()


def test_collections_of_b_are_out_of_reach(client, principals, people, asset_b):
    theirs = CollectionFactory(creator=people["b"], title="Beta folder")
    headers = auth(client, principals, "alice")
    assert listed(client.get(COLLECTIONS, **headers)) == set()
    assert_not_found(client.get(f"{COLLECTIONS}{theirs.pk}/", **headers))
    assert_not_found(client.patch(f"{COLLECTIONS}{theirs.pk}/", {"title": "x"}, content_type="application/json",
                                  **headers))
    response = client.post(COLLECTIONS, {"creator": people["b"].pk, "title": "Sneaky"},
                           content_type="application/json", **headers)
    assert response.status_code == 400 and response.json()["error"]["details"] == {"creator": ["Unknown creator."]}
    bob = auth(client, principals, "bob")  # an editor may add to A, but not a foreign cover
    response = client.post(COLLECTIONS, {"creator": people["a"].pk, "title": "Cover", "cover": asset_b.pk},
                           content_type="application/json", **bob)
    assert response.status_code == 400
