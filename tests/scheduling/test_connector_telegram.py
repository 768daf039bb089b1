from __future__ import annotations

from collections.abc import Iterator
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
from scheduling.connectors.telegram import TelegramConnector
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.telegram import FakeTelegram, tg_error


@pytest.fixture
def fake(settings) -> Iterator[FakeTelegram]:
    with serve(FakeTelegram()) as platform:
        settings.TELEGRAM_API_URL = platform.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        yield platform


def jpeg(tmp_path: Path, name: str, colour: tuple[int, int, int] = (10, 120, 200)) -> MediaItem:
    path = tmp_path / name
    Image.new("RGB", (40, 30), colour).save(path, "JPEG")
    return MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size)


def account(token: str = FakeTelegram.TOKEN, **options) -> AccountRef:
    return AccountRef(id=3, platform="telegram", handle="@atelier_channel", external_id="",
                      options={"chat_id": "@atelier_channel", **options}, credentials={"bot_token": token})


def request(text: str = "New set is up", media: tuple = (), rating: str = "sfw", acct: AccountRef | None = None,
            price_minor: int | None = None) -> PublishRequest:
    acct = acct or account()
    return PublishRequest(idempotency_key="k", account=acct, text=text, media=media, rating=rating,
                          price_minor=price_minor, currency="EUR" if price_minor else "",
                          options={**acct.options, "post_id": 1, "publication_id": 1})


def test_one_explicit_photo_is_uploaded_with_a_spoiler(fake, tmp_path):
    item = jpeg(tmp_path, "one.jpg")
    result = TelegramConnector().publish(request(media=(item,), rating="explicit"))

    sent = fake.messages[int(result.external_id)]
    assert sent["fields"] == {"chat_id": "@atelier_channel", "caption": "New set is up", "has_spoiler": "true"}
    assert sent["upload"].data == Path(item.path).read_bytes()
    assert sent["upload"].content_type == "image/jpeg"
    assert result.url == f"https://t.me/atelier_channel/{result.external_id}"
    assert fake.calls("POST", rf"/bot{FakeTelegram.TOKEN}/sendPhoto")


def test_several_items_go_as_a_media_group_with_attach_references(fake, tmp_path):
    items = tuple(jpeg(tmp_path, f"{i}.jpg", (i * 40, 10, 10)) for i in range(3))
    result = TelegramConnector().publish(request(media=items, rating="sfw"))

    ids = [int(i) for i in result.external_id.split(",")]
    assert len(ids) == 3
    inputs = [fake.messages[i]["input"] for i in ids]
    assert [m["media"] for m in inputs] == ["attach://file0", "attach://file1", "attach://file2"]
    assert [m["file"].data for m in inputs] == [Path(i.path).read_bytes() for i in items]
    assert inputs[0]["caption"] == "New set is up" and "caption" not in inputs[1]
    assert not any("has_spoiler" in m for m in inputs)


def test_suggestive_media_group_hides_every_item(fake, tmp_path):
    items = (jpeg(tmp_path, "a.jpg"), jpeg(tmp_path, "b.jpg"))
    result = TelegramConnector().publish(request(media=items, rating="suggestive"))
    assert all(fake.messages[int(i)]["input"]["has_spoiler"] is True for i in result.external_id.split(","))


def test_text_only_is_send_message(fake):
    result = TelegramConnector().publish(request(text="Hello channel"))
    assert fake.calls("POST", rf"/bot{FakeTelegram.TOKEN}/sendMessage")[0].json() == {
        "chat_id": "@atelier_channel", "text": "Hello channel"}
    assert fake.messages[int(result.external_id)]["text"] == "Hello channel"


def test_priced_post_is_paid_media_when_the_account_allows_it(fake, tmp_path):
    acct = account(paid_media=True, stars_per_unit=50)
    result = TelegramConnector().publish(request(media=(jpeg(tmp_path, "p.jpg"),), rating="explicit", acct=acct,
                                                 price_minor=500))
    message = fake.messages[int(result.external_id)]
    assert message["paid_media"]["star_count"] == 250
    assert message["input"][0]["type"] == "photo" and message["input"][0]["media"] == "attach://file0"
    assert message["caption"] == "New set is up"


def test_price_is_ignored_where_paid_media_is_off(fake, tmp_path):
    TelegramConnector().publish(request(media=(jpeg(tmp_path, "p.jpg"),), price_minor=500))
    assert fake.calls("POST", rf"/bot{FakeTelegram.TOKEN}/sendPhoto")
    assert not fake.calls("POST", rf"/bot{FakeTelegram.TOKEN}/sendPaidMedia")


def test_flood_control_wait_comes_from_the_body(fake):
    fake.fail_next("POST", r"/bot.*/sendMessage",
                   tg_error(429, "Too Many Requests: retry after 17", retry_after=17))
    with pytest.raises(TransientError) as caught:
        TelegramConnector().publish(request())
    assert caught.value.retry_after == 17


def test_server_errors_on_send(fake):
    fake.fail_next("POST", r"/bot.*/sendMessage", tg_error(500, "Internal Server Error"))
    with pytest.raises(UnknownOutcome):
        TelegramConnector().publish(request())
    fake.fail_next("POST", r"/bot.*/sendMessage", tg_error(502, "Bad Gateway"))
    with pytest.raises(TransientError):
        TelegramConnector().publish(request())


def test_read_timeout_on_send_is_unknown_outcome(fake):
    fake.fail_next("POST", r"/bot.*/sendMessage", Reply(200, {"ok": True}, delay=1.6))
    with pytest.raises(UnknownOutcome):
        TelegramConnector().publish(request())


def test_revoked_bot_token_is_auth_error_without_leaking_it(fake):
    with pytest.raises(AuthError) as caught:
        TelegramConnector().publish(request(acct=account(token="999:revoked-token")))
    assert "revoked-token" not in str(caught.value)


def test_unknown_channel_is_permanent(fake):
    with pytest.raises(PermanentError, match="chat not found"):
        TelegramConnector().publish(request(acct=account(chat_id="@elsewhere")))


def test_validation(tmp_path):
    connector = TelegramConnector()
    photo = MediaItem(path="x.jpg", mime="image/jpeg", size=1000)
    assert connector.validate(request(media=(photo,))) == []
    too_many = connector.validate(request(text="x" * 1025, media=(photo,) * 11))
    assert any("1024" in p for p in too_many) and any("11 media" in p for p in too_many)
    assert any("4096" in p for p in connector.validate(request(text="x" * 4097)))
    no_chat = AccountRef(id=1, platform="telegram", handle="", external_id="", options={}, credentials={})
    assert any("chat_id" in p for p in connector.validate(request(acct=no_chat)))
    unpriced = connector.validate(request(media=(photo,), acct=account(paid_media=True), price_minor=500))
    assert any("Stars" in p for p in unpriced)
    big_photo = MediaItem(path="x.jpg", mime="image/jpeg", size=11 * 1024 * 1024)
    assert any("10 MB" in p for p in connector.validate(request(media=(big_photo,))))


def test_no_lookup_metrics_or_refresh(fake):
    connector = TelegramConnector()
    assert connector.lookup(request()) is None
    assert connector.fetch_metrics(account(), "5") == {}
    assert connector.refresh(account()) is None


def test_unpublish_deletes_every_message_of_the_post(fake, tmp_path):
    items = (jpeg(tmp_path, "a.jpg"), jpeg(tmp_path, "b.jpg"))
    result = TelegramConnector().publish(request(media=items))
    ids = [int(i) for i in result.external_id.split(",")]

    assert TelegramConnector().unpublish(account(), result.external_id) is True
    assert fake.calls("POST", r"/bot.*/deleteMessages")[0].json()["message_ids"] == ids
    assert not any(i in fake.messages for i in ids)


def test_unpublish_reports_a_message_telegram_will_not_delete(fake):
    result = TelegramConnector().publish(request())
    fake.undeletable.add(int(result.external_id))
    assert TelegramConnector().unpublish(account(), result.external_id) is False
