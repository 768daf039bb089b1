"""The Fanvue chat channel against a local server speaking Fanvue's chat wire format: the agency send route,
Fanvue's body rules, media through the vault upload, rate-limit buckets and 429s, a send whose answer never
comes (unknown, then found by reading the chat back), a send that never left (transient), and
reconciliation that reads only the chats that changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from inbox.channels import channel_for
from inbox.channels.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PermanentError,
    SendRequest,
    TransientError,
    UnknownOutcome,
)
from inbox.channels.fanvue import FanvueChannel
from tests.inbox.fanvue_fake import AGENCY_CREATOR, FakeFanvueChats, iso, refused_url
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.fanvue import API_VERSION

FAN = "5939ae62-3eb5-4433-954f-f78c7b4282f3"


def fan_uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
def fake(settings):
    with serve(FakeFanvueChats()) as platform:
        settings.FANVUE_API_URL = platform.url
        settings.FANVUE_UPLOAD_PART_BYTES = 1024
        settings.FANVUE_MEDIA_POLL_SECONDS = 0
        settings.CONNECTOR_TIMEOUT_SECONDS = 5
        yield platform


def account(agency: bool = True, token: str = "fv-access-1") -> AccountRef:  # noqa: S107 — the fake's token
    return AccountRef(id=1, platform="fanvue", handle="luna", external_id="",
                      options={"creator_uuid": AGENCY_CREATOR} if agency else {},
                      credentials={"access_token": token, "refresh_token": "fv-refresh-1"})


def request(text: str = "Thanks for subscribing!", *, ref: AccountRef | None = None, fan: str = FAN,
            **kw) -> SendRequest:
    return SendRequest(idempotency_key="9f3c0e1a-0000-4000-8000-000000000001", account=ref or account(),
                       chat_id=fan, fan_id=fan, text=text, **kw)


@pytest.fixture
def photo(tmp_path: Path) -> MediaItem:
    path = tmp_path / "ppv-01.jpg"
    Image.effect_noise((64, 64), 80).convert("RGB").save(path, "JPEG", quality=95)
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size)


def test_the_registry_resolves_the_fanvue_channel():
    assert isinstance(channel_for("fanvue"), FanvueChannel)


def test_send_goes_through_the_agency_route_with_fanvue_s_body(fake):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    fake.state["vault"].add("3fa85f64-5717-4562-b3fc-2c963f66afa6")
    result = FanvueChannel().send(request("Just for you", media_ids=("3fa85f64-5717-4562-b3fc-2c963f66afa6",),
                                          price_minor=999, currency="USD",
                                          template_id="1c2d3e4f-5717-4562-b3fc-2c963f66afa6"))

    [call] = fake.calls("POST", rf"/creators/{AGENCY_CREATOR}/chats/{FAN}/message")
    assert call.json() == {"text": "Just for you", "mediaUuids": ["3fa85f64-5717-4562-b3fc-2c963f66afa6"],
                           "price": 999, "templateUuid": "1c2d3e4f-5717-4562-b3fc-2c963f66afa6"}
    assert call.headers["authorization"] == "Bearer fv-access-1"
    assert call.headers["x-fanvue-api-version"] == API_VERSION
    sent = fake.messages(FAN, AGENCY_CREATOR)[-1]
    assert result.external_id == sent["uuid"] and sent["pricing"] == {"USD": {"price": 999}}
    assert result.sent_at is not None


def test_a_creator_s_own_token_sends_on_her_own_route(fake):
    fake.fan_writes(FAN, "hey")
    FanvueChannel().send(request(ref=account(agency=False)))
    assert fake.calls("POST", rf"/chats/{FAN}/message")
    assert not fake.calls("POST", r"/creators/.+")


def test_files_not_in_the_vault_are_uploaded_first(fake, photo):
    fake.fan_writes(FAN, "show me", owner=AGENCY_CREATOR)
    FanvueChannel().send(request("Unlock it", media=(photo,), price_minor=1500))
    assert fake.calls("POST", rf"/creators/{AGENCY_CREATOR}/media/uploads")
    uploaded = next(iter(fake.state["uploads"].values()))
    assert uploaded["data"] == Path(photo.path).read_bytes()
    body = fake.calls("POST", rf"/creators/{AGENCY_CREATOR}/chats/{FAN}/message")[0].json()
    assert body["mediaUuids"] == [uploaded["media"]] and body["price"] == 1500


@pytest.mark.parametrize(("kw", "words"), [
    ({"text": "x" * 5001}, "5001 characters"),
    ({"text": "Cheap", "price_minor": 299}, "lowest message price is 3.00 USD"),
    ({"text": "Euro", "price_minor": 500, "currency": "EUR"}, "US dollars"),
    ({"text": "  "}, "needs text, media or a template"),
])
def test_what_fanvue_would_refuse_is_refused_before_any_request(fake, kw, words):
    with pytest.raises(PermanentError) as caught:
        FanvueChannel().send(request(**kw))
    assert words in caught.value.message
    assert not fake.requests


def test_a_429_is_transient_with_fanvue_s_wait(fake):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    fake.spend(f"creator:{AGENCY_CREATOR}", reset_in=37)
    with pytest.raises(TransientError) as caught:
        FanvueChannel().send(request())
    assert caught.value.status == 429 and 30 <= caught.value.retry_after <= 37
    assert len(fake.messages(FAN, AGENCY_CREATOR)) == 1  # nothing sent


def test_each_creator_has_its_own_bucket_beside_the_user_s(fake):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    fake.spend("user")
    FanvueChannel().send(request())  # the creator route draws on the creator's bucket
    answer = fake.calls("POST", rf"/creators/{AGENCY_CREATOR}/chats/{FAN}/message")
    assert answer and fake.state["buckets"][f"creator:{AGENCY_CREATOR}"]["left"] == 199
    with pytest.raises(TransientError):
        FanvueChannel().send(request(ref=account(agency=False)))


def test_a_window_spent_by_the_uploads_stops_before_the_send(fake, photo):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    fake.spend(f"creator:{AGENCY_CREATOR}", left=6, reset_in=50)  # the upload itself uses the rest
    with pytest.raises(TransientError) as caught:
        FanvueChannel().send(request(media=(photo,)))
    assert 40 <= caught.value.retry_after <= 50
    assert not fake.calls("POST", rf"/creators/{AGENCY_CREATOR}/chats/{FAN}/message")


def test_a_refused_token_is_an_auth_error(fake):
    with pytest.raises(AuthError) as caught:
        FanvueChannel().send(request(ref=account(token="revoked")))
    assert caught.value.status == 401


def test_server_errors_on_the_send(fake):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    fake.fail_next("POST", r".*/message", Reply(503, {"error": "Service Unavailable", "message": "later"}))
    with pytest.raises(TransientError):
        FanvueChannel().send(request())
    fake.fail_next("POST", r".*/message", Reply(500, {"error": "Internal Server Error", "message": "oops"}))
    with pytest.raises(UnknownOutcome):
        FanvueChannel().send(request())


def test_a_send_that_never_left_is_transient(fake, settings):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    settings.FANVUE_API_URL = refused_url()
    with pytest.raises(TransientError):
        FanvueChannel().send(request())
    settings.FANVUE_API_URL = fake.url
    assert not fake.calls("POST", r".*/message")
    FanvueChannel().send(request())
    assert len(fake.messages(FAN, AGENCY_CREATOR)) == 2


def test_an_accepted_send_whose_answer_never_came_is_unknown_and_found_by_reading_the_chat(fake, settings):
    fake.fan_writes(FAN, "are you there?", owner=AGENCY_CREATOR)
    settings.CONNECTOR_TIMEOUT_SECONDS = 0.5
    fake.state["stall_sends"] = 1.5
    queued_at = iso(datetime.now(UTC))
    with pytest.raises(UnknownOutcome):
        FanvueChannel().send(request("I'm here", options={"not_before": queued_at}))
    fake.state["stall_sends"] = 0
    stored = fake.messages(FAN, AGENCY_CREATOR)[-1]
    assert stored["text"] == "I'm here"  # Fanvue took it

    found = FanvueChannel().lookup_sent(request("I'm here", options={"not_before": queued_at}))
    assert found is not None and found.external_id == stored["uuid"]
    reads = fake.calls("GET", rf"/creators/{AGENCY_CREATOR}/chats/{FAN}/messages")
    assert reads[-1].query["markAsRead"] == ["false"]
    assert fake.messages(FAN, AGENCY_CREATOR)[0]["isRead"] is False  # reading back hid nothing from the creator
    # Another text, or the same text with a price, was never sent.
    assert FanvueChannel().lookup_sent(request("Something else", options={"not_before": queued_at})) is None
    assert FanvueChannel().lookup_sent(request("I'm here", price_minor=500,
                                               options={"not_before": queued_at})) is None


def test_a_lookup_that_cannot_see_back_far_enough_stays_unknown(fake):
    queued_at = datetime.now(UTC) - timedelta(hours=1)
    for n in range(55):
        fake.fan_writes(FAN, f"message {n}", owner=AGENCY_CREATOR)
    with pytest.raises(UnknownOutcome):
        FanvueChannel().lookup_sent(request("lost in the noise", options={"not_before": iso(queued_at)}))


def test_mark_read_patches_the_chat(fake):
    fake.fan_writes(FAN, "hey", owner=AGENCY_CREATOR)
    FanvueChannel().mark_read(account(), FAN, FAN)
    [call] = fake.calls("PATCH", rf"/creators/{AGENCY_CREATOR}/chats/{FAN}")
    assert call.json() == {"isRead": True}
    assert fake.messages(FAN, AGENCY_CREATOR)[0]["isRead"] is True


# --- Reconciliation --------------------------------------------------------------------------------------


def test_reconciliation_reads_only_changed_chats_in_batches(fake):
    earlier = datetime.now(UTC) - timedelta(hours=2)
    quiet = fan_uuid(999)
    fake.fan_writes(quiet, "long ago", at=earlier - timedelta(days=3))
    fake.welcome(fan_uuid(0), at=earlier)
    for n in range(60):  # two pages of unread chats, two batches
        fake.fan_writes(fan_uuid(n), f"hello {n}", at=earlier + timedelta(minutes=n + 1))
    channel = FanvueChannel()

    page = channel.fetch_updates(account(agency=False), None)

    texts = {m.text for m in page.messages}
    assert {f"hello {n}" for n in range(60)} <= texts and "long ago" not in texts
    assert [m.sent_at for m in page.messages] == sorted(m.sent_at for m in page.messages)
    welcome = next(m for m in page.messages if m.text == "Welcome to my page!")
    assert (welcome.direction, welcome.automated, welcome.fan_id) == ("out", True, fan_uuid(0))
    hello = next(m for m in page.messages if m.text == "hello 7")
    assert (hello.direction, hello.automated, hello.fan_id, hello.chat_id) == ("in", False, fan_uuid(7),
                                                                               fan_uuid(7))
    batches = fake.calls("POST", r"/chats/messages/batch")
    assert [len(b.json()["chatUuids"]) for b in batches] == [50, 10]
    assert all(quiet not in b.json()["chatUuids"] for b in batches)
    assert not fake.calls("GET", r"/chats/.+/messages")  # never one request per chat
    listed = fake.calls("GET", r"/chats")
    assert {c.query["filter"][0] for c in listed} == {"unread", "not_answered"}
    assert all(c.query["sortBy"] == ["most_recent_messages"] for c in listed)
    assert all(not m["isRead"] for m in fake.messages(fan_uuid(3)))

    # The next run reads only what changed since.
    fake.requests.clear()
    fake.fan_writes(fan_uuid(5), "one more")
    again = channel.fetch_updates(account(agency=False), page.cursor)
    assert fan_uuid(5) in {m.fan_id for m in again.messages}
    # (and the newest chats of the last run again, read within the overlap, whose messages are known)
    [batch] = fake.calls("POST", r"/chats/messages/batch")
    assert batch.json()["chatUuids"][0] == fan_uuid(5) and len(batch.json()["chatUuids"]) <= 3
    # Nothing new: no batch, and the cursor is kept.
    fake.requests.clear()
    idle = channel.fetch_updates(account(agency=False), again.cursor)
    assert idle.messages == [] and idle.cursor is None and not fake.calls("POST", r"/chats/messages/batch")


def test_priced_and_bought_messages_come_back_with_their_price(fake):
    fake.fan_writes(FAN, "what's new?")
    sold = fake.creator_writes(FAN, "Unlock me", mediaUuids=["3fa85f64-5717-4562-b3fc-2c963f66afa6"], price=1200,
                               purchasedAt=iso(datetime.now(UTC)), isRead=True)
    fake.fan_writes(FAN, "bought it")
    page = FanvueChannel().fetch_updates(account(agency=False), None)
    ppv = next(m for m in page.messages if m.external_id == sold["uuid"])
    assert (ppv.price_minor, ppv.currency, ppv.purchased, ppv.read, ppv.direction) == (1200, "USD", True, True, "out")
    assert ppv.media == ({"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "type": "image"},)


def test_an_agency_reads_each_changed_chat_without_marking_it_read(fake):
    fake.fan_writes(FAN, "hi from an agency fan", owner=AGENCY_CREATOR)
    fake.fan_writes(fan_uuid(1), "old", owner=AGENCY_CREATOR, at=datetime.now(UTC) - timedelta(days=5))
    page = FanvueChannel().fetch_updates(account(), None)
    assert [m.text for m in page.messages] == ["hi from an agency fan"]
    reads = fake.calls("GET", rf"/creators/{AGENCY_CREATOR}/chats/.+/messages")
    assert [r.path.rsplit("/", 2)[1] for r in reads] == [FAN]
    assert all(r.query["markAsRead"] == ["false"] for r in reads)
    assert not fake.calls("POST", r"/chats/messages/batch")
    assert fake.messages(FAN, AGENCY_CREATOR)[0]["isRead"] is False


def test_a_long_walk_resumes_on_the_next_run(fake, monkeypatch):
    from inbox.channels import fanvue

    monkeypatch.setattr(fanvue, "MAX_CHAT_PAGES", 1)
    for n in range(70):
        fake.fan_writes(fan_uuid(n), f"hello {n}")
    channel = FanvueChannel()
    first = channel.fetch_updates(account(agency=False), None)
    second = channel.fetch_updates(account(agency=False), first.cursor)
    seen = {m.text for m in first.messages} | {m.text for m in second.messages}
    assert seen == {f"hello {n}" for n in range(70)}
    assert '"resume"' in first.cursor and '"resume"' not in second.cursor
