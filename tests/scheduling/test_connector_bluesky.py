from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from scheduling.connectors import bluesky as bluesky_module
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PublishRequest,
    TransientError,
    UnknownOutcome,
)
from scheduling.connectors.bluesky import BlueskyConnector, record_key
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.bluesky import TID, FakeBluesky, xrpc_error


@pytest.fixture
def fake(settings) -> Iterator[FakeBluesky]:
    bluesky_module._sessions.clear()
    with serve(FakeBluesky()) as platform:
        settings.BLUESKY_PDS_URL = platform.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        yield platform
    bluesky_module._sessions.clear()


def jpeg(tmp_path: Path, name: str, size: tuple[int, int] = (64, 48)) -> MediaItem:
    path = tmp_path / name
    Image.new("RGB", size, (90, 160, 30)).save(path, "JPEG")
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size, alt=f"alt for {name}")


def account(fake: FakeBluesky, password: str = FakeBluesky.PASSWORD, **options) -> AccountRef:
    return AccountRef(id=5, platform="bluesky", handle=FakeBluesky.HANDLE, external_id=FakeBluesky.DID,
                      options=options,
                      credentials={"identifier": FakeBluesky.HANDLE, "app_password": password})


def request(fake: FakeBluesky, text: str = "New set ✨ #photography https://example.com/set.", media: tuple = (),
            rating: str = "sfw", key: str = "idem-1", acct: AccountRef | None = None) -> PublishRequest:
    acct = acct or account(fake)
    return PublishRequest(idempotency_key=key, account=acct, text=text, media=media, rating=rating,
                          options={**acct.options, "post_id": 1, "publication_id": 1})


def test_explicit_post_with_images_self_labels_and_facets(fake, tmp_path):
    items = (jpeg(tmp_path, "a.jpg"), jpeg(tmp_path, "b.jpg", (30, 60)))
    acct = account(fake, langs=["en"])
    result = BlueskyConnector().publish(request(fake, media=items, rating="explicit", acct=acct))

    uploads = fake.calls("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")
    assert [u.body for u in uploads] == [Path(i.path).read_bytes() for i in items]
    assert {u.headers["content-type"] for u in uploads} == {"image/jpeg"}
    assert uploads[0].headers["authorization"] == "Bearer access-1"

    sent = fake.calls("POST", r"/xrpc/com\.atproto\.repo\.createRecord")[0].json()
    rkey = record_key("idem-1")
    assert sent["repo"] == FakeBluesky.DID and sent["collection"] == "app.bsky.feed.post" and sent["rkey"] == rkey
    assert TID.match(rkey)
    record = sent["record"]
    assert record["$type"] == "app.bsky.feed.post" and record["createdAt"].endswith("Z")
    assert record["labels"] == {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "porn"}]}
    assert record["langs"] == ["en"]
    images = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in images] == ["alt for a.jpg", "alt for b.jpg"]
    assert [i["aspectRatio"] for i in images] == [{"width": 64, "height": 48}, {"width": 30, "height": 60}]
    assert images[0]["image"]["ref"]["$link"] in fake.blobs
    # Facets address UTF-8 bytes: "✨" is 3 bytes, so offsets differ from character positions.
    text = record["text"].encode()
    spans = {f["features"][0]["$type"].split("#")[1]: text[f["index"]["byteStart"]:f["index"]["byteEnd"]]
             for f in record["facets"]}
    assert spans == {"tag": b"#photography", "link": b"https://example.com/set"}
    assert result.external_id == f"at://{FakeBluesky.DID}/app.bsky.feed.post/{rkey}"
    assert result.url == f"https://bsky.app/profile/{FakeBluesky.HANDLE}/post/{rkey}"


@pytest.mark.parametrize(("rating", "options", "label"), [
    ("suggestive", {}, "sexual"), ("suggestive", {"suggestive_label": "nudity"}, "nudity"), ("sfw", {}, None)])
def test_rating_to_self_label(fake, rating, options, label):
    BlueskyConnector().publish(request(fake, rating=rating, acct=account(fake, **options)))
    record = fake.calls("POST", r"/xrpc/com\.atproto\.repo\.createRecord")[0].json()["record"]
    assert record.get("labels", {}).get("values", [{}])[0].get("val") == label


def test_session_is_reused_and_refreshed_once_when_expired(fake):
    connector = BlueskyConnector()
    connector.publish(request(fake, key="one"))
    fake.expire_access_tokens()
    connector.publish(request(fake, key="two"))

    assert len(fake.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")) == 1
    refreshes = fake.calls("POST", r"/xrpc/com\.atproto\.server\.refreshSession")
    assert len(refreshes) == 1 and refreshes[0].headers["authorization"] == "Bearer refresh-1"
    creates = fake.calls("POST", r"/xrpc/com\.atproto\.repo\.createRecord")
    assert [c.headers["authorization"] for c in creates] == ["Bearer access-1", "Bearer access-1", "Bearer access-2"]
    assert len(fake.records) == 2


def test_refused_refresh_token_falls_back_to_the_app_password(fake):
    BlueskyConnector().publish(request(fake, key="one"))
    fake.expire_access_tokens()
    fake.refresh.clear()
    BlueskyConnector().publish(request(fake, key="two"))
    assert len(fake.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")) == 2
    assert len(fake.records) == 2


def test_wrong_app_password_is_auth_error(fake):
    with pytest.raises(AuthError) as caught:
        BlueskyConnector().publish(request(fake, acct=account(fake, password="nope-nope")))
    assert "nope-nope" not in str(caught.value)


def test_rate_limited_create_waits_for_the_reset(fake):
    reset = str(int(time.time()) + 120)
    fake.fail_next("POST", r"/xrpc/com\.atproto\.repo\.createRecord",
                   xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", {"ratelimit-reset": reset,
                                                                                "ratelimit-remaining": "0"}))
    with pytest.raises(TransientError) as caught:
        BlueskyConnector().publish(request(fake))
    assert 100 < caught.value.retry_after <= 120


def test_server_error_on_create_may_have_posted(fake):
    fake.fail_next("POST", r"/xrpc/com\.atproto\.repo\.createRecord",
                   xrpc_error(500, "InternalServerError", "Internal Server Error"))
    with pytest.raises(UnknownOutcome):
        BlueskyConnector().publish(request(fake))


def test_read_timeout_on_create_is_unknown_outcome(fake):
    fake.fail_next("POST", r"/xrpc/com\.atproto\.repo\.createRecord", Reply(200, {}, delay=1.6))
    with pytest.raises(UnknownOutcome):
        BlueskyConnector().publish(request(fake))


def test_a_retried_publish_finds_its_own_record_instead_of_posting_twice(fake):
    first = BlueskyConnector().publish(request(fake))
    again = BlueskyConnector().publish(request(fake))
    assert again.external_id == first.external_id
    assert len(fake.records) == 1


def test_lookup_by_record_key(fake):
    assert BlueskyConnector().lookup(request(fake)) is None
    published = BlueskyConnector().publish(request(fake))
    found = BlueskyConnector().lookup(request(fake))
    assert found is not None and found.external_id == published.external_id


def test_validation_counts_graphemes_and_image_bytes(fake, tmp_path):
    connector = BlueskyConnector()
    accented = "e\u0301"  # one grapheme, two code points
    assert connector.validate(request(fake, text=accented * 300)) == []
    assert "3000-byte" in connector.validate(request(fake, text="👨‍👩‍👧" * 200))[0]
    assert "301 characters" in connector.validate(request(fake, text="x" * 301))[0]
    big = MediaItem(path="x.jpg", mime="image/jpeg", size=1_200_000)
    problems = connector.validate(request(fake, media=(big,) * 5))
    assert any("5 media" in p for p in problems) and any("1,000,000-byte" in p for p in problems)
    assert any("video/mp4" in p for p in connector.validate(
        request(fake, media=(MediaItem(path="v.mp4", mime="video/mp4", size=10),))))


def test_unpublish_and_metrics(fake):
    published = BlueskyConnector().publish(request(fake))
    fake.counts[published.external_id] = {"likeCount": 12, "repostCount": 3, "replyCount": 2, "quoteCount": 1}

    assert BlueskyConnector().fetch_metrics(account(fake), published.external_id) == {
        "likeCount": 12, "repostCount": 3, "replyCount": 2, "quoteCount": 1}
    assert BlueskyConnector().unpublish(account(fake), published.external_id) is True
    assert fake.calls("POST", r"/xrpc/com\.atproto\.repo\.deleteRecord")[0].json() == {
        "repo": FakeBluesky.DID, "collection": "app.bsky.feed.post", "rkey": record_key("idem-1")}
    assert fake.records == {}
    assert BlueskyConnector().fetch_metrics(account(fake), published.external_id) == {}


def test_refresh_hands_back_session_tokens(fake):
    creds = BlueskyConnector().refresh(account(fake))
    assert creds["did"] == FakeBluesky.DID and creds["accessJwt"] == "access-2" and creds["refreshJwt"] == "refresh-2"
    assert creds["app_password"] == FakeBluesky.PASSWORD
