"""The Telegram receiver: nothing is stored unless the delivery carries the secret given to setWebhook; an
update is stored once however often Telegram re-sends it; a fan appears when they press Start."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import AuditEvent
from analytics import ingest
from analytics.models import Fan, InboundEvent, WebhookReceiver
from inbox.admin_telegram import ReceiverAdmin
from inbox.channels.telegram import ALLOWED_UPDATES
from inbox.models import Conversation, Message
from inbox.webhooks import register_telegram_webhook
from tests.inbox.conftest import Desk
from tests.inbox.telegram_fake import FakeBotApi, Updates, connect, deliver, open_receiver, running_bot
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

SAM = Updates.user(424242, "sam_fan", "Sam", "Rivers")


@dataclass
class Bot:
    api: FakeBotApi
    receiver: WebhookReceiver
    secret: str
    url: str
    desk: Desk


@pytest.fixture
def bot(desk, settings, eager_celery) -> Iterator[Bot]:
    with running_bot(settings) as api:
        connect(desk.telegram)
        api.add_fan(SAM["id"], SAM["username"])
        receiver, secret, url = open_receiver(desk.telegram)
        yield Bot(api, receiver, secret, url, desk)


def nothing_stored() -> None:
    assert InboundEvent.objects.count() == 0
    assert Fan.objects.count() == 0
    assert WebhookReceiver.objects.filter(last_event_at__isnull=False).count() == 0


def wrong_secrets(secret: str) -> dict[str, str | None]:
    return {
        "missing": None,
        "empty": "",
        "wrong": "x" * len(secret),
        "wrong case": secret.swapcase() if secret.swapcase() != secret else secret + "A",
        "prefix": secret[:-1],
        "longer": secret + "0",
        "padded": f" {secret} ",
        "non-ascii": secret[:-1] + "é",
    }


@pytest.mark.parametrize("case", ["missing", "empty", "wrong", "wrong case", "prefix", "longer", "padded",
                                  "non-ascii"])
def test_a_delivery_without_the_exact_secret_is_refused_and_stores_nothing(client, bot, case,
                                                                         django_capture_on_commit_callbacks):
    secret = wrong_secrets(bot.secret)[case]
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, bot.url, Updates().message(SAM, "/start"), secret)
    assert response.status_code == 401
    nothing_stored()


def test_another_bots_secret_does_not_open_this_receiver(client, bot, desk):
    other = PlatformAccountFactory(creator=desk.creator, platform="telegram", handle="other_bot")
    _, other_secret, _ = open_receiver(other)
    assert deliver(client, bot.url, Updates().message(SAM, "hi"), other_secret).status_code == 401
    nothing_stored()


def test_the_secret_is_compared_in_constant_time(client, bot, monkeypatch):
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert deliver(client, bot.url, Updates().message(SAM, "hi"), "guess").status_code == 401
    assert seen == [(b"guess", bot.secret.encode())]


@pytest.mark.parametrize("raw, status", [
    (b"not json", 400), (b"\xff\xfe", 400), (b"[1, 2]", 400), (b'"text"', 400), (b"{}", 400),
    (b'{"update_id": "12"}', 400), (b'{"update_id": true}', 400),
])
def test_a_body_that_is_not_an_update_is_refused(client, bot, raw, status):
    assert deliver(client, bot.url, None, bot.secret, raw=raw).status_code == status
    nothing_stored()


def test_unknown_receivers_and_other_platforms_tokens_are_not_found(client, bot, desk):
    fanvue_receiver, fanvue_secret = ingest.create_receiver(desk.fanvue)
    update = Updates().message(SAM, "hi")
    fanvue_path = reverse("inbox_telegram_webhook", kwargs={"token": fanvue_receiver.token})
    assert deliver(client, fanvue_path, update, fanvue_secret).status_code == 404
    unknown = reverse("inbox_telegram_webhook", kwargs={"token": "no-such-token"})
    assert deliver(client, unknown, update, bot.secret).status_code == 404
    assert client.get(bot.url, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=bot.secret).status_code == 405
    nothing_stored()


def test_start_makes_the_fan_and_the_conversation_and_a_redelivery_is_stored_once(
        client, bot, django_capture_on_commit_callbacks):
    update = Updates().message(SAM, "/start")
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(client, bot.url, update, bot.secret)
    assert first.status_code == 200 and first.json() == {"status": "accepted"}

    fan = Fan.objects.get()
    assert (fan.platform, fan.external_id, fan.handle, fan.creator) == ("telegram", "424242", "sam_fan",
                                                                         bot.desk.creator)
    conversation = Conversation.objects.get()
    assert (conversation.account, conversation.external_id) == (bot.desk.telegram, "424242")
    assert conversation.waiting_since is not None and conversation.unread_count == 1
    start = Message.objects.get()
    message_id = update["message"]["message_id"]
    assert (start.direction, start.text, start.external_id) == ("in", "/start", f"424242:{message_id}")
    event = InboundEvent.objects.get()
    assert (event.kind, event.event_key, event.error) == ("telegram.update", f"update:{update['update_id']}", "")
    assert event.processed_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        again = deliver(client, bot.url, update, bot.secret)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_a_fans_message_lands_in_their_conversation(client, bot, django_capture_on_commit_callbacks):
    updates = Updates()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, bot.url, updates.message(SAM, "/start"), bot.secret)
        deliver(client, bot.url, updates.message(SAM, "Loved the new set"), bot.secret)
    assert list(Message.objects.values_list("text", flat=True)) == ["/start", "Loved the new set"]
    assert Conversation.objects.get().unread_count == 2


def test_groups_channels_and_bots_are_not_fans(client, bot, django_capture_on_commit_callbacks):
    updates = Updates()
    group = updates.message(SAM, "hello group")
    group["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Fans"}
    other_bot = updates.message({"id": 55, "is_bot": True, "first_name": "Spam"}, "/start")
    edit = updates.wrap(edited_message=updates.message(SAM, "edited")["message"])
    with django_capture_on_commit_callbacks(execute=True):
        for update in (group, other_bot, edit):
            assert deliver(client, bot.url, update, bot.secret).status_code == 200
    assert Fan.objects.count() == 0 and Message.objects.count() == 0
    assert InboundEvent.objects.filter(processed_at__isnull=False, error="").count() == 3


def test_registering_the_webhook_gives_telegram_the_receivers_secret(bot):
    url = register_telegram_webhook(bot.receiver)
    assert url == f"https://atelier.example{bot.url}"
    assert bot.api.webhook == {"url": url, "secret_token": bot.secret, "allowed_updates": list(ALLOWED_UPDATES)}
    assert AuditEvent.objects.filter(action="inbox.telegram_webhook_registered").exists()
    assert not AuditEvent.objects.filter(changes__icontains=bot.secret).exists()


def test_a_secret_telegram_would_refuse_is_refused_here_in_words(bot):
    ingest.rotate_receiver_secret(bot.receiver, secret="has spaces and punctuation!")
    with pytest.raises(Exception, match="rotate"):
        register_telegram_webhook(bot.receiver)
    assert bot.api.webhook == {}


def test_the_receiver_admin_registers_telegram_bots(admin_client, bot, desk):
    assert isinstance(admin.site._registry[WebhookReceiver], ReceiverAdmin)
    fanvue_receiver, _ = ingest.create_receiver(desk.fanvue)
    response = admin_client.post(reverse("admin:analytics_webhookreceiver_changelist"),
                                 {"action": "register_with_telegram",
                                  "_selected_action": [bot.receiver.pk, fanvue_receiver.pk]}, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("now sends" in m for m in shown) and any("not a Telegram bot" in m for m in shown)
    assert bot.api.webhook["secret_token"] == bot.secret
    listing = admin_client.get(reverse("admin:analytics_webhookreceiver_changelist"))
    assert bot.url in listing.content.decode()


def test_the_receivers_page_has_a_register_button_that_asks_first(admin_client, bot, desk):
    page = reverse("admin:analytics_webhookreceiver_change", args=[bot.receiver.pk])
    button = reverse("admin:analytics_webhookreceiver_register_detail", args=[bot.receiver.pk])
    assert button in admin_client.get(page).content.decode()
    assert admin_client.get(button).status_code == 200 and bot.api.webhook == {}
    assert admin_client.post(button).status_code == 302
    assert bot.api.webhook["secret_token"] == bot.secret
    fanvue_receiver, _ = ingest.create_receiver(desk.fanvue)
    fanvue_page = reverse("admin:analytics_webhookreceiver_change", args=[fanvue_receiver.pk])
    assert "register-telegram" not in admin_client.get(fanvue_page).content.decode()
    fanvue_button = reverse("admin:analytics_webhookreceiver_register_detail", args=[fanvue_receiver.pk])
    assert admin_client.post(fanvue_button).status_code == 404


def _odd_updates(updates: Updates) -> list[dict]:
    def message(**changes):
        update = updates.message(SAM, "hi")
        update["message"].update(changes)
        return update

    return [
        message(chat={"id": "x" * 500, "type": "private"}), message(chat={"type": "private"}),
        message(message_id="7"), message(date=10**20), message(date="yesterday"), message(text={"a": 1}),
        message(**{"from": {"id": True}}), message(**{"from": "sam"}), message(chat="private"),
        message(successful_payment={"currency": "XTR", "total_amount": "40", "telegram_payment_charge_id": "c"}),
        message(successful_payment={"currency": "€€", "total_amount": 40, "telegram_payment_charge_id": "c1"}),
        message(successful_payment={"currency": "XTR", "total_amount": 40, "telegram_payment_charge_id": "c" * 300}),
        updates.wrap(purchased_paid_media={"from": SAM, "paid_media_payload": "msg:" + "9" * 40}),
        updates.wrap(purchased_paid_media={"from": SAM, "paid_media_payload": "msg:²"}),
        updates.wrap(purchased_paid_media={"from": SAM, "paid_media_payload": {"x": 1}}),
        updates.wrap(purchased_paid_media="bought"), updates.wrap(pre_checkout_query={"id": "q"}),
        updates.wrap(pre_checkout_query={"id": "q2", "from": SAM, "total_amount": True, "invoice_payload": "msg:1"}),
        updates.wrap(message=None), updates.wrap(unknown_kind={"a": 1}),
    ]


def test_odd_but_authentic_updates_are_answered_and_never_crash_the_worker(client, bot,
                                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for update in _odd_updates(Updates()):
            assert deliver(client, bot.url, update, bot.secret).status_code == 200
    events = InboundEvent.objects.all()
    assert events.count() == len(_odd_updates(Updates()))
    # Each was either read (and written or ignored) or left with its error for a person: none half-done.
    assert all(e.processed_at is not None or e.error for e in events)
    assert not Message.objects.filter(text__startswith="{").exists()


def test_only_the_creators_managers_can_register_their_bot(client, people, settings):
    account = PlatformAccountFactory(creator=people["a"], platform="telegram", handle="a_bot")
    connect(account)
    receiver, secret, _ = open_receiver(account)
    button = reverse("admin:analytics_webhookreceiver_register_detail", args=[receiver.pk])
    with running_bot(settings) as api:
        for outsider, status in ((people["charlie"], 404), (people["bob"], 403)):
            client.force_login(outsider)
            assert client.post(button).status_code == status
            client.post(reverse("admin:analytics_webhookreceiver_changelist"),
                        {"action": "register_with_telegram", "_selected_action": [receiver.pk]})
        assert api.webhook == {}
        client.force_login(people["alice"])
        assert client.post(button).status_code == 302
        assert api.webhook["secret_token"] == secret
