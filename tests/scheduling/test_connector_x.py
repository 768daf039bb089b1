"""The X connector against a local server speaking X API v2's wire format."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
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
from scheduling.connectors.x import XConnector, weighted_length
from tests.scheduling.fakes.base import Reply
from tests.scheduling.fakes.x import CLIENT_ID, USER_ID, multipart
from tests.scheduling.fakes.x import UPLOAD_CHUNK as CHUNK


@pytest.fixture
def photo(tmp_path: Path) -> MediaItem:
    path = tmp_path / "teaser.jpg"
    Image.effect_noise((96, 96), 80).convert("RGB").save(path, "JPEG", quality=95)
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size, alt="Silhouette at dusk")


@pytest.fixture
def clip(tmp_path: Path) -> MediaItem:
    path = tmp_path / "teaser.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return MediaItem(path=str(path), mime="video/mp4", size=path.stat().st_size)


def account(external_id: str = USER_ID, token: str = "x-access-1") -> AccountRef:  # noqa: S107 — a fake's token
    return AccountRef(id=2, platform="x", handle="luna_x", external_id=external_id, options={},
                      credentials={"access_token": token, "refresh_token": "x-refresh-1"})


def request(media=(), text="New set tonight, link in bio", ref=None, **kw) -> PublishRequest:
    return PublishRequest(idempotency_key="9f0e4b0c-77a1-4f7e-8d55-0a3e1c2b3d4f", account=ref or account(),
                          text=text, media=tuple(media), rating=kw.pop("rating", "sfw"), **kw)


def connector() -> XConnector:
    c = XConnector()
    c.sleep = lambda seconds: None
    return c


def test_publish_image_chunked_with_sensitive_flag_and_ai_label(fake, photo):
    result = connector().publish(request([photo], rating="explicit", ai_generated=True))

    uploads = fake.calls("POST", r"/2/media/upload")
    forms = [multipart(call) for call in uploads]
    commands = [f["command"].decode() for f in forms]
    segments = math.ceil(photo.size / CHUNK)
    assert commands == ["INIT", *["APPEND"] * segments, "FINALIZE"]
    assert forms[0]["media_type"] == b"image/jpeg" and forms[0]["media_category"] == b"tweet_image"
    assert int(forms[0]["total_bytes"]) == photo.size
    assert [int(f["segment_index"]) for f in forms[1:-1]] == list(range(segments))
    media_id = next(iter(fake.state["media"]))
    assert fake.state["media"][media_id]["data"] == Path(photo.path).read_bytes()

    assert fake.state["metadata"][media_id] == {
        "alt_text": {"text": "Silhouette at dusk"},
        "sensitive_media_warning": {"adult_content": True, "graphic_violence": False, "other": False}}
    body = fake.calls("POST", r"/2/tweets")[0].json()
    assert body == {"text": "New set tonight, link in bio", "media": {"media_ids": [media_id]}, "made_with_ai": True}
    assert all(call.headers["authorization"] == "Bearer x-access-1" for call in fake.requests)
    assert result.url == f"https://x.com/luna_x/status/{result.external_id}"


def test_sfw_post_carries_no_warning_and_no_ai_label(fake, photo):
    connector().publish(request([photo]))
    media_id = next(iter(fake.state["media"]))
    assert "sensitive_media_warning" not in fake.state["metadata"][media_id]
    assert "made_with_ai" not in fake.calls("POST", r"/2/tweets")[0].json()


def test_video_waits_for_processing_through_status(fake, clip):
    fake.state["status_polls"] = 3
    connector().publish(request([clip], rating="suggestive"))
    assert multipart(fake.calls("POST", r"/2/media/upload")[0])["media_category"] == b"tweet_video"
    polls = fake.calls("GET", r"/2/media/upload")
    assert len(polls) == 3 and all(p.query["command"] == ["STATUS"] for p in polls)
    assert fake.calls("POST", r"/2/tweets")


def test_failed_video_processing_is_permanent(fake, clip):
    fake.fail_next("GET", r"/2/media/upload", Reply(200, {"data": {"processing_info": {
        "state": "failed", "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}}}}))
    with pytest.raises(PermanentError, match="Unsupported video format"):
        connector().publish(request([clip]))
    assert not fake.calls("POST", r"/2/tweets")


def test_429_honours_rate_limit_reset(fake):
    reset = int(time.time()) + 120
    fake.fail_next("POST", r"/2/tweets", Reply(429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                                                     "type": "about:blank", "status": 429},
                                               headers={"x-rate-limit-remaining": "0",
                                                        "x-rate-limit-reset": str(reset)}))
    with pytest.raises(TransientError) as caught:
        connector().publish(request())
    assert 100 < caught.value.retry_after <= 120
    assert "Too Many Requests" in caught.value.message


def test_server_errors_and_timeouts_on_create(fake, settings):
    fake.fail_next("POST", r"/2/tweets", Reply(503, {"title": "Service Unavailable", "detail": "Over capacity"}))
    with pytest.raises(TransientError):
        connector().publish(request())
    fake.fail_next("POST", r"/2/tweets", Reply(500, {"title": "Internal Error", "detail": "Something broke"}))
    with pytest.raises(UnknownOutcome):
        connector().publish(request())
    settings.CONNECTOR_TIMEOUT_SECONDS = 0.5
    fake.fail_next("POST", r"/2/tweets", Reply(201, {}, delay=1.5))
    with pytest.raises(UnknownOutcome):
        connector().publish(request())


def test_refused_token_is_auth_error(fake):
    with pytest.raises(AuthError) as caught:
        connector().publish(request(ref=account(token="revoked")))
    assert caught.value.status == 401


def test_refused_post_keeps_x_words(fake):
    fake.fail_next("POST", r"/2/tweets", Reply(403, {"detail": "You are not permitted to perform this action.",
                                                     "title": "Forbidden", "type": "about:blank", "status": 403}))
    with pytest.raises(PermanentError, match="not permitted"):
        connector().publish(request())


def test_validation_uses_x_weighted_length_and_media_rules(photo, clip):
    c = XConnector()
    assert c.validate(request([photo])) == []
    assert weighted_length("a" * 10) == 10
    assert weighted_length("🔥" * 3) == 6
    assert weighted_length("see https://example.com/a/very/long/path/that/is/long") == 4 + 23
    assert c.validate(request(text="🔥" * 140)) == []
    assert any("counts 282" in p for p in c.validate(request(text="🔥" * 141)))
    assert any("image/bmp is not accepted" in p for p in c.validate(
        request([MediaItem(path="/tmp/a.bmp", mime="image/bmp", size=10)])))
    assert any("single video" in p for p in c.validate(request([photo, clip])))
    big = MediaItem(path="/tmp/big.jpg", mime="image/jpeg", size=6 * 1024 * 1024)
    assert any("5 MB limit" in p for p in c.validate(request([big])))
    assert any("4 allows" in p or "allows 4" in p for p in c.validate(request([photo] * 5)))


def test_lookup_matches_recent_post_despite_media_link(fake, photo):
    c = connector()
    published = c.publish(request([photo]))
    assert fake.state["tweets"][published.external_id]["text"].endswith(published.external_id[-8:])
    found = c.lookup(request([photo]))
    assert found is not None and found.external_id == published.external_id
    timeline = fake.calls("GET", rf"/2/users/{USER_ID}/tweets")[0]
    assert timeline.query["exclude"] == ["replies,retweets"] and "start_time" in timeline.query
    assert c.lookup(request([photo], text="Something else")) is None
    # Without a stored user id the connector asks who the token belongs to.
    assert c.lookup(request(ref=account(external_id=""))) is not None
    assert fake.calls("GET", r"/2/users/me")


def test_unpublish_and_public_metrics(fake):
    c = connector()
    tweet_id = c.publish(request()).external_id
    fake.state["tweets"][tweet_id]["public_metrics"].update(like_count=40, reply_count=3, retweet_count=5,
                                                            impression_count=1200)
    metrics = c.fetch_metrics(account(), tweet_id)
    assert metrics["likes"] == 40 and metrics["comments"] == 3 and metrics["reposts"] == 5
    assert metrics["impressions"] == 1200
    assert c.unpublish(account(), tweet_id) is True
    assert fake.calls("DELETE", rf"/2/tweets/{tweet_id}") and tweet_id not in fake.state["tweets"]
    assert c.unpublish(account(), tweet_id) is False  # X says nothing was deleted


def test_refresh_with_offline_access_token(fake):
    c = connector()
    fresh = c.refresh(account())
    assert fresh["access_token"].startswith("x-access-") and fresh["refresh_token"] != "x-refresh-1"
    assert "offline.access" in fresh["scope"] and fresh["expires_at"]
    grant = fake.calls("POST", r"/2/oauth2/token")[0].form()
    assert grant["grant_type"] == "refresh_token" and grant["refresh_token"] == "x-refresh-1"
    assert grant["client_id"] == CLIENT_ID
    with pytest.raises(AuthError):  # spent: X answers invalid_request
        c.refresh(account())


def test_a_503_is_retried_soon_not_at_the_end_of_the_rate_window(fake):
    """X sends `x-rate-limit-reset` (the window's end, up to 15 minutes away) on every answer; after
    a 503 only an explicit Retry-After delays the retry."""
    fake.fail_next("POST", r"/2/tweets", Reply(503, {"title": "Service Unavailable", "status": 503}))
    with pytest.raises(TransientError) as caught:
        XConnector().publish(request())
    assert caught.value.retry_after is None
    fake.fail_next("POST", r"/2/tweets", Reply(429, {"title": "Too Many Requests", "status": 429},
                                               headers={"x-rate-limit-reset": str(int(time.time()) + 600)}))
    with pytest.raises(TransientError) as caught:
        XConnector().publish(request())
    assert 590 < caught.value.retry_after <= 600
