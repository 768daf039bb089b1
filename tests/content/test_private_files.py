"""Originals are never reachable at a guessable URL: they live in the private storage and leave only
through a tenancy-checked, audited view that answers with a signed link expiring within a minute.
Renditions in the API carry signed, expiring links too; nothing is served by its storage path."""

from __future__ import annotations

import importlib
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import Resolver404, resolve, reverse

from accounts.models import AuditEvent
from content import services
from content.models import Asset
from core import files
from tests.content import media_samples
from tests.content.factories import AssetFactory, bucket_keys, jpeg_bytes, stored_files

pytestmark = pytest.mark.django_db


# What the tests that reach for files start from: an asset and a read-only key on each side.
ON_FILE = pytest.mark.usefixtures("asset_a", "asset_b", "read_key_a", "read_key_b")


def original_url(asset: Asset) -> str:
    return reverse("admin:content_asset_original", args=[asset.pk])


def path_of(url: str) -> str:
    return urlsplit(url).path


def later(seconds: int) -> time_machine.travel:
    """The clock `seconds` ahead, for what runs inside."""
    return time_machine.travel(time.time() + seconds, tick=False)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_ingest_keeps_the_original_out_of_the_media_storage(people, media_dir, originals_dir, eager_celery, tmp_path,
                                                           django_capture_on_commit_callbacks):
    sample = media_samples.simple(tmp_path, "JPEG", "photo.jpg", size=(320, 240))
    with django_capture_on_commit_callbacks(execute=True):
        asset = services.ingest(creator=people["a"], source=sample, filename="photo.jpg", actor=people["bob"]).asset
    assert asset.file.name in stored_files(originals_dir)
    assert not any(name.startswith("assets/") for name in stored_files(media_dir))
    assert any(name.startswith("renditions/") for name in stored_files(media_dir))  # processing read it
    with pytest.raises(Resolver404):
        resolve(f"/media/{asset.file.name}")  # no route serves storage paths, in DEBUG either


@ON_FILE
def test_old_media_path_of_an_original_answers_404(client, people, asset_a):
    client.force_login(people["owner"])
    assert client.get(f"/media/{asset_a.file.name}").status_code == 404


@ON_FILE
@pytest.mark.parametrize("who", ["owner", "alice", "bob"])
def test_staff_who_see_the_asset_download_the_original_through_a_short_link(client, asset_a, people, who):
    client.force_login(people[who])
    response = client.get(original_url(asset_a))
    assert response.status_code == 302
    link = response["Location"]
    assert link.startswith("/files/") and link.endswith("/beach.jpg")
    download = client.get(link)
    assert download.status_code == 200
    assert body(download) == asset_a.file.storage.open(asset_a.file.name).read()
    assert download["Content-Disposition"].startswith("attachment") and "beach.jpg" in download["Content-Disposition"]
    assert "no-store" in download["Cache-Control"]
    event = AuditEvent.objects.filter(action="asset.original_opened", object_id=str(asset_a.pk)).get()
    assert event.actor_id == people[who].pk


@ON_FILE
def test_another_creators_manager_gets_404(client, people, asset_a):
    client.force_login(people["charlie"])
    assert client.get(original_url(asset_a)).status_code == 404
    assert not AuditEvent.objects.filter(action="asset.original_opened").exists()


@ON_FILE
def test_anonymous_is_sent_to_the_login(client, asset_a):
    response = client.get(original_url(asset_a))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@ON_FILE
def test_the_link_expires_within_a_minute(client, people, asset_a, settings):
    settings.SIGNED_ORIGINAL_URL_TTL_SECONDS = 60
    client.force_login(people["alice"])
    link = client.get(original_url(asset_a))["Location"]
    client.logout()  # the link itself is the capability, for its minute
    assert client.get(link).status_code == 200
    with later(61):
        expired = client.get(link)
    assert expired.status_code == 403 and b"expired" in expired.content


@ON_FILE
def test_tampered_links_answer_404(client, people, asset_a, asset_b):
    client.force_login(people["alice"])
    link = client.get(original_url(asset_a))["Location"]
    _, _, token, name = link.split("/", 3)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/files/{forged}/{name}").status_code == 404
    assert client.get("/files/not-a-token/beach.jpg").status_code == 404
    # A genuine token for a file of another creator cannot be made from this one.
    b1_link = f"/files/{token}/{asset_b.file.name.rsplit('/', 1)[-1]}"
    assert body(client.get(b1_link)) != asset_b.file.storage.open(asset_b.file.name).read()


@ON_FILE
def test_api_original_for_keys_in_reach_only(client, asset_a, read_key_b, read_key_a):
    url = f"/api/v1/assets/{asset_a.pk}/original/"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {read_key_b}").status_code == 404
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {read_key_a}")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("http://testserver/files/")
    assert body(client.get(path_of(location))) == asset_a.file.storage.open(asset_a.file.name).read()
    assert client.get(url).status_code in (401, 403)


@ON_FILE
def test_api_renditions_carry_signed_expiring_links(client, asset_a, read_key_a, settings):
    settings.SIGNED_MEDIA_URL_TTL_SECONDS = 600
    response = client.get(f"/api/v1/assets/{asset_a.pk}/", HTTP_AUTHORIZATION=f"Bearer {read_key_a}")
    url = response.json()["renditions"][0]["url"]
    assert url.startswith("http://testserver/files/") and "/media/" not in url
    rendition = asset_a.renditions.get()
    fetched = client.get(path_of(url))
    assert fetched.status_code == 200 and body(fetched) == storages["default"].open(rendition.file.name).read()
    with later(601):
        assert client.get(path_of(url)).status_code == 403


# --- S3: the object itself is private ----------------------------------------------------------------


@pytest.mark.s3
def test_on_s3_the_original_is_a_private_object_reached_by_presigned_link(client, people, s3_storage, s3_endpoint):
    asset = AssetFactory(creator=people["a"], data=jpeg_bytes("on-s3"))
    key = f"private/{asset.file.name}"
    assert key in bucket_keys(s3_storage, "atelier-private")
    assert not any(k.endswith(asset.file.name) for k in bucket_keys(s3_storage, "atelier-media"))
    grants = s3_storage.get_object_acl(Bucket="atelier-private", Key=key)["Grants"]
    assert not [g for g in grants if "AllUsers" in str(g.get("Grantee", {}).get("URI", ""))]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_endpoint}/atelier-private/{key}")
    assert refused.value.code == 403

    client.force_login(people["alice"])
    link = client.get(original_url(asset))["Location"]
    assert link.startswith(f"{s3_endpoint}/atelier-private/{key}?")
    query = parse_qs(urlsplit(link).query)
    lifetime = int(query["X-Amz-Expires"][0]) if "X-Amz-Expires" in query else int(query["Expires"][0]) - time.time()
    assert 0 < lifetime <= 60
    with urllib.request.urlopen(link) as fetched:
        assert fetched.read() == jpeg_bytes("on-s3")


# --- Moving existing files ------------------------------------------------------------------------


def _migration(suffix: str, app: str):
    folder = Path(importlib.import_module(f"{app}.migrations").__file__).parent
    name = next(p.stem for p in folder.glob(f"*_{suffix}.py"))
    return importlib.import_module(f"{app}.migrations.{name}")


def test_migration_moves_existing_originals_and_back(people, media_dir, originals_dir):
    asset = AssetFactory(creator=people["a"], data=jpeg_bytes("legacy"))
    # As it was before: the original in the media storage.
    storages["default"].save(asset.file.name, ContentFile(jpeg_bytes("legacy")))
    storages["private"].delete(asset.file.name)
    migration = _migration("originals_in_private_storage", "content")

    migration.to_private(apps, None)
    assert asset.file.name in stored_files(originals_dir) and asset.file.name not in stored_files(media_dir)
    migration.to_private(apps, None)  # idempotent
    assert asset.file.storage.open(asset.file.name).read() == jpeg_bytes("legacy")

    migration.to_default(apps, None)
    assert asset.file.name in stored_files(media_dir) and asset.file.name not in stored_files(originals_dir)


def test_move_files_reports_what_is_missing_and_never_overwrites(media_dir, originals_dir):
    storages["default"].save("assets/9/aa/one.jpg", ContentFile(b"one"))
    storages["private"].save("assets/9/aa/two.jpg", ContentFile(b"two, already moved"))
    storages["default"].save("assets/9/aa/two.jpg", ContentFile(b"two, left behind"))
    report = files.move_files(["assets/9/aa/one.jpg", "assets/9/aa/two.jpg", "assets/9/aa/gone.jpg", ""],
                              "default", "private")
    assert (report.moved, report.already_there, report.missing) == (1, 1, ["assets/9/aa/gone.jpg"])
    assert storages["private"].open("assets/9/aa/two.jpg").read() == b"two, already moved"
    assert stored_files(media_dir) == set()
