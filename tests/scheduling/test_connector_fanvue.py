"""The Fanvue connector against a local server speaking Fanvue's wire format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PublishRequest,
    TransientError,
    UnknownOutcome,
)
from scheduling.connectors.fanvue import FanvueConnector
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.fanvue import API_VERSION, CLIENT_ID, CLIENT_SECRET, FakeFanvue

CREATOR_UUID = "5b1f0a3e-8c2d-4e6f-9a7b-0c1d2e3f4a5b"
PART_BYTES = 1024


@pytest.fixture
def fake(settings):
    with serve(FakeFanvue()) as platform:
        settings.FANVUE_API_URL = platform.url
        settings.FANVUE_TOKEN_URL = f"{platform.url}/oauth2/token"
        settings.FANVUE_CLIENT_ID, settings.FANVUE_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
        settings.FANVUE_UPLOAD_PART_BYTES = PART_BYTES
        settings.FANVUE_MEDIA_POLL_SECONDS = 0
        settings.CONNECTOR_TIMEOUT_SECONDS = 5
        yield platform


@pytest.fixture
def photo(tmp_path: Path) -> MediaItem:
    path = tmp_path / "set-01.jpg"
    Image.effect_noise((96, 96), 80).convert("RGB").save(path, "JPEG", quality=95)
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size, alt="Golden hour")


def account(**options) -> AccountRef:
    return AccountRef(id=1, platform="fanvue", handle="luna", external_id="", options=options,
                      credentials={"access_token": "fv-access-1", "refresh_token": "fv-refresh-1"})


def request(media=(), text="New set tonight", ref=None, **kw) -> PublishRequest:
    return PublishRequest(idempotency_key="0b7c6a56-1f55-4c8e-bb1e-5a7d0e6c1234", account=ref or account(),
                          text=text, media=tuple(media), rating=kw.pop("rating", "explicit"), **kw)


def test_publish_with_media_uploads_in_parts_then_creates_the_post(fake, photo):
    connector = FanvueConnector()
    result = connector.publish(request([photo], price_minor=999, currency="USD"))

    session = fake.calls("POST", r"/media/uploads")[0].json()
    assert session == {"name": "set-01.jpg", "filename": "set-01.jpg", "mediaType": "image"}
    puts = fake.calls("PUT", r"/s3/.+")
    assert len(puts) == math.ceil(photo.size / PART_BYTES) > 1
    assert all("authorization" not in p.headers for p in puts)  # presigned URLs get no bearer token
    upload = next(iter(fake.state["uploads"].values()))
    assert upload["data"] == Path(photo.path).read_bytes()
    completed = fake.calls("PATCH", r"/media/uploads/.+")[0].json()
    assert [p["PartNumber"] for p in completed["parts"]] == list(range(1, len(puts) + 1))
    assert all(p["ETag"].startswith('"') for p in completed["parts"])

    body = fake.calls("POST", r"/posts")[0].json()
    assert body == {"text": "New set tonight", "mediaUuids": [upload["media"]], "audience": "subscribers",
                    "price": 999}
    for call in fake.requests:
        if not call.path.startswith("/s3/"):
            assert call.headers["authorization"] == "Bearer fv-access-1"
            assert call.headers["x-fanvue-api-version"] == API_VERSION
    assert result.external_id == fake.posts()[0]["uuid"]
    assert result.url == f"https://www.fanvue.com/luna/post/{result.external_id}"


def test_agency_token_posts_through_the_creator_routes(fake, photo):
    FanvueConnector().publish(request([photo], ref=account(creator_uuid=CREATOR_UUID, audience="followers")))
    assert fake.calls("POST", rf"/creators/{CREATOR_UUID}/media/uploads")
    assert fake.calls("PATCH", rf"/creators/{CREATOR_UUID}/media/uploads/.+")
    created = fake.calls("POST", rf"/creators/{CREATOR_UUID}/posts")
    assert created and created[0].json()["audience"] == "followers-and-subscribers"
    assert not fake.calls("POST", r"/posts")


def test_waits_for_media_processing_before_posting(fake, photo):
    fake.state["processing_polls"] = 3
    FanvueConnector().publish(request([photo]))
    assert len(fake.calls("GET", r"/media/[0-9a-f-]{36}")) == 3
    assert len(fake.posts()) == 1


def test_429_on_create_is_transient_with_retry_after(fake):
    fake.fail_next("POST", r"/posts", Reply(429, {"error": "Too Many Requests", "message": "Rate limit exceeded"},
                                            headers={"Retry-After": "37", "X-RateLimit-Remaining": "0"}))
    with pytest.raises(TransientError) as caught:
        FanvueConnector().publish(request())
    assert caught.value.retry_after == 37 and caught.value.status == 429
    assert "Rate limit exceeded" in caught.value.message


def test_spent_budget_stops_before_the_post_is_created(fake, photo):
    fake.state["remaining"] = 6  # the upload itself uses up the window
    with pytest.raises(TransientError) as caught:
        FanvueConnector().publish(request([photo]))
    assert caught.value.retry_after == 60
    assert not fake.calls("POST", r"/posts") and not fake.posts()


def test_server_errors_on_create(fake):
    fake.fail_next("POST", r"/posts", Reply(503, {"error": "Service Unavailable", "message": "Try again"}))
    with pytest.raises(TransientError):
        FanvueConnector().publish(request())
    # A 500 after the request reached Fanvue may still have created the post.
    fake.fail_next("POST", r"/posts", Reply(500, {"error": "Internal Server Error", "message": "Oops"}))
    with pytest.raises(UnknownOutcome):
        FanvueConnector().publish(request())


def test_read_timeout_on_create_is_unknown_but_on_upload_is_transient(fake, settings, photo):
    settings.CONNECTOR_TIMEOUT_SECONDS = 0.5
    fake.fail_next("POST", r"/posts", Reply(201, {}, delay=1.5))
    with pytest.raises(UnknownOutcome):
        FanvueConnector().publish(request())
    fake.fail_next("POST", r"/media/uploads", Reply(200, {}, delay=1.5))
    with pytest.raises(TransientError):
        FanvueConnector().publish(request([photo]))


def test_refused_token_is_auth_error(fake):
    ref = AccountRef(id=1, platform="fanvue", handle="luna", external_id="", options={},
                     credentials={"access_token": "revoked"})
    with pytest.raises(AuthError) as caught:
        FanvueConnector().publish(request(ref=ref))
    assert caught.value.status == 401 and "Invalid or expired access token" in caught.value.message


def test_validation_explains_each_problem(photo):
    connector = FanvueConnector()
    assert connector.validate(request([photo])) == []
    bmp = MediaItem(path="/tmp/a.bmp", mime="image/bmp", size=10)
    problems = connector.validate(request([bmp], text="x" * 5001, price_minor=500, currency="EUR"))
    assert any("5001 characters" in p for p in problems)
    assert any("image/bmp is not accepted" in p for p in problems)
    assert any("US dollars" in p for p in problems)
    assert any("paid Fanvue post needs" in p for p in connector.validate(request(price_minor=500)))
    assert any("audience" in p for p in connector.validate(request(options={"audience": "everyone"})))
    huge = MediaItem(path="/tmp/big.jpg", mime="image/jpeg", size=60 * 1024 * 1024)
    assert any("50 MB image limit" in p for p in connector.validate(request([huge])))


def test_lookup_finds_the_post_by_text_and_media_count(fake, photo):
    connector = FanvueConnector()
    published = connector.publish(request([photo]))
    found = connector.lookup(request([photo]))
    assert found is not None and found.external_id == published.external_id
    assert connector.lookup(request([photo], text="Another caption")) is None
    assert connector.lookup(request()) is None  # same text, but this one had media


def test_unpublish_and_metrics(fake, photo):
    connector = FanvueConnector()
    post_id = connector.publish(request([photo])).external_id
    fake.state["posts"][post_id].update(likesCount=12, commentsCount=3,
                                        tips={"count": 2, "totalGross": 1500, "totalNet": 1200})
    assert connector.fetch_metrics(account(), post_id) == {
        "likes": 12, "comments": 3, "tips": 2, "tips_gross_minor": 1500, "tips_net_minor": 1200}
    assert connector.unpublish(account(), post_id) is True
    assert fake.calls("DELETE", rf"/posts/{post_id}")
    assert not fake.posts()
    assert connector.unpublish(account(), post_id) is True  # already gone


def test_refresh_rotates_the_single_use_refresh_token(fake):
    connector = FanvueConnector()
    fresh = connector.refresh(account())
    assert fresh["access_token"] != "fv-access-1" and fresh["refresh_token"] != "fv-refresh-1"
    assert fresh["expires_at"] and "write:post" in fresh["scope"]
    grant = fake.calls("POST", r"/oauth2/token")[0]
    assert grant.form() == {"grant_type": "refresh_token", "refresh_token": "fv-refresh-1"}
    assert grant.headers["authorization"].startswith("Basic ")
    with pytest.raises(AuthError):  # the old refresh token was spent
        connector.refresh(account())
