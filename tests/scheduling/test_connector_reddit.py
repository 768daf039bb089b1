from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from scheduling.connectors import reddit as reddit_module
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PermanentError,
    PublishRequest,
    TransientError,
    UnknownOutcome,
)
from scheduling.connectors.reddit import RedditConnector
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.reddit import FakeReddit, parse_multipart, rate_headers


@pytest.fixture
def fake(settings) -> Iterator[FakeReddit]:
    with serve(FakeReddit()) as platform:
        settings.REDDIT_API_URL = platform.url
        settings.REDDIT_AUTH_URL = platform.url
        settings.REDDIT_CLIENT_ID = FakeReddit.CLIENT_ID
        settings.REDDIT_CLIENT_SECRET = FakeReddit.CLIENT_SECRET
        settings.REDDIT_USER_AGENT = "web:atelier-tests:1.0 (by /u/atelier-agency)"
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        reddit_module._windows.clear()
        yield platform
    reddit_module._windows.clear()


def jpeg(tmp_path: Path, name: str = "a.jpg") -> MediaItem:
    path = tmp_path / name
    Image.new("RGB", (64, 48), (200, 30, 90)).save(path, "JPEG")
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size, alt="a red square")


def account(token: str = "good-token", **options) -> AccountRef:  # noqa: S107
    return AccountRef(id=7, platform="reddit", handle="u/atelier_creator", external_id="t2_abc",
                      options={"subreddit": "r/atelier_test", **options},
                      credentials={"access_token": token, "refresh_token": "refresh-1"})


def request(text: str = "Morning light\nShot on film.", media: tuple = (), rating: str = "sfw",
            acct: AccountRef | None = None, **options) -> PublishRequest:
    acct = acct or account()
    return PublishRequest(idempotency_key="k1", account=acct, text=text, media=media, rating=rating,
                          options={**acct.options, "post_id": 1, "publication_id": 2, **options})


def test_image_post_goes_through_the_upload_lease_and_is_marked_nsfw(fake, tmp_path):
    item = jpeg(tmp_path)
    req = request(media=(item,), rating="explicit", acct=account(flair_id="f-123", flair_text="OC"))

    result = RedditConnector().publish(req)

    lease = fake.calls("POST", r"/api/media/asset\.json")[0].form()
    assert lease == {"filepath": "a.jpg", "mimetype": "image/jpeg"}
    upload = parse_multipart(fake.calls("POST", "/bucket")[0])
    assert [p.name for p in upload][-1] == "file"
    assert upload[-1].data == Path(item.path).read_bytes()
    assert "authorization" not in fake.calls("POST", "/bucket")[0].headers
    submitted = fake.calls("POST", "/api/submit")[0]
    assert submitted.headers["authorization"] == "bearer good-token"
    assert "(by /u/" in submitted.headers["user-agent"]
    form = submitted.form()
    assert form["kind"] == "image" and form["sr"] == "atelier_test" and form["api_type"] == "json"
    assert form["nsfw"] == "true" and form["flair_id"] == "f-123" and form["flair_text"] == "OC"
    assert form["title"] == "Morning light"
    assert form["url"].startswith("https://reddit-uploaded-media.s3-accelerate.amazonaws.com/rte_images/")
    # The image answer has no id: the post is found in the account's submissions.
    assert result.external_id.startswith("t3_")
    assert result.url.startswith("https://www.reddit.com/r/atelier_test/comments/")


def test_self_post_uses_the_first_line_as_title_and_the_rest_as_body(fake):
    result = RedditConnector().publish(request(rating="sfw"))

    form = fake.calls("POST", "/api/submit")[0].form()
    assert form["kind"] == "self" and form["title"] == "Morning light" and form["text"] == "Shot on film."
    assert form["nsfw"] == "false" and "flair_id" not in form
    assert result.external_id == fake.posts[result.external_id]["name"]


def test_suggestive_is_nsfw_and_an_explicit_title_keeps_the_whole_caption(fake):
    RedditConnector().publish(request(rating="suggestive", title="A title"))
    form = fake.calls("POST", "/api/submit")[0].form()
    assert form["nsfw"] == "true" and form["title"] == "A title" and form["text"].startswith("Morning light")


def test_refusal_inside_a_200_body_is_permanent(fake):
    with pytest.raises(PermanentError, match="SUBREDDIT_NOEXIST"):
        RedditConnector().publish(request(acct=account(subreddit="nope")))


def test_ratelimit_inside_a_200_body_is_transient_with_the_wait(fake):
    fake.fail_next("POST", "/api/submit", Reply(200, {"json": {"errors": [
        ["RATELIMIT", "Looks like you've been doing that a lot. Take a break for 5 minutes.", "ratelimit"]],
        "ratelimit": 287.5}}))
    with pytest.raises(TransientError) as caught:
        RedditConnector().publish(request())
    assert caught.value.retry_after == 287.5


def test_http_429_is_transient_with_reset_header(fake):
    fake.fail_next("POST", "/api/submit", Reply(429, {"message": "Too Many Requests", "error": 429},
                                                 headers=rate_headers(remaining=0, used=600, reset=42)))
    with pytest.raises(TransientError) as caught:
        RedditConnector().publish(request())
    assert caught.value.retry_after == 42


def test_a_spent_window_is_waited_out_before_the_create_call(fake, tmp_path):
    fake.rate = rate_headers(remaining=0.0, used=600, reset=120)
    with pytest.raises(TransientError) as caught:
        RedditConnector().publish(request(media=(jpeg(tmp_path),)))
    assert 100 < caught.value.retry_after <= 120
    assert fake.calls("POST", "/api/submit") == []


def test_server_error_on_submit_may_have_posted(fake):
    fake.fail_next("POST", "/api/submit", Reply(500, {"message": "Internal Server Error", "error": 500}))
    with pytest.raises(UnknownOutcome):
        RedditConnector().publish(request())


def test_503_on_submit_is_transient(fake):
    fake.fail_next("POST", "/api/submit", Reply(503, "<html>all our servers are busy</html>"))
    with pytest.raises(TransientError):
        RedditConnector().publish(request())


def test_read_timeout_on_submit_is_unknown_outcome(fake):
    fake.fail_next("POST", "/api/submit", Reply(200, {}, delay=1.6))
    with pytest.raises(UnknownOutcome):
        RedditConnector().publish(request())


def test_refused_token_is_auth_error(fake):
    with pytest.raises(AuthError):
        RedditConnector().publish(request(acct=account(token="expired")))


def test_validation(fake, tmp_path):
    connector = RedditConnector()
    assert connector.validate(request()) == []
    video = MediaItem(path="v.mp4", mime="video/mp4", size=1000)
    problems = connector.validate(request(text="x" * 301, media=(jpeg(tmp_path), video),
                                          acct=AccountRef(id=1, platform="reddit", handle="u/a", external_id="",
                                                          options={}, credentials={})))
    text = " ".join(problems)
    assert "subreddit" in text and "2 media" in text and "video/mp4" in text
    # A first line over 300 characters is cut, so only an explicit title can be too long.
    assert connector.validate(request(title="t" * 301))[0].startswith("The title has 301")


def test_lookup_finds_the_post_by_title(fake):
    published = RedditConnector().publish(request())
    found = RedditConnector().lookup(request())
    assert found is not None and found.external_id == published.external_id
    assert RedditConnector().lookup(request(text="Another title")) is None


def test_unpublish_and_metrics(fake):
    published = RedditConnector().publish(request())
    fake.posts[published.external_id].update(score=41, num_comments=3, upvote_ratio=0.93)

    assert RedditConnector().fetch_metrics(account(), published.external_id) == {
        "score": 41, "num_comments": 3, "upvote_ratio_pct": 93}
    assert RedditConnector().unpublish(account(), published.external_id) is True
    assert fake.calls("POST", "/api/del")[0].form() == {"id": published.external_id}
    assert RedditConnector().fetch_metrics(account(), published.external_id) == {}


def test_refresh_uses_basic_client_auth(fake):
    creds = RedditConnector().refresh(account())
    assert creds["access_token"] == "fresh-token" and creds["refresh_token"] == "refresh-1"
    assert creds["expires_at"]
    sent = fake.calls("POST", "/api/v1/access_token")[0].form()
    assert sent == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}


def test_refresh_with_a_revoked_token_needs_reconnection(fake):
    revoked = AccountRef(id=7, platform="reddit", handle="u/a", external_id="", options={},
                         credentials={"access_token": "x", "refresh_token": "revoked"})
    with pytest.raises(AuthError) as caught:
        RedditConnector().refresh(revoked)
    assert "revoked" not in str(caught.value)
