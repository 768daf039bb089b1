from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from PIL import Image

from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PermanentError,
    PublishRequest,
    TransientError,
    UnknownOutcome,
)
from scheduling.connectors.instagram import InstagramConnector, signed_media_url
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.instagram import FakeInstagram, V, graph_error

IG = FakeInstagram.IG_ID


@pytest.fixture
def fake(settings, media_dir) -> Iterator[FakeInstagram]:
    with serve(FakeInstagram()) as platform:
        settings.INSTAGRAM_GRAPH_URL = platform.url
        settings.INSTAGRAM_API_VERSION = "v23.0"
        settings.INSTAGRAM_MEDIA_URL_BASE = platform.media_base
        settings.INSTAGRAM_MEDIA_URL_FUNCTION = ""
        settings.INSTAGRAM_CONTAINER_POLL_SECONDS = 0
        settings.INSTAGRAM_CONTAINER_POLL_ATTEMPTS = 5
        settings.MEDIA_ROOT = media_dir
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        yield platform


def jpeg(settings, name: str, alt: str = "") -> MediaItem:
    path = Path(settings.MEDIA_ROOT) / "renditions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (108, 135), (240, 200, 10)).save(path, "JPEG")
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size, alt=alt)


def mp4(settings, name: str) -> MediaItem:
    path = Path(settings.MEDIA_ROOT) / "renditions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return MediaItem(path=str(path), mime="video/mp4", size=path.stat().st_size)


def account(token: str = FakeInstagram.TOKEN) -> AccountRef:
    return AccountRef(id=9, platform="instagram", handle="atelier.creator", external_id=IG, options={},
                      credentials={"access_token": token})


def request(media: tuple, text: str = "Golden hour #film", rating: str = "sfw",
            acct: AccountRef | None = None) -> PublishRequest:
    acct = acct or account()
    return PublishRequest(idempotency_key="k", account=acct, text=text, media=media, rating=rating,
                          options={"post_id": 1, "publication_id": 1})


def test_single_image_container_is_polled_then_published(fake, settings, client):
    item = jpeg(settings, "a.jpg", alt="A yellow square")
    result = InstagramConnector().publish(request((item,)))

    order = [(r.method, r.path) for r in fake.requests]
    assert order[0] == ("GET", f"/v23.0/{IG}/content_publishing_limit")
    assert order[1] == ("POST", f"/v23.0/{IG}/media")
    created = fake.calls("POST", V + rf"/{IG}/media")[0]
    assert created.headers["authorization"] == f"Bearer {FakeInstagram.TOKEN}"
    form = created.form()
    assert form["caption"] == "Golden hour #film" and form["alt_text"] == "A yellow square"
    assert "media_type" not in form
    url = urlsplit(form["image_url"])
    assert url.geturl().startswith("https://media.atelier.test/files/") and url.path.endswith("/a.jpg")
    # What Instagram fetches is the rendition itself, for the link's life only.
    fetched = client.get(url.path)
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == Path(item.path).read_bytes()
    with time_machine.travel(time.time() + settings.INSTAGRAM_MEDIA_URL_TTL_SECONDS + 1, tick=False):
        assert client.get(url.path).status_code == 403
    container = next(iter(fake.containers))
    assert fake.calls("GET", V + rf"/{container}")[0].query["fields"] == ["status_code,status"]
    assert fake.calls("POST", V + rf"/{IG}/media_publish")[0].form() == {"creation_id": container}
    assert result.external_id in fake.media
    assert result.url == fake.media[result.external_id]["permalink"]


def test_single_video_is_a_reel_and_waits_for_processing(fake, settings):
    InstagramConnector().publish(request((mp4(settings, "v.mp4"),)))
    form = fake.calls("POST", V + rf"/{IG}/media")[0].form()
    assert form["media_type"] == "REELS" and form["video_url"].startswith("https://media.atelier.test/")
    container = next(iter(fake.containers))
    assert len(fake.calls("GET", V + rf"/{container}")) == 3  # IN_PROGRESS, IN_PROGRESS, FINISHED


def test_carousel_children_then_parent(fake, settings):
    items = (jpeg(settings, "1.jpg"), jpeg(settings, "2.jpg"), mp4(settings, "3.mp4"))
    result = InstagramConnector().publish(request(items))

    forms = [c.form() for c in fake.calls("POST", V + rf"/{IG}/media")]
    assert [f.get("is_carousel_item") for f in forms[:3]] == ["true", "true", "true"]
    assert forms[2]["media_type"] == "VIDEO" and "caption" not in forms[0]
    children = list(fake.containers)[:3]
    assert forms[3] == {"media_type": "CAROUSEL", "children": ",".join(children), "caption": "Golden hour #film"}
    assert fake.media[result.external_id]["media_type"] == "CAROUSEL"


def test_exhausted_publishing_quota_waits_for_the_window(fake, settings):
    fake.quota_usage = 50
    fake.media["1800000000999"] = {"id": "1800000000999", "caption": "old",
                                   "timestamp": (datetime.now(UTC) - timedelta(hours=23))
                                   .strftime("%Y-%m-%dT%H:%M:%S+0000"), "permalink": ""}
    with pytest.raises(TransientError) as caught:
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    assert 3500 < caught.value.retry_after <= 3600
    assert fake.containers == {}


def test_publishing_limit_error_on_publish_is_transient(fake, settings):
    fake.fail_next("POST", V + rf"/{IG}/media_publish",
                   graph_error(9, "Application request limit reached", subcode=2207042))
    with pytest.raises(TransientError):
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_rate_limit_codes_are_transient(fake, settings, code):
    fake.fail_next("POST", V + rf"/{IG}/media", graph_error(code, "(#4) Application request limit reached",
                                                           status=403, headers={"Retry-After": "600"}))
    with pytest.raises(TransientError) as caught:
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    assert caught.value.retry_after == 600


def test_http_429_is_transient(fake, settings):
    fake.fail_next("GET", V + rf"/{IG}/content_publishing_limit", Reply(429, {}, headers={"Retry-After": "30"}))
    with pytest.raises(TransientError) as caught:
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    assert caught.value.retry_after == 30


def test_invalid_token_is_auth_error_even_on_http_400(fake, settings):
    with pytest.raises(AuthError) as caught:
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),), acct=account(token="IGAAT-expired")))
    assert "IGAAT-expired" not in str(caught.value)


def test_server_error_on_media_publish_may_have_posted(fake, settings):
    fake.fail_next("POST", V + rf"/{IG}/media_publish",
                   graph_error(2, "An unexpected error has occurred. Please retry your request later.", status=500))
    with pytest.raises(UnknownOutcome):
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))


def test_read_timeout_on_media_publish_is_unknown_outcome(fake, settings):
    fake.fail_next("POST", V + rf"/{IG}/media_publish", Reply(200, {}, delay=1.6))
    with pytest.raises(UnknownOutcome):
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))


def test_server_error_before_publish_is_transient(fake, settings):
    fake.fail_next("POST", V + rf"/{IG}/media", graph_error(2, "Service temporarily unavailable", status=500))
    with pytest.raises(TransientError):
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))


def test_container_processing_error_is_permanent(fake, settings):
    fake.fail_next("GET", V + r"/1790\d+", Reply(200, {"status_code": "ERROR", "status": "Error: 2207026"}))
    with pytest.raises(PermanentError, match="could not process"):
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    assert fake.calls("POST", V + rf"/{IG}/media_publish") == []


def test_media_needs_a_public_url(fake, settings, tmp_path):
    settings.INSTAGRAM_MEDIA_URL_BASE = ""
    with pytest.raises(PermanentError, match="INSTAGRAM_MEDIA_URL_BASE"):
        InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    settings.INSTAGRAM_MEDIA_URL_BASE = fake.media_base
    outside = tmp_path / "elsewhere.jpg"
    Image.new("RGB", (8, 8)).save(outside, "JPEG")
    with pytest.raises(PermanentError, match="INSTAGRAM_MEDIA_URL_FUNCTION"):
        InstagramConnector().publish(request((MediaItem(str(outside), "image/jpeg", 100),)))
    assert fake.requests == []


def test_media_url_callable_is_pluggable(fake, settings):
    item = jpeg(settings, "a.jpg")
    connector = InstagramConnector(media_url=lambda m: f"{fake.media_base}/cdn/x.jpg?expires=1&signature=s")
    connector.publish(request((item,)))
    assert fake.calls("POST", V + rf"/{IG}/media")[0].form()["image_url"].startswith(f"{fake.media_base}/cdn/")


def test_validation(fake, settings):
    connector = InstagramConnector()
    photo = MediaItem(path="x.jpg", mime="image/jpeg", size=1000)
    assert connector.validate(request((photo,))) == []
    assert any("SFW" in p or "explicit" in p for p in connector.validate(request((photo,), rating="explicit")))
    assert any("suggestive" in p for p in connector.validate(request((photo,), rating="suggestive")))
    assert any("at least one" in p for p in connector.validate(request(())))
    assert any("image/png" in p for p in connector.validate(request((MediaItem("x.png", "image/png", 10),))))
    assert any("30" in p for p in connector.validate(request((photo,), text=" ".join(f"#t{i}" for i in range(31)))))
    assert any("11 media" in p for p in connector.validate(request((photo,) * 11)))
    with pytest.raises(PermanentError):
        connector.publish(request((photo,), rating="explicit"))


def test_lookup_by_caption(fake, settings):
    assert InstagramConnector().lookup(request(())) is None
    published = InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    found = InstagramConnector().lookup(request(()))
    assert found is not None and found.external_id == published.external_id and found.url


def test_unpublish_is_left_to_a_person(fake):
    assert InstagramConnector().unpublish(account(), "1800000000001") is False
    assert fake.requests == []


def test_fetch_metrics_from_insights(fake, settings):
    published = InstagramConnector().publish(request((jpeg(settings, "a.jpg"),)))
    fake.metrics[published.external_id] = {"reach": 340, "likes": 41, "comments": 5, "saved": 7, "shares": 2,
                                            "views": 512}
    assert InstagramConnector().fetch_metrics(account(), published.external_id) == {
        "reach": 340, "likes": 41, "comments": 5, "saved": 7, "shares": 2, "views": 512}


def test_refresh_extends_the_long_lived_token(fake):
    creds = InstagramConnector().refresh(account())
    assert creds["access_token"] == "IGAAT-refreshed" and creds["expires_at"]
    assert fake.calls("GET", "/refresh_access_token")[0].query["grant_type"] == ["ig_refresh_token"]
    with pytest.raises(AuthError):
        InstagramConnector().refresh(account(token="IGAAT-dead"))


def test_stored_media_is_linked_by_storage_name_not_path(fake, settings, client):
    """A rendition copied out of storage for the upload is linked by where it is stored."""
    name = storages["default"].save("renditions/1/ab/abc-instagram.jpg", ContentFile(b"\xff\xd8 stored bytes"))
    url = signed_media_url(MediaItem(path="/tmp/copy-elsewhere.jpg", mime="image/jpeg", size=15,
                                     storage="default", name=name))
    assert url.startswith(f"{fake.media_base}/files/")
    fetched = client.get(urlsplit(url).path)
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == b"\xff\xd8 stored bytes"


@pytest.mark.s3
def test_on_s3_instagram_gets_a_presigned_url_of_the_object(settings, s3_storage):
    settings.INSTAGRAM_MEDIA_URL_BASE = ""  # not needed: the bucket signs its own links
    name = storages["default"].save("renditions/1/ab/abc-instagram.jpg", ContentFile(b"on s3"))
    url = signed_media_url(MediaItem(path="/tmp/x.jpg", mime="image/jpeg", size=5, storage="default", name=name))
    assert "/atelier-media/renditions/1/ab/abc-instagram.jpg?" in url
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"on s3"
