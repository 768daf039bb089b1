"""The Telegram channel against a local Bot API: what each send looks like on the wire, and which error each
failure becomes (a send that may have gone out is never reported as safe to repeat)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from inbox.channels.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PermanentError,
    SendRequest,
    TransientError,
    UnknownOutcome,
)
from inbox.channels.telegram import TelegramChannel
from tests.inbox.telegram_fake import FakeBotApi, running_bot
from tests.scheduling.fakes.base import Reply
from tests.scheduling.fakes.telegram import tg_error

FAN = 424242


@pytest.fixture
def api(settings) -> Iterator[FakeBotApi]:
    with running_bot(settings) as api:
        api.add_fan(FAN, "sam")
        yield api


@pytest.fixture(autouse=True)
def _no_pacing(monkeypatch) -> None:
    monkeypatch.setattr(TelegramChannel, "per_chat_interval", 0.001)


def account(token: str = FakeBotApi.TOKEN, account_id: int = 9) -> AccountRef:
    return AccountRef(id=account_id, platform="telegram", handle="luna_bot", external_id="", options={},
                      credentials={"bot_token": token})


def request(text: str = "Hi Sam!", media: tuple = (), price: int | None = None, key: str = "msg-key-1",
            acct: AccountRef | None = None, **options) -> SendRequest:
    return SendRequest(idempotency_key=key, account=acct or account(), chat_id=str(FAN), fan_id=str(FAN), text=text,
                       media=media, price_minor=price, currency="XTR" if price is not None else "", options=options)


def jpeg(tmp_path: Path, name: str = "a.jpg") -> MediaItem:
    path = tmp_path / name
    Image.new("RGB", (32, 24), (200, 40, 90)).save(path, "JPEG")
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size)


def mp4(tmp_path: Path) -> MediaItem:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    return MediaItem(path=str(path), mime="video/mp4", size=path.stat().st_size)


def test_text_goes_as_send_message_to_the_fans_private_chat(api):
    result = TelegramChannel().send(request())
    (call,) = api.calls("POST", rf"/bot{FakeBotApi.TOKEN}/sendMessage")
    assert call.json() == {"chat_id": str(FAN), "text": "Hi Sam!"}
    (sent,) = api.sent_to(FAN)
    assert result.external_id == f"{FAN}:{sent['message_id']}"
    assert result.sent_at is not None and result.sent_at.tzinfo is not None


def test_a_photo_and_a_video_are_uploaded_with_their_caption(api, tmp_path):
    photo = jpeg(tmp_path)
    TelegramChannel().send(request(text="For you", media=(photo,)))
    TelegramChannel().send(request(text="And this", media=(mp4(tmp_path),)))
    photo_msg, video_msg = api.sent_to(FAN)
    assert photo_msg["fields"]["caption"] == "For you" and photo_msg["upload"].data == Path(photo.path).read_bytes()
    assert "photo" in photo_msg and "video" in video_msg
    assert video_msg["fields"]["supports_streaming"] == "true"


def test_paid_media_carries_the_price_in_stars_and_the_payload_that_ties_a_purchase_back(api, tmp_path):
    result = TelegramChannel().send(request(text="Unlock me", media=(jpeg(tmp_path),), price=250, message_id=77))
    (sent,) = api.sent_to(FAN)
    assert sent["paid_media"]["star_count"] == 250
    assert sent["payload"] == "msg:77" and sent["caption"] == "Unlock me"
    assert sent["input"][0]["media"] == "attach://file0"
    assert result.external_id == f"{FAN}:{sent['message_id']}"
    # Without a message id the payload is the message's own idempotency key, marked as one.
    TelegramChannel().send(request(media=(jpeg(tmp_path, "b.jpg"),), price=5, key="k-pay"))
    assert api.sent_to(FAN)[-1]["payload"] == "key:k-pay"


@pytest.mark.parametrize("case", ["no media", "too many stars", "caption too long", "euros"])
def test_what_telegram_would_refuse_is_refused_before_anything_leaves(api, tmp_path, case):
    photo = jpeg(tmp_path)
    bad = {"no media": request(price=10),
           "too many stars": request(media=(photo,), price=25_001),
           "caption too long": request(text="x" * 1025, media=(photo,)),
           "euros": SendRequest(idempotency_key="k", account=account(), chat_id=str(FAN), fan_id=str(FAN),
                                text="", media=(photo,), price_minor=500, currency="EUR")}[case]
    with pytest.raises(PermanentError):
        TelegramChannel().send(bad)
    assert api.requests == []


def test_flood_control_is_transient_with_telegrams_wait(api):
    api.fail_next("POST", r"/bot.*/sendMessage", tg_error(429, "Too Many Requests: retry after 23", retry_after=23))
    with pytest.raises(TransientError) as caught:
        TelegramChannel().send(request())
    assert caught.value.retry_after == 23 and caught.value.status == 429
    assert api.sent_to(FAN) == []


def test_a_gateway_error_is_transient_but_a_500_after_sending_is_unknown(api):
    api.fail_next("POST", r"/bot.*/sendMessage", tg_error(502, "Bad Gateway"))
    with pytest.raises(TransientError):
        TelegramChannel().send(request())
    api.fail_next("POST", r"/bot.*/sendMessage", tg_error(500, "Internal Server Error"))
    with pytest.raises(UnknownOutcome):
        TelegramChannel().send(request())


def test_a_timeout_after_sending_is_unknown_and_cannot_be_looked_up(api):
    api.fail_next("POST", r"/bot.*/sendMessage", Reply(200, {"ok": True}, delay=1.5))
    channel = TelegramChannel()
    with pytest.raises(UnknownOutcome):
        channel.send(request())
    with pytest.raises(UnknownOutcome, match="cannot read a private chat back"):
        channel.lookup_sent(request())


def test_a_fan_who_blocked_the_bot_is_permanent_not_an_auth_problem(api):
    api.blocked.add(str(FAN))
    with pytest.raises(PermanentError) as caught:
        TelegramChannel().send(request())
    assert not isinstance(caught.value, AuthError)
    assert "blocked" in str(caught.value)


def test_a_revoked_token_is_an_auth_error_that_does_not_leak_it(api):
    with pytest.raises(AuthError) as caught:
        TelegramChannel().send(request(acct=account(token="999:revoked-secret")))
    assert "revoked-secret" not in str(caught.value)


def test_a_second_send_to_one_chat_within_a_second_waits_before_leaving(api, monkeypatch):
    monkeypatch.setattr(TelegramChannel, "per_chat_interval", 30.0)
    channel = TelegramChannel()
    channel.send(request(acct=account(account_id=9001)))
    with pytest.raises(TransientError) as caught:
        channel.send(request(text="again", acct=account(account_id=9001)))
    assert 0 < caught.value.retry_after <= 30
    assert len(api.sent_to(FAN)) == 1
    api.add_fan(515151)  # another chat of the same bot is not held back
    channel.send(SendRequest(idempotency_key="k2", account=account(account_id=9001), chat_id="515151",
                             fan_id="515151", text="hello"))


def test_updates_come_by_webhook_only(api):
    page = TelegramChannel().fetch_updates(account(), None)
    assert page.messages == [] and page.cursor is None
    assert api.requests == []
